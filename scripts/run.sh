#!/usr/bin/env bash
# Builds ecsimage and serves it on its embedded default: SQLite file
# ./data/ecsimage.db, 127.0.0.1:50051, a demo account whose token is kept in
# ./data/ecsimage.db.token and printed, with ready-to-paste grpcurl commands.
# Extra arguments go to `ecsimage serve` (e.g. --simulation-control).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target ecsimage
mkdir -p data
exec build/service/ecsimage serve --db data/ecsimage.db "$@"
