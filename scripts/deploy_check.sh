#!/usr/bin/env bash
# Offline checks of deploy/k8s (no cluster, no registry but npm's):
#   1. render overlays/dev, overlays/prod (SQLite), overlays/postgres and
#      the examples of the opt-in components (components/ecs-http,
#      components/filesystem-backend[-shared]): overlays/prod-ecs-http-filesystem
#      and overlays/postgres-ecs-http-filesystem, with kustomize; every render
#      but overlays/postgres must equal tests/deploy/golden/*.yaml byte for
#      byte (after an intended change: scripts/deploy_check.sh
#      --update-golden, and review the diff);
#   2. validate every object with npm kubernetes-models;
#   3. compile every object as a typed literal with tsc --strict against npm
#      kubernetes-types (rejects misspelled fields);
#   4. policy: non-root, read-only root, drop ALL, no token automount, grpc
#      probes (liveness on health service "liveness"), grace > preStop +
#      shutdown, NetworkPolicy ports, ...; postgres: >= 3 replicas, PDB
#      minAvailable 2, topology spread, maxUnavailable 0, ECSIMAGE_DB from a
#      Secret only, migrate init container; its example files (CNPG
#      Cluster, Secret) parse and are not rendered; with the ECS HTTP
#      listener on: its port on the container, a Service and the
#      NetworkPolicy, the key file from a required Secret, read-only, 0400;
#      with the filesystem backend: data root and object store on two
#      writable claims, ReadWriteMany with several replicas;
#   5. self-test: a misspelled field, broken policies and a changed render
#      must be caught.
# Ends with "N passed, N failed"; exit 1 on any failure. Takes < 1 min
# once tests/deploy/node_modules is installed (npm ci, ~25 s, first run).
#
# Renderer: `kubectl kustomize` from kubectl >= 1.21 (kustomize v4+), or a
# standalone `kustomize` >= 4. Debian 12's own kubernetes-client is 1.20,
# whose bundled kustomize v2.0.3 cannot render these overlays (`labels`,
# `patches`, directory resources): the script says so and exits 2.
# Override with KUSTOMIZE="kustomize build" or KUSTOMIZE="kubectl kustomize".
set -euo pipefail

UPDATE_GOLDEN=0
if [[ "${1:-}" == "--update-golden" ]]; then
  UPDATE_GOLDEN=1
fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHECK_DIR="$ROOT/tests/deploy"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/ecsimage-deploy-check.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
start=$(date +%s)

die() { echo "deploy_check: $*" >&2; exit 2; }

# Prints the minor version of a kubectl client, or nothing.
kubectl_minor() {
  kubectl version --client -o json 2>/dev/null |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{
      try{const v=JSON.parse(s).clientVersion;
        if(v.major==="1")console.log(parseInt(v.minor,10))}catch(e){}})'
}

pick_renderer() {
  if [[ -n "${KUSTOMIZE:-}" ]]; then
    echo "$KUSTOMIZE"
    return
  fi
  if command -v kubectl >/dev/null; then
    local minor
    minor="$(kubectl_minor)"
    if [[ -n "$minor" && "$minor" -ge 21 ]]; then
      echo "kubectl kustomize"
      return
    fi
  fi
  if command -v kustomize >/dev/null; then
    echo "kustomize build"
    return
  fi
  if command -v kubectl >/dev/null; then
    die "kubectl 1.$(kubectl_minor) bundles kustomize v2, which cannot render" \
        "deploy/k8s (labels/patches). Install kubectl >= 1.21 or kustomize >= 4."
  fi
  die "no kubectl or kustomize found (need kubectl >= 1.21 or kustomize >= 4)"
}

command -v node >/dev/null || die "node not found (apt-get install nodejs npm)"
command -v npm >/dev/null || die "npm not found (apt-get install npm)"
RENDER="$(pick_renderer)"
echo "deploy_check: renderer: $RENDER ($(kubectl version --client 2>/dev/null |
  head -1 || true)); node $(node --version)"

# npm deps, pinned by the committed package-lock.json.
if ! (cd "$CHECK_DIR" && npm ls --all >/dev/null 2>&1); then
  echo "deploy_check: npm ci in tests/deploy"
  (cd "$CHECK_DIR" && npm ci --no-audit --no-fund --loglevel=error)
fi

GOLDEN="$ROOT/tests/deploy/golden"
args=()
# postgres before the examples built on it: check.js takes the first
# postgres* overlay for the example files and the PostgreSQL self-test.
for overlay in dev prod postgres prod-ecs-http-filesystem \
               postgres-ecs-http-filesystem; do
  out="$WORK/$overlay.yaml"
  # shellcheck disable=SC2086  # RENDER is a command with arguments
  $RENDER "$ROOT/deploy/k8s/overlays/$overlay" >"$out"
  echo "deploy_check: rendered overlays/$overlay ($(grep -c '^kind:' "$out") objects)"
  args+=("$overlay=$out")
  # The renders are committed (all but overlays/postgres, whose example
  # overlay is): a change to them must be deliberate and visible in review.
  if [[ "$overlay" != postgres ]]; then
    if (( UPDATE_GOLDEN )); then
      cp "$out" "$GOLDEN/$overlay.yaml"
      echo "deploy_check: updated tests/deploy/golden/$overlay.yaml"
    fi
    args+=(--golden "$overlay=$GOLDEN/$overlay.yaml")
  fi
done

# The postgres overlay's examples: valid YAML of the expected kinds, and not
# rendered (kubernetes-models cannot validate the CNPG CRD; a Secret never
# ships). check.js counts the results.
PG="$ROOT/deploy/k8s/overlays/postgres"
args+=(--example "Cluster=$PG/cnpg-cluster.example.yaml"
       --example "Secret=$PG/secret.example.yaml")

rc=0
node "$CHECK_DIR/check.js" --self-test --work "$WORK" "${args[@]}" || rc=$?
echo "deploy_check: $(( $(date +%s) - start )) s"
exit "$rc"
