#!/usr/bin/env bash
# The filesystem backend (data-plane.md), bounded for CI (about 2-3 min on
# 2 cores):
#   unit    backend_test: the seam on both backends, key/bucket rules, format
#           recognition, call-time input checks, chunked copies (resume,
#           sparse, injected ENOSPC), O_DIRECT/page-cache reads and writes,
#           the orphan collector
#   e2e     tests/backend/backend_e2e_test.py through the public API with the
#           real binary: RAW and QCOW2 round trips (1 byte .. 2 GiB sparse),
#           hostile input refused at call time with its ECS code, missing
#           data (UnAvailable), another database refused, cancel mid-copy,
#           SIGKILL mid-copy/import/export resumes, a full tmpfs, orphans
#   bench   tests/backend/copy_bench.py: a 256 MiB copy beside cp + sync,
#           the stored image cold then warm (figures only, never a failure
#           on speed)
#
#   scripts/backend_check.sh BUILD_DIR
#   BACKEND_LONG=1 scripts/backend_check.sh BUILD_DIR   (adds an 8 GiB sparse
#       round trip; the bench copies 1 GiB)
# Figures: BUILD_DIR/backend/figures.jsonl.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${1:-$ROOT/build}
BUILD=$(cd "$BUILD" && pwd) || { echo "no build dir $1" >&2; exit 1; }
PY=/usr/bin/python3  # Debian's grpcio/protobuf load only here
LONG=${BACKEND_LONG:-0}
mkdir -p "$BUILD/backend"
FIG="$BUILD/backend/figures.jsonl"
fail=0

echo "-- unit"
"$BUILD/tests/backend_test" --gtest_brief=1 || fail=1

echo "-- e2e"
E2E_ARGS=(--build-dir "$BUILD" --figures "$FIG")
[ "$LONG" = 1 ] && E2E_ARGS+=(--long)
timeout 900 "$PY" tests/backend/backend_e2e_test.py "${E2E_ARGS[@]}" || fail=1

echo "-- bench"
SIZE=256
[ "$LONG" = 1 ] && SIZE=1024
timeout 600 "$PY" tests/backend/copy_bench.py --build-dir "$BUILD" \
  --size-mib "$SIZE" --figures "$FIG" || fail=1

exit $fail
