#!/bin/bash
# Client tests: the same story in Python, Go and Node, plus a reflection-only
# (grpcurl-like) client, against a real `ecsimage serve --simulation-control`.
#
#   scripts/clients_test.sh [--only python|go|node|reflection]... [--no-install] [ECSIMAGE_BIN]
#
# Installs what a fresh Debian 12 lacks (apt packages, `npm ci` in the node
# directories), starts the server on a fresh database and a free loopback
# port, creates two accounts and runs every story. Each prints one line per
# check ("ok - ..." / "FAIL - ..."); a story that dies counts as one failure.
# Ends with "N passed, M failed"; exits non-zero on any failure.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
# shellcheck source=../tests/clients/lib.sh
source "$repo/tests/clients/lib.sh"

only=()
install=1
bin_arg=""
while (($#)); do
  case "$1" in
    --only) only+=("$2"); shift 2 ;;
    --no-install) install=0; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) bin_arg="$1"; shift ;;
  esac
done
((${#only[@]})) || only=(python go node reflection)
want() { local x; for x in "${only[@]}"; do [[ "$x" == "$1" ]] && return 0; done; return 1; }

APT_PACKAGES=(
  protobuf-compiler protobuf-compiler-grpc python3-grpcio python3-protobuf
  golang-github-gogo-googleapis-dev
  golang-go protoc-gen-go protoc-gen-go-grpc golang-google-grpc-dev
  golang-google-genproto-dev golang-github-golang-protobuf-1-5-dev golang-google-protobuf-dev
)

install_deps() {
  local missing=() p
  # Node may come from elsewhere (a newer nodejs bundles npm): ask for the
  # Debian packages only when the commands are missing.
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "# apt-get install ${missing[*]}"
    local sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null ||
      { echo "apt-get install failed" >&2; return 1; }
  fi
  local d
  for d in "$repo/clients/node" "$repo/tests/clients/reflection"; do
    if [[ ! -d "$d/node_modules" || "$d/package-lock.json" -nt "$d/node_modules/.package-lock.json" ]]; then
      echo "# npm ci in ${d#$repo/}"
      (cd "$d" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || { echo "npm ci failed in $d" >&2; return 1; }
    fi
  done
}

if ((install)); then install_deps || exit 1; fi
find_ecsimage "$bin_arg" || exit 1

passed=0
failed=0
# run_story NAME CMD...: runs CMD, echoes its output, counts its checks.
run_story() {
  local name="$1"; shift
  local out rc p f
  echo "## $name"
  out="$("$@" 2>&1)"; rc=$?
  printf '%s\n' "$out" | sed "s/^/[$name] /"
  p=$(printf '%s\n' "$out" | grep -c '^ok - ')
  f=$(printf '%s\n' "$out" | grep -c '^FAIL - ')
  if ((rc != 0 && f == 0)); then
    echo "[$name] FAIL - exited $rc without a failed check"
    f=1
  fi
  passed=$((passed + p)); failed=$((failed + f))
}

trap stop_server EXIT
start_server || exit 1
echo "# ecsimage serve on $ECSIMAGE_TARGET ($ECSIMAGE_BIN)"
read -r acct_a tok_a < <(create_account story-a) || { echo "account create failed" >&2; exit 1; }
read -r acct_b tok_b < <(create_account story-b) || { echo "account create failed" >&2; exit 1; }
if [[ -z "${tok_a:-}" || -z "${tok_b:-}" ]]; then echo "account create printed no token" >&2; exit 1; fi
export ECSIMAGE_TOKEN="$tok_a" ECSIMAGE_TOKEN2="$tok_b" ECSIMAGE_ACCOUNT2="$acct_b"
echo "# accounts: A=$acct_a B=$acct_b"

if want python; then
  run_story python /usr/bin/python3 "$repo/clients/python/example.py"
fi
if want go; then
  run_story go "$repo/clients/go/run.sh" example
  # go test: unit tests of the decoding plus the story as a Go test.
  run_story go-test bash -c '"$1" test -v 2>&1 | sed -e "s/^--- PASS: \(.*\)/ok - go test \1/" -e "s/^--- FAIL: \(.*\)/FAIL - go test \1/"; exit "${PIPESTATUS[0]}"' _ "$repo/clients/go/run.sh"
fi
if want node; then
  run_story node node "$repo/clients/node/example.js"
fi
if want reflection; then
  run_story reflection node "$repo/tests/clients/reflection/test.js"
fi

stop_server
trap - EXIT
echo "$passed passed, $failed failed"
((failed == 0 && passed > 0))
