#!/usr/bin/env bash
# The ECS HTTP listener against the official Alibaba Cloud SDKs from npm
# (tests/ecs_http/: @alicloud/ecs20140526 v7 + @alicloud/openapi-core, and
# @alicloud/pop-core, pinned by the committed package-lock.json, `npm ci`),
# each test file on its own real `ecsimage serve --ecs-http-listen` on a
# temporary SQLite database. Bounded: about a minute, 5 minutes at most.
#
#   scripts/ecs_http_check.sh [BUILD_DIR]      (default: build)
#
# KEEP_TMP=1 keeps each server's directory (serve.log) for a look.
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$repo/build}"
build="$(cd "$build" 2>/dev/null && pwd)" || { echo "no build dir ${1:-$repo/build}" >&2; exit 1; }
bin="$build/service/ecsimage"
[ -x "$bin" ] || { echo "no binary at $bin (build first)" >&2; exit 1; }

missing=()
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if ((${#missing[@]})); then
  "$repo/scripts/install_deps.sh" "${missing[@]}" || exit 1
fi

cd "$repo/tests/ecs_http" || exit 1
npm ci --no-audit --no-fund --loglevel=error >/dev/null || { echo "npm ci failed" >&2; exit 1; }
ECSIMAGE_BIN="$bin" timeout 300 node --test \
  gateway.test.js sdk_v7.test.js sdk_pop.test.js
