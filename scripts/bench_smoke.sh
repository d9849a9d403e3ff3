#!/usr/bin/env bash
# A seconds-long run of the benchmark harness (small database, every
# scenario briefly, start-up of a real `ecsimage serve`), so that the harness
# cannot rot. Fails on any unexpected non-OK status, on a write whose effect
# is missing from the database, or on a harness error. Performance targets
# are NOT checked here (see BENCHMARKS.md for the real run).
#
#   scripts/bench_smoke.sh BUILD_DIR
set -euo pipefail
BUILD=${1:?usage: bench_smoke.sh BUILD_DIR}
BENCH=$BUILD/bench/ecsimage_bench
SERVER=$BUILD/service/ecsimage
for bin in "$BENCH" "$SERVER"; do
  if [ ! -x "$bin" ]; then
    echo "bench_smoke: $bin not built (configure with -DECSIMAGE_BUILD_BENCH=ON)" >&2
    exit 1
  fi
done
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ecsimage-bench-smoke.XXXXXX")
PGDIR=""
cleanup() {
  if [ -n "$PGDIR" ]; then
    "$(dirname "$0")/pg_server.sh" stop "$PGDIR" >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# Every scenario once (group commit, half-rate delete, single commit,
# start-up), against a 2k-image database.
# The server's default bounds (64 threads, half of them for calls) refuse
# part of a burst with Throttling; the bench raises them so that only real
# errors remain (BENCHMARKS.md says why).
"$BENCH" --scenario=suite --sizes=2000 --duration=0.3 --warmup=0.1 \
  --concurrency=16 --channels=2 --pool=1500 --startup_describes=20 \
  --server_max_threads=300 \
  --ecsimage="$SERVER" --workdir="$WORK" --json_out="$WORK/smoke.jsonl" \
  >"$WORK/stdout.jsonl" 2>"$WORK/stderr.txt" || {
  rc=$?
  cat "$WORK/stderr.txt" >&2
  echo "bench_smoke: suite failed (exit $rc)" >&2
  exit 1
}

# The single-scenario entry points, briefly.
for scenario in health describe "delete --group_commit=false" "delete --rate=200"; do
  # shellcheck disable=SC2086
  "$BENCH" --scenario=$scenario --images=300 --duration=0.2 --warmup=0 \
    --concurrency=8 --channels=2 --pool=400 --server_max_threads=300 \
    --workdir="$WORK" \
    >>"$WORK/stdout.jsonl" 2>"$WORK/stderr.txt" || {
    rc=$?
    cat "$WORK/stderr.txt" >&2
    echo "bench_smoke: --scenario=$scenario failed (exit $rc)" >&2
    exit 1
  }
done

# External mode, briefly: a real `ecsimage serve` (access log on) driven
# from the bench process, on a SQLite file and on a PostgreSQL database
# copied from it (a throwaway server, stopped on exit); a few hundred calls
# per phase, every write checked in the database afterwards.
PGDIR=$(mktemp -d "${TMPDIR:-/tmp}/ecsimage-bench-pg.XXXXXX")
rmdir "$PGDIR"
"$(dirname "$0")/pg_server.sh" start "$PGDIR" >"$WORK/pg_uri.txt" 2>"$WORK/pg_start.txt" || {
  cat "$WORK/pg_start.txt" >&2
  echo "bench_smoke: cannot start a throwaway PostgreSQL server" >&2
  exit 1
}
"$BENCH" --scenario=external --stores=sqlite,postgresql --pg_dir="$PGDIR" \
  --sizes=300 --duration=0.3 --warmup=0.1 --concurrency=8 --channels=2 \
  --pool=150 --accounts=1,8 --ecsimage="$SERVER" --workdir="$WORK" \
  >>"$WORK/stdout.jsonl" 2>"$WORK/stderr.txt" || {
  rc=$?
  cat "$WORK/stderr.txt" >&2
  echo "bench_smoke: --scenario=external failed (exit $rc)" >&2
  exit 1
}
"$(dirname "$0")/pg_server.sh" stop "$PGDIR" >/dev/null 2>&1
PGDIR=""

# Each phase must have made calls and reported no error; the harness exit
# code says the same, this checks the JSON it wrote.
python3 - "$WORK/stdout.jsonl" <<'PY'
import json, sys
want = {"health", "regions", "describe", "delete", "delete@half",
        "delete_direct", "cancel", "share", "copy", "delete_single",
        "delete_direct_single", "startup", "delete@rate",
        "external_health", "external_describe", "external_delete",
        "external_deletex8", "external_modify", "external_modifyx8",
        "external_create", "external_createx8", "external_copy",
        "external_cancel", "external_db_copy"}
stores = set()
seen = set()
bad = []
for line in open(sys.argv[1]):
    rec = json.loads(line)
    s = rec["scenario"]
    seen.add(s)
    if s in ("suite_summary", "external_summary", "external_db_copy"):
        continue
    if s.startswith("external_"):
        stores.add(rec["store"])
    if s == "startup":
        if rec["exit_code"] != 0 or rec["serving_s"] <= 0:
            bad.append(line)
        continue
    if rec["errors"] or rec["health_errors"] or not rec["verified"] or rec["calls"] <= 0:
        bad.append(line)
missing = want - seen
if stores != {"sqlite", "postgresql"}:
    bad.append("external stores seen: %s" % sorted(stores))
if missing or bad:
    print("bench_smoke: missing scenarios", sorted(missing), "bad lines", bad)
    sys.exit(1)
print("bench_smoke: ok,", len(seen), "scenarios")
PY
