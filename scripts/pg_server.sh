#!/usr/bin/env bash
# A throwaway PostgreSQL 15 server for tests: a temp dir, a unix socket only
# (listen_addresses=''), run as an unprivileged user, durable settings
# (fsync, synchronous_commit and full_page_writes stay on).
#
#   scripts/pg_server.sh start DIR   # prints the server URI on stdout
#   scripts/pg_server.sh stop DIR    # pg_ctl stop -m fast, then removes DIR
#   scripts/pg_server.sh kill DIR    # pg_ctl stop -m immediate (a crash)
#   scripts/pg_server.sh restart DIR # start again after kill/stop (keeps data)
#
# Installs postgresql-15 when /usr/lib/postgresql/15/bin is missing. The
# URI is postgresql:///postgres?host=DIR&user=ecsimage_pg (trust auth on the
# socket, which only DIR's owner and root can reach).
set -euo pipefail
BIN=/usr/lib/postgresql/15/bin
cmd=${1:?start|stop|kill|restart}
dir=${2:?directory}
PGUSER_NAME=ecsimage_pg

as_user() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u "$PGUSER_NAME" -- "$@"
  else
    "$@"
  fi
}

ensure_installed() {
  if [ ! -x "$BIN/initdb" ]; then
    echo "pg_server: installing postgresql-15" >&2
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo=sudo
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql-15 >/dev/null
  fi
  if [ "$(id -u)" -eq 0 ] && ! id "$PGUSER_NAME" >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin "$PGUSER_NAME"
  fi
}

run_server() {
  as_user "$BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-k $dir -c listen_addresses='' -c fsync=on -c synchronous_commit=on -c full_page_writes=on -c max_connections=300 -c shared_buffers=128MB" \
    start >&2
}

case "$cmd" in
  start)
    ensure_installed
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown "$PGUSER_NAME" "$dir"
    chmod 700 "$dir"
    if [ "$(id -u)" -eq 0 ] && ! runuser -u "$PGUSER_NAME" -- test -x "$dir"; then
      echo "pg_server: $PGUSER_NAME cannot reach $dir (a parent directory is" \
        "closed to it, e.g. a 0700 mktemp dir): use a directory under /tmp" >&2
      exit 1
    fi
    as_user "$BIN/initdb" -D "$dir/data" -U "$PGUSER_NAME" -A trust \
      --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    run_server
    echo "postgresql:///postgres?host=$dir&user=$PGUSER_NAME"
    ;;
  restart)
    run_server
    ;;
  kill)
    as_user "$BIN/pg_ctl" -D "$dir/data" -m immediate stop >&2 || true
    ;;
  stop)
    if [ -d "$dir/data" ]; then
      as_user "$BIN/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
    fi
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start|stop|kill|restart DIR" >&2
    exit 2
    ;;
esac
