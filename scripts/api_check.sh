#!/bin/bash
# API governance (../shared/spec/clients.md section 1): buf lint and buf
# breaking over proto/, plus a test that buf breaking can fail.
#
#   scripts/api_check.sh [--no-install]
#   scripts/api_check.sh --write-baseline   (at a release: writes
#       proto/baseline/<VERSION>.binpb and prints the CHANGELOG line)
#
# - VERSION holds the one version of the API and the clients; CHANGELOG.md has
#   an entry for it; proto/baseline/<version>.binpb is the image of the last
#   released API (the highest version there, never above VERSION); each
#   baseline's sha256 is the one CHANGELOG.md recorded at its release.
# - `buf lint` with buf.yaml passes, and the lint without buf.yaml's
#   exceptions finds exactly tests/clients/api/lint_exceptions.txt.
# - `buf breaking` (FILE) against the baseline passes on the real proto, and
#   fails on deliberately broken copies (a renamed field, a changed json_name,
#   a removed RPC, a removed enum value) with the rule that names the break.
# buf comes from npm (@bufbuild/buf, pinned in tests/clients/api). Prints
# "ok - ..." / "FAIL - ..." per check and ends with "N passed, M failed".
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
api="$repo/tests/clients/api"
install=1
write_baseline=0
case "${1:-}" in
  --no-install) install=0 ;;
  --write-baseline) write_baseline=1 ;;
esac

if ((install)); then
  if ! command -v npm >/dev/null; then
    sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nodejs npm >/dev/null ||
      { echo "apt-get install nodejs npm failed" >&2; exit 1; }
  fi
  if [[ ! -x "$api/node_modules/.bin/buf" || "$api/package-lock.json" -nt "$api/node_modules/.package-lock.json" ]]; then
    (cd "$api" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || { echo "npm ci failed in $api" >&2; exit 1; }
  fi
fi
buf="$api/node_modules/.bin/buf"
[[ -x "$buf" ]] || { echo "buf missing: run without --no-install" >&2; exit 1; }

if ((write_baseline)); then
  version="$(tr -d '[:space:]' < "$repo/VERSION")"
  out="proto/baseline/$version.binpb"
  (cd "$repo" && "$buf" build -o "$out") || exit 1
  echo "wrote $out; its line for CHANGELOG.md ## [$version]:"
  echo "  Baseline: \`$out\` sha256 \`$(sha256sum "$repo/$out" | cut -d' ' -f1)\`"
  exit 0
fi

passed=0
failed=0
check() {  # check DESC STATUS [INFO]
  if [[ "$2" == 0 ]]; then passed=$((passed + 1)); echo "ok - $1"
  else failed=$((failed + 1)); echo "FAIL - $1${3:+: $3}"; fi
}
tmp="$(mktemp -d /tmp/ecsimage-api.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
cd "$repo"

# --- version, changelog, baseline -------------------------------------------
version="$(tr -d '[:space:]' < VERSION 2>/dev/null)"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; check "VERSION is X.Y.Z ($version)" $?
grep -q "^## \[\?$version\]\?" CHANGELOG.md 2>/dev/null; check "CHANGELOG.md has an entry for $version" $?
baseline="$(ls proto/baseline/*.binpb 2>/dev/null | sort -V | tail -1)"
base_version="$(basename "${baseline:-none}" .binpb)"
[[ -n "$baseline" ]] && [[ "$(printf '%s\n%s\n' "$base_version" "$version" | sort -V | tail -1)" == "$version" ]]
check "baseline $base_version exists and is not above VERSION $version" $?
for f in proto/baseline/*.binpb; do
  [[ -f "$f" ]] || continue
  sum="$(sha256sum "$f" | cut -d' ' -f1)"
  grep -qF "\`$f\` sha256 \`$sum\`" CHANGELOG.md
  check "$f is the image its release recorded in CHANGELOG.md (sha256 $sum)" $?
done
# Each client states the same version (VERSION is the source; a release
# bumps all four together; Go's module tag is clients/go/v$version).
for f in clients/python/pyproject.toml clients/node/package.json clients/go/ecsimage/version.go; do
  grep -qE "^(version = |  \"version\": |const Version = )\"$version\"" "$f" 2>/dev/null
  check "$f states version $version" $?
done

# --- lint ---------------------------------------------------------------------
out="$("$buf" lint 2>&1)"; check "buf lint (buf.yaml)" $? "$out"
mkdir -p "$tmp/strict"
cp -r proto/ecs "$tmp/strict/"
printf 'version: v2\nlint:\n  use:\n    - STANDARD\n' > "$tmp/strict/buf.yaml"
(cd "$tmp/strict" && "$buf" lint --error-format json) > "$tmp/strict.json" 2>&1
node -e '
  const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean);
  const seen = new Set(lines.map((l) => { const j = JSON.parse(l); return `${j.type}: ${j.message}`; }));
  console.log([...seen].sort().join("\n"));' "$tmp/strict.json" > "$tmp/strict.txt" 2>&1
grep -v '^#' "$api/lint_exceptions.txt" | sort > "$tmp/expected.txt"
diff "$tmp/expected.txt" "$tmp/strict.txt" > "$tmp/strict.diff"
check "strict lint finds exactly the exceptions buf.yaml allows" $? "$(cat "$tmp/strict.diff")"

# --- breaking -----------------------------------------------------------------
out="$("$buf" breaking --against "$baseline" 2>&1)"
check "buf breaking against $baseline passes on proto/" $? "$out"

# broken NAME RULE PERL: copies proto/, applies the perl substitution to the
# API file, and expects buf breaking to fail with RULE.
broken() {
  local name="$1" rule="$2" expr="$3" dir="$tmp/broken-$1"
  mkdir -p "$dir"
  cp -r proto/ecs "$dir/"
  cp buf.yaml "$dir/buf.yaml"
  sed -i 's#^  - path: proto$#  - path: .#; s#proto/ecsimage/internal#ecsimage/internal#; s#proto/ecs/#ecs/#' "$dir/buf.yaml"
  local f="$dir/ecs/image/v1/image_service.proto"
  perl -0pi -e "$expr" "$f"
  if cmp -s "$f" proto/ecs/image/v1/image_service.proto; then
    check "broken copy ($name) differs from proto/" 1 "the substitution matched nothing"
    return
  fi
  (cd "$dir" && "$buf" breaking --against "$repo/$baseline" --error-format json) > "$dir/out.json" 2>&1
  local rc=$?
  ((rc != 0)) && grep -q "\"type\":\"$rule\"" "$dir/out.json"
  check "buf breaking fails on a broken copy ($name) with $rule" $? "exit $rc: $(head -c 400 "$dir/out.json")"
}
# The unchanged copy must pass, so the failures below come from the edits.
broken_ok() {
  local dir="$tmp/unchanged"
  mkdir -p "$dir"; cp -r proto/ecs "$dir/"; cp buf.yaml "$dir/buf.yaml"
  sed -i 's#^  - path: proto$#  - path: .#; s#proto/ecsimage/internal#ecsimage/internal#; s#proto/ecs/#ecs/#' "$dir/buf.yaml"
  out="$(cd "$dir" && "$buf" breaking --against "$repo/$baseline" 2>&1)"
  check "buf breaking passes on an unchanged copy" $? "$out"
}
broken_ok
broken renamed-field FIELD_SAME_NAME \
  's/(message CreateImageRequest \{.*?)string client_token = 9/$1string idempotency_token = 9/s'
broken json-name FIELD_SAME_JSON_NAME \
  's/(message DeleteImageRequest \{.*?)json_name = "ImageId"/$1json_name = "ImageID"/s'
broken removed-rpc RPC_NO_DELETE \
  's/\n  rpc CancelCopyImage\(CancelCopyImageRequest\) returns \(CancelCopyImageResponse\);//'
broken renumbered-field FIELD_NO_DELETE \
  's/(message DeleteImageRequest \{.*?)image_id = 2/$1image_id = 12/s'

echo "api: $passed passed, $failed failed"
((failed == 0 && passed > 0))
