# Sourced by scripts/clients_test.sh and scripts/readme_examples.sh: finds the
# ecsimage binary, starts `ecsimage serve --simulation-control` on a fresh
# database and a free loopback port, creates accounts, stops the server.

CLIENTS_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# find_ecsimage [PATH]: sets ECSIMAGE_BIN (argument, $ECSIMAGE_BIN, or a
# build directory of the repo).
find_ecsimage() {
  local c
  for c in "${1:-}" "${ECSIMAGE_BIN:-}" "$CLIENTS_REPO/build/service/ecsimage" \
           "$CLIENTS_REPO/build-clients/service/ecsimage" "$CLIENTS_REPO/build/ecsimage" \
           "$CLIENTS_REPO/build-clients/ecsimage"; do
    if [[ -n "$c" && -x "$c" && -f "$c" ]]; then ECSIMAGE_BIN="$(cd "$(dirname "$c")" && pwd)/$(basename "$c")"; export ECSIMAGE_BIN; return 0; fi
  done
  echo "ecsimage binary not found: pass it as an argument or set ECSIMAGE_BIN" >&2
  return 1
}

# start_server: sets SERVER_DIR, SERVER_DB, SERVER_PID, SERVER_LOG, ECSIMAGE_TARGET.
start_server() {
  SERVER_DIR="$(mktemp -d /tmp/ecsimage-clients.XXXXXX)"
  SERVER_DB="$SERVER_DIR/ecsimage.db"
  SERVER_LOG="$SERVER_DIR/server.log"
  "$ECSIMAGE_BIN" serve --db "$SERVER_DB" --listen 127.0.0.1:0 --simulation-control \
    --shutdown-grace-seconds 0 --shutdown-deadline-seconds 2 >"$SERVER_DIR/server.out" 2>"$SERVER_LOG" &
  SERVER_PID=$!
  local port="" i
  for i in $(seq 1 200); do
    port="$(grep -m1 '"msg":"started"' "$SERVER_LOG" 2>/dev/null | grep -o '"port":[0-9]*' | cut -d: -f2 || true)"
    [[ -n "$port" ]] && break
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then break; fi
    sleep 0.1
  done
  if [[ -z "$port" ]]; then
    echo "ecsimage serve did not start; its log:" >&2
    cat "$SERVER_LOG" "$SERVER_DIR/server.out" >&2
    return 1
  fi
  export ECSIMAGE_TARGET="127.0.0.1:$port"
}

# create_account NAME: prints "ACCOUNT_ID TOKEN".
create_account() {
  local json
  json="$("$ECSIMAGE_BIN" account create --db "$SERVER_DB" --name "$1")" || return 1
  node -e 'const j = JSON.parse(process.argv[1]); if (!j.account_id || !j.token) process.exit(1); console.log(j.account_id, j.token)' "$json"
}

stop_server() {
  if [[ -n "${SERVER_PID:-}" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID"
    local i
    for i in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$SERVER_PID" 2>/dev/null && kill -KILL "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
  [[ -n "${SERVER_DIR:-}" && -z "${KEEP_SERVER_DIR:-}" ]] && rm -rf "$SERVER_DIR"
  return 0
}
