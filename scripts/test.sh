#!/usr/bin/env bash
# Installs what a fresh Debian 12 lacks, builds everything and runs every test
# suite. Long checks run in a bounded mode here; see README for long modes.
# Env: ECSIMAGE_SKIP=<space-separated stage names> skips stages.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${ECSIMAGE_BUILD_DIR:-$ROOT/build}
scripts/install_deps.sh || exit 1
# ccache (when present) keyed on paths relative to the checkout, so another
# clone of the repository on this machine reuses the cache.
export CCACHE_BASEDIR="$ROOT" CCACHE_NOHASHDIR=1

passed=0
failed=0
failed_names=()
stage() {  # stage NAME COMMAND...
  local name=$1
  shift
  case " ${ECSIMAGE_SKIP:-} " in *" $name "*) echo "== $name: skipped"; return 0 ;; esac
  echo "== $name: $*"
  local start=$SECONDS
  if "$@"; then
    passed=$((passed + 1))
    echo "== $name: ok ($((SECONDS - start)) s)"
  else
    failed=$((failed + 1))
    failed_names+=("$name")
    echo "== $name: FAILED ($((SECONDS - start)) s)"
    return 1
  fi
}

build() {
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null &&
    cmake --build "$BUILD" -j"$(nproc)"
}
unit() { (cd "$BUILD" && ctest --output-on-failure -j1); }

stage build build || { echo "0 passed, 1 failed"; exit 1; }
# A throwaway PostgreSQL server for every suite that runs on both stores;
# stopped (and its directory removed) however the script ends.
PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/ecsimage-pg.XXXXXX")
rmdir "$PG_DIR"
trap 'scripts/pg_server.sh stop "$PG_DIR" >/dev/null 2>&1' EXIT
if ECSIMAGE_TEST_PG_URI=$(scripts/pg_server.sh start "$PG_DIR"); then
  export ECSIMAGE_TEST_PG_URI
else
  echo "== could not start PostgreSQL: the postgres suites will fail" >&2
fi
stage unit unit || true
# Further suites, each given the build dir (the clients get the binary).
BIN=$BUILD/service/ecsimage
[ -x scripts/api_check.sh ] && { stage api_check scripts/api_check.sh || true; }
[ -x scripts/clients_test.sh ] && { stage clients scripts/clients_test.sh "$BIN" || true; }
[ -x scripts/ecs_http_check.sh ] && { stage ecs_http scripts/ecs_http_check.sh "$BUILD" || true; }
[ -x scripts/readme_examples.sh ] && { stage docs_examples scripts/readme_examples.sh --check "$BIN" || true; }
for s in deploy_check bench_smoke backend_check reliability_check sanitizers; do
  if [ -x "scripts/$s.sh" ]; then
    stage "$s" "scripts/$s.sh" "$BUILD" || true
  fi
done
# The container is built from the sources, not from $BUILD.
[ -x scripts/container_check.sh ] && { stage container_check scripts/container_check.sh || true; }

echo
[ ${#failed_names[@]} -gt 0 ] && echo "failed stages: ${failed_names[*]}"
echo "stages: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
