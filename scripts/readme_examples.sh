#!/bin/bash
# Rewrites docs/calling.md from a live server: every RPC as a grpcurl command
# with the output it gives (produced by the reflection-only client
# tests/clients/reflection/grpcurl.js, which prints what grpcurl prints).
#
#   scripts/readme_examples.sh [--check] [ECSIMAGE_BIN]
#
# --check: fail (exit 1) if the committed doc no longer reproduces; ids,
# RequestIds and times are normalized before comparing.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
# shellcheck source=../tests/clients/lib.sh
source "$repo/tests/clients/lib.sh"

mode=()
bin_arg=""
for a in "$@"; do
  case "$a" in
    --check) mode=(--check) ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) bin_arg="$a" ;;
  esac
done

refl="$repo/tests/clients/reflection"
if [[ ! -d "$refl/node_modules" || "$refl/package-lock.json" -nt "$refl/node_modules/.package-lock.json" ]]; then
  (cd "$refl" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || { echo "npm ci failed in $refl" >&2; exit 1; }
fi
find_ecsimage "$bin_arg" || exit 1
trap stop_server EXIT
start_server || exit 1
read -r acct_a tok_a < <(create_account alice) || exit 1
read -r acct_b tok_b < <(create_account bob) || exit 1
export ECSIMAGE_TOKEN="$tok_a" ECSIMAGE_TOKEN2="$tok_b" ECSIMAGE_ACCOUNT2="$acct_b"
node "$repo/scripts/readme_examples.js" "${mode[@]}"
