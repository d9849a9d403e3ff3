#!/usr/bin/env bash
# Bounded reliability checks (CI, about 10 min on 2 cores), see RELIABILITY.md:
#   crash       20 SIGKILL rounds under mixed write load
#   disk_full   database on a filesystem that fills up
#   vfs_faults  injected write/sync errors and power-cut rounds (C++
#               reliability_test: 200 rounds, 2000 in long mode), if built
#   hostile     garbage and malformed HTTP/2 on the port
#   integrity   the background integrity check: a corrupt file turns the
#               server NOT_SERVING and refuses writes; startup mode and
#               backup refuse it
#   db_copy     `ecsimage db copy` SQLite -> PostgreSQL, a server on the copy
#               answers as the original did
#   replicas    three replicas on one PostgreSQL: races across replicas, one
#               SIGKILLed under load, task takeover, PostgreSQL crashed
#   overload    thread bound, throttling, oversized input, sustained RSS,
#               bad-token flood
#   fuzz        image_domain_fuzzer for FUZZ_SECONDS (default 60) in the
#               clang ASan build shared with scripts/sanitizers.sh
#
#   scripts/reliability_check.sh BUILD_DIR
#   RELIABILITY_LONG=1 scripts/reliability_check.sh BUILD_DIR   (200 rounds,
#       10 min sustained load, 30 min fuzzing)
# Env: RELIABILITY_SKIP="<names>", FUZZ_SECONDS, CRASH_ROUNDS, JOBS (2),
# ECSIMAGE_ASAN_BUILD_DIR. Figures: BUILD_DIR/reliability/figures.jsonl.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${1:-$ROOT/build}
BUILD=$(cd "$BUILD" && pwd) || { echo "no build dir $1" >&2; exit 1; }
PY=/usr/bin/python3  # Debian's grpcio/protobuf load only here
LONG=${RELIABILITY_LONG:-0}
JOBS=${JOBS:-2}
ASAN_DIR=${ECSIMAGE_ASAN_BUILD_DIR:-$(dirname "$BUILD")/build-asan}
if [ "$LONG" = 1 ]; then
  ROUNDS=${CRASH_ROUNDS:-200}
  export ECSIMAGE_POWER_CUT_ROUNDS=${ECSIMAGE_POWER_CUT_ROUNDS:-2000}
  FUZZ_SECONDS=${FUZZ_SECONDS:-1800}
  SUSTAIN=600
else
  ROUNDS=${CRASH_ROUNDS:-20}
  FUZZ_SECONDS=${FUZZ_SECONDS:-60}
  SUSTAIN=30
fi
OUT=$BUILD/reliability
mkdir -p "$OUT"
FIG=$OUT/figures.jsonl
: >"$FIG"
BIN=$BUILD/service/ecsimage
if [ ! -x "$BIN" ]; then
  echo "reliability_check: $BIN missing (build the ecsimage target)" >&2
  exit 1
fi
if ! "$PY" -c 'import grpc, google.protobuf' 2>/dev/null; then
  echo "reliability_check: $PY lacks grpc: apt-get install -y python3-grpcio python3-protobuf" >&2
  exit 1
fi

failed=()
passed=0
step() {  # step NAME COMMAND...
  local name=$1
  shift
  case " ${RELIABILITY_SKIP:-} " in *" $name "*) echo "-- $name: skipped"; return 0 ;; esac
  echo "-- $name: $*"
  local t=$SECONDS
  if "$@"; then
    passed=$((passed + 1))
    echo "-- $name: ok ($((SECONDS - t)) s)"
  else
    failed+=("$name")
    echo "-- $name: FAILED ($((SECONDS - t)) s)"
  fi
}

common=(--binary "$BIN" --figures "$FIG")
step crash "$PY" tests/reliability/crash_test.py "${common[@]}" --rounds "$ROUNDS"
step disk_full "$PY" tests/reliability/disk_full_test.py "${common[@]}"
if [ -x "$BUILD/tests/reliability/reliability_test" ]; then
  step vfs_faults "$BUILD/tests/reliability/reliability_test" --gtest_brief=1
else
  echo "-- vfs_faults: not in $BUILD (runs under ASan in scripts/sanitizers.sh)"
fi
step hostile "$PY" tests/reliability/hostile_http2_test.py "${common[@]}"
step integrity "$PY" tests/reliability/integrity_test.py "${common[@]}"
# SQLite -> PostgreSQL with `ecsimage db copy`, then three replicas on one
# PostgreSQL (each test starts its own throwaway server).
step db_copy "$PY" tests/reliability/db_copy_test.py "${common[@]}"
if [ "$LONG" = 1 ]; then
  step replicas "$PY" tests/reliability/replicas_test.py "${common[@]}" \
    --rounds 200 --seconds 60
else
  step replicas "$PY" tests/reliability/replicas_test.py "${common[@]}"
fi
step overload "$PY" tests/reliability/overload_test.py "${common[@]}" \
  --seconds "$SUSTAIN"

fuzz() {
  if ! command -v clang++-14 >/dev/null; then
    echo "fuzz: clang++-14 missing: apt-get install -y clang-14 libclang-rt-14-dev" >&2
    return 1
  fi
  # Builds (or reuses) the ASan+UBSan+fuzzer build of scripts/sanitizers.sh.
  if [ ! -x "$ASAN_DIR/fuzz/image_domain_fuzzer" ] ||
    [ -n "$(find "$ROOT/fuzz" "$ROOT/service/domain" "$ROOT/storage" \
      "$ROOT/migrations" -newer "$ASAN_DIR/fuzz/image_domain_fuzzer" \
      -type f -print -quit)" ]; then
    local flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
    flags+=" -fno-omit-frame-pointer -fsanitize=fuzzer-no-link"
    cmake -S "$ROOT" -B "$ASAN_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
      -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_C_FLAGS="$flags" \
      -DCMAKE_EXE_LINKER_FLAGS="$flags" \
      -DCMAKE_PROJECT_INCLUDE="$ROOT/tests/reliability/project_hook.cmake" \
      -DECSIMAGE_BUILD_BENCH=OFF -DECSIMAGE_FUZZ=ON >"$OUT/fuzz_configure.log" 2>&1 ||
      { cat "$OUT/fuzz_configure.log"; return 1; }
    cmake --build "$ASAN_DIR" -j"$JOBS" --target image_domain_fuzzer \
      >"$OUT/fuzz_build.log" 2>&1 || { tail -40 "$OUT/fuzz_build.log"; return 1; }
  fi
  local corpus=$OUT/fuzz_corpus
  rm -rf "$corpus" "$OUT/fuzz_artifacts"
  mkdir -p "$corpus" "$OUT/fuzz_artifacts"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$ASAN_DIR/fuzz/image_domain_fuzzer" -max_total_time="$FUZZ_SECONDS" \
    -dict="$ROOT/fuzz/image_domain.dict" -rss_limit_mb=2048 -timeout=30 -max_len=4096 -len_control=0 \
    -print_final_stats=1 -artifact_prefix="$OUT/fuzz_artifacts/" \
    "$corpus" "$ROOT/fuzz/corpus/image_domain" >"$OUT/fuzz.log" 2>&1
  local rc=$?
  grep -E "^stat::|INVARIANT|ERROR|SUMMARY" "$OUT/fuzz.log" | head -20
  local execs peak
  execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$OUT/fuzz.log")
  peak=$(awk '/stat::peak_rss_mb/ {print $2}' "$OUT/fuzz.log")
  printf '{"test": "fuzz", "seconds": %s, "executions": %s, "peak_rss_mb": %s, "corpus_units": %s, "rc": %s}\n' \
    "$FUZZ_SECONDS" "${execs:-0}" "${peak:-0}" \
    "$(find "$corpus" -type f | wc -l)" "$rc" >>"$FIG"
  if [ $rc -ne 0 ]; then
    echo "fuzz: crash input(s) in $OUT/fuzz_artifacts; log $OUT/fuzz.log"
    tail -40 "$OUT/fuzz.log"
  fi
  return $rc
}
step fuzz fuzz

echo "-- figures ($FIG):"
cat "$FIG"
if [ ${#failed[@]} -gt 0 ]; then
  echo "reliability_check: FAILED: ${failed[*]}"
  exit 1
fi
echo "reliability_check: $passed checks passed"
