#!/usr/bin/env bash
# Builds the test suite with ASan+UBSan and with TSan (clang-14, separate
# build dirs beside BUILD_DIR) and runs it under ctest.
#
#   scripts/sanitizers.sh BUILD_DIR           bounded (CI): every test under
#                                             ASan+UBSan (both stores);
#                                             storage_test, storage_sqlite_test,
#                                             domain_test and reliability_test
#                                             under TSan (SQLite)
#   RELIABILITY_LONG=1 scripts/sanitizers.sh BUILD_DIR
#                                             long: every test under both
#
# Env: ECSIMAGE_ASAN_BUILD_DIR, ECSIMAGE_TSAN_BUILD_DIR (default
# $(dirname BUILD_DIR)/build-asan, build-tsan), SANITIZERS=asan|tsan|"asan tsan",
# JOBS (default 2). The ASan dir also builds fuzz/ (it is the build
# scripts/reliability_check.sh fuzzes with), so the two scripts share it.
# TSan suppressions (system libraries only): tsan.supp.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${1:-$ROOT/build}
BUILD=$(cd "$(dirname "$BUILD")" 2>/dev/null && pwd)/$(basename "$BUILD")
PARENT=$(dirname "$BUILD")
ASAN_DIR=${ECSIMAGE_ASAN_BUILD_DIR:-$PARENT/build-asan}
TSAN_DIR=${ECSIMAGE_TSAN_BUILD_DIR:-$PARENT/build-tsan}
JOBS=${JOBS:-2}
WHICH=${SANITIZERS:-asan tsan}
LONG=${RELIABILITY_LONG:-0}
# Power-cut rounds of reliability_test (tests/reliability/power_cut_test.cc):
# fewer under the sanitizers' slowdown.
if [ "$LONG" = 1 ]; then
  export ECSIMAGE_POWER_CUT_ROUNDS=${ECSIMAGE_POWER_CUT_ROUNDS:-40}
else
  export ECSIMAGE_POWER_CUT_ROUNDS=${ECSIMAGE_POWER_CUT_ROUNDS:-5}
fi
CC=${CC_SAN:-clang-14}
CXX=${CXX_SAN:-clang++-14}

if ! command -v "$CXX" >/dev/null; then
  echo "sanitizers: $CXX missing: apt-get install -y clang-14 libclang-rt-14-dev" >&2
  exit 1
fi

# configure DIR FLAGS [extra cmake args...]
configure() {
  local dir=$1 flags=$2
  shift 2
  cmake -S "$ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX" \
    -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_C_FLAGS="$flags" \
    -DCMAKE_EXE_LINKER_FLAGS="$flags" \
    -DCMAKE_PROJECT_INCLUDE="$ROOT/tests/reliability/project_hook.cmake" \
    -DECSIMAGE_BUILD_BENCH=OFF "$@" >"$dir.configure.log" 2>&1 ||
    { cat "$dir.configure.log"; return 1; }
}

# Targets that exist in this tree (tests land over time).
targets_of() {
  local dir=$1
  shift
  local have
  have=$(cmake --build "$dir" --target help 2>/dev/null)
  for t in "$@"; do
    if grep -qE "^\.\.\. $t( |$)" <<<"$have"; then echo "$t"; fi
  done
}

failed=0
start=$SECONDS

if [[ " $WHICH " == *" asan "* ]]; then
  echo "== sanitizers: ASan+UBSan build in $ASAN_DIR"
  flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
  flags+=" -fno-omit-frame-pointer -fsanitize=fuzzer-no-link"
  mkdir -p "$ASAN_DIR"
  if configure "$ASAN_DIR" "$flags" -DECSIMAGE_FUZZ=ON; then
    # Everything: every ctest test of the tree (tests keep landing), the
    # binary grpc_test drives, and the fuzzer.
    if cmake --build "$ASAN_DIR" -j"$JOBS" >"$ASAN_DIR.build.log" 2>&1; then
      (
        cd "$ASAN_DIR" &&
          ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1 \
            UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
            LSAN_OPTIONS=suppressions=$ROOT/tests/reliability/lsan.supp \
            ctest --output-on-failure -j1 --timeout 1500
      ) || failed=1
    else
      tail -50 "$ASAN_DIR.build.log"
      echo "== sanitizers: ASan build FAILED (log $ASAN_DIR.build.log)"
      failed=1
    fi
  else
    failed=1
  fi
  echo "== sanitizers: ASan+UBSan done at $((SECONDS - start)) s"
fi

if [[ " $WHICH " == *" tsan "* ]]; then
  echo "== sanitizers: TSan build in $TSAN_DIR"
  mkdir -p "$TSAN_DIR"
  if configure "$TSAN_DIR" "-fsanitize=thread -fno-omit-frame-pointer"; then
    if [ "$LONG" = 1 ]; then
      mapfile -t tg < <(targets_of "$TSAN_DIR" ecsimage storage_test \
        storage_sqlite_test domain_test contract_test grpc_test \
        reliability_test)
      filter=()
    else
      mapfile -t tg < <(targets_of "$TSAN_DIR" storage_test \
        storage_sqlite_test domain_test reliability_test)
      filter=(-R '^(storage|storage_sqlite|domain|reliability)_test$')
    fi
    echo "targets: ${tg[*]}"
    if cmake --build "$TSAN_DIR" -j"$JOBS" --target "${tg[@]}" \
      >"$TSAN_DIR.build.log" 2>&1; then
      # TSan needs a low-entropy address space; setarch -R turns ASLR off
      # for the tests (kernels with 32 mmap_rnd_bits break it otherwise).
      (
        cd "$TSAN_DIR" &&
          TSAN_OPTIONS="suppressions=$ROOT/tsan.supp halt_on_error=1 second_deadlock_stack=1 history_size=4" \
            setarch "$(uname -m)" -R ctest --output-on-failure -j1 \
            --timeout 1500 "${filter[@]}"
      ) || failed=1
    else
      tail -50 "$TSAN_DIR.build.log"
      echo "== sanitizers: TSan build FAILED (log $TSAN_DIR.build.log)"
      failed=1
    fi
  else
    failed=1
  fi
  echo "== sanitizers: TSan done at $((SECONDS - start)) s"
fi

exit $failed
