#!/bin/bash
# Client tests: the same story in Python, Go and Node, plus a reflection-only
# (grpcurl-like) client, against a real `ecsimage serve --simulation-control`.
# Each client is first packaged and installed the way its ecosystem does, and
# its story and unit tests run from the installed package, outside the repo:
#   python  pip wheel (offline, Debian's python) -> fresh venv -> mypy --strict
#           of a typed example -> story, example, unittest
#   go      regenerated stubs equal the committed ones, go vet, go test (unit +
#           story), the story as a program outside the repo importing the module
#   node    npm pack -> npm install of the tarball into a temp project ->
#           tsc --strict of a TypeScript example -> story, example, unit tests
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
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d'; exit 0 ;;
    *) bin_arg="$1"; shift ;;
  esac
done
((${#only[@]})) || only=(python go node reflection)
want() { local x; for x in "${only[@]}"; do [[ "$x" == "$1" ]] && return 0; done; return 1; }

APT_PACKAGES=(
  protobuf-compiler protobuf-compiler-grpc python3-grpcio python3-protobuf
  python3-setuptools python3-venv python3-pip python3-mypy openssl golang-github-gogo-googleapis-dev
  golang-github-google-uuid-dev
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

work="$(mktemp -d /tmp/ecsimage-clients-work.XXXXXX)"
trap 'stop_server; rm -rf "$work"' EXIT

# Python: the wheel, built offline by Debian's python from the checkout
# (build leftovers removed first, so the wheel holds only this build), into a
# fresh virtual environment that sees Debian's grpcio and protobuf.
python_install() {
  local py="$repo/clients/python"
  rm -rf "$py/build" "$py/src/ecsimage_client.egg-info"
  /usr/bin/python3 -m pip wheel --no-build-isolation --no-deps --no-index -q -w "$work/py/dist" "$py" &&
    rm -rf "$py/build" "$py/src/ecsimage_client.egg-info" &&
    /usr/bin/python3 -m venv --system-site-packages "$work/py/venv" &&
    "$work/py/venv/bin/python" -m pip install --no-index -q "$work/py/dist"/ecsimage_client-*.whl &&
    mkdir -p "$work/py/run" &&
    cp "$py/examples/story.py" "$py/examples/hello.py" "$py/tests/test_client.py" "$py/tests/types_bad.py" "$work/py/run/" &&
    echo "ok - python wheel $(cd "$work/py/dist" && ls ecsimage_client-*.whl) built and installed into a fresh venv"
}
# unittest -v lines -> ok/FAIL lines.
unittest_lines() {
  sed -E -e 's/^(test\S+) \((.*)\) \.\.\. ok$/ok - python unittest \1/' \
         -e 's/^(test\S+) \((.*)\) \.\.\. (FAIL|ERROR)$/FAIL - python unittest \1/'
}
export -f unittest_lines
# mypy --strict against the installed wheel (py.typed): the typed example
# passes, and a misspelt parameter, a missing RPC and a wrong field type fail.
python_types() {
  local run="$work/py/run" out
  (cd "$run" && /usr/bin/python3 -m mypy --strict --no-incremental --python-executable "$work/py/venv/bin/python" hello.py) &&
    echo "ok - python: mypy --strict hello.py against the installed wheel" ||
    echo "FAIL - python: mypy --strict hello.py"
  out="$(cd "$run" && /usr/bin/python3 -m mypy --strict --no-incremental --python-executable "$work/py/venv/bin/python" types_bad.py 2>&1)"
  if [[ $? -ne 0 && "$(grep -o '\[[a-z-]*\]$' <<<"$out" | sort | tr '\n' ' ')" == "[assignment] [attr-defined] [call-arg] " ]]; then
    echo "ok - python: mypy --strict rejects a misspelt parameter, a missing RPC and a wrong field type"
  else
    echo "FAIL - python: mypy on types_bad.py: $out"
  fi
}
if want python; then
  run_story python-install python_install
  if [[ -x "$work/py/venv/bin/python" ]]; then
    run_story python-types python_types
    run_story python-hello bash -c 'cd "$1" && "$2" hello.py' _ "$work/py/run" "$work/py/venv/bin/python"
    run_story python bash -c 'cd "$1" && "$2" story.py' _ "$work/py/run" "$work/py/venv/bin/python"
    run_story python-unit env GRPC_VERBOSITY=NONE bash -c 'cd "$1" && "$2" -c "import ecsimage_client, sys; sys.exit(0 if ecsimage_client.__file__.startswith(sys.prefix) else \"ecsimage_client not from the venv: \" + ecsimage_client.__file__)" && "$2" -m unittest -v test_client 2>&1 | unittest_lines; exit "${PIPESTATUS[0]}"' _ "$work/py/run" "$work/py/venv/bin/python"
  fi
fi
if want go; then
  export ECSIMAGE_GO_WORK="$work/go"
  run_story go-gen "$repo/clients/go/run.sh" gen-check
  run_story go-vet "$repo/clients/go/run.sh" vet
  run_story go "$repo/clients/go/run.sh" example
  # go test: unit tests against a scripted server plus the story as a Go test.
  run_story go-test bash -c '"$1" test -v 2>&1 | sed -e "s/^--- PASS: \(.*\)/ok - go test \1/" -e "s/^--- FAIL: \(.*\)/FAIL - go test \1/"; exit "${PIPESTATUS[0]}"' _ "$repo/clients/go/run.sh"
fi
# Node: npm pack, the tarball installed into a temporary project outside the
# repository (with TypeScript and @types/node at the versions clients/node
# locks), a TypeScript example type-checked with tsc --strict (and a broken
# one that must fail), then the story, the example and the unit tests.
node_install() {
  local n="$repo/clients/node" p="$work/node" ts types
  ts="$(node -p "require('$n/package-lock.json').packages['node_modules/typescript'].version")" &&
    types="$(node -p "require('$n/package-lock.json').packages['node_modules/@types/node'].version")" &&
    mkdir -p "$p" && (cd "$n" && npm pack --pack-destination "$p" --loglevel=error >/dev/null) &&
    (cd "$p" && npm init -y >/dev/null &&
      npm install --no-audit --no-fund --loglevel=error --prefer-offline \
        ./ecsimage-client-*.tgz "typescript@$ts" "@types/node@$types" >/dev/null) &&
    cp "$n/examples/story.js" "$n/examples/hello.ts" "$n/test/client.test.js" "$n/test/types-bad.ts" "$p/" &&
    echo "ok - node: $(cd "$p" && ls ecsimage-client-*.tgz) packed and installed into $p"
}
node_tsc() {
  local p="$work/node" out
  (cd "$p" && ./node_modules/.bin/tsc --strict --target es2020 --module commonjs --types node --outDir out hello.ts) &&
    echo "ok - node: tsc --strict hello.ts against the installed package" ||
    echo "FAIL - node: tsc --strict hello.ts"
  out="$(cd "$p" && ./node_modules/.bin/tsc --strict --target es2020 --module commonjs --types node --noEmit types-bad.ts 2>&1)"
  if [[ $? -ne 0 && "$(grep -o 'error TS[0-9]*' <<<"$out" | sort | tr '\n' ' ')" == "error TS2322 error TS2551 error TS2561 " ]]; then
    echo "ok - node: tsc --strict rejects a misspelt parameter, a missing RPC and a wrong field type"
  else
    echo "FAIL - node: tsc on types-bad.ts: $out"
  fi
}
if want node; then
  run_story node-install node_install
  if [[ -d "$work/node/node_modules/@ecsimage/client" ]]; then
    run_story node-tsc node_tsc
    run_story node bash -c 'cd "$1" && node story.js' _ "$work/node"
    run_story node-hello bash -c 'cd "$1" && node out/hello.js' _ "$work/node"
    run_story node-unit bash -c 'cd "$1" && node --test client.test.js 2>&1 | sed -E -e "s/^ok [0-9]+ - (.*)/ok - node test \1/" -e "s/^not ok [0-9]+ - (.*)/FAIL - node test \1/"; exit "${PIPESTATUS[0]}"' _ "$work/node"
  fi
fi
if want reflection; then
  run_story reflection node "$repo/tests/clients/reflection/test.js"
fi

stop_server
trap - EXIT
rm -rf "$work"
echo "$passed passed, $failed failed"
((failed == 0 && passed > 0))
