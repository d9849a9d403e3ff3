#!/usr/bin/env bash
# The ECS HTTP listener against the official Alibaba Cloud SDKs from npm
# (tests/ecs_http/: @alicloud/ecs20140526 v7 + @alicloud/openapi-core, and
# @alicloud/pop-core, pinned by the committed package-lock.json, `npm ci`),
# each test file on its own real `ecsimage serve --ecs-http-listen` on a
# temporary SQLite database. Bounded: about a minute, 5 minutes at most.
#
#   scripts/ecs_http_check.sh [BUILD_DIR]      (default: build)
#
# Then the figures: server CPU per call of DescribeImages and DeleteImage
# over HTTP beside gRPC (tests/ecs_http/bench_cpu.js), 200 calls each;
# ECS_HTTP_BENCH_CALLS=5000 is the long mode, 0 skips it.
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
  gateway.test.js sdk_v7.test.js sdk_pop.test.js || exit 1
calls=${ECS_HTTP_BENCH_CALLS:-200}
if [ "$calls" -gt 0 ]; then
  echo "# server CPU per call, HTTP beside gRPC ($calls calls each)"
  ECSIMAGE_BIN="$bin" timeout 600 node bench_cpu.js "$calls" || exit 1
fi
