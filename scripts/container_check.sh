#!/usr/bin/env bash
# Builds the ecsimage container offline with podman and checks it the way
# the Kubernetes pod runs it (deploy/k8s): read-only root, uid 65532, all
# capabilities dropped, database on a volume at /data.
#
#   scripts/container_check.sh          bounded mode (default): reuse base
#                                       images and the ccache/apt caches in
#                                       $ECSIMAGE_DEPLOY_WORK; ~3-6 min warm
#   scripts/container_check.sh --long   fresh mmdebstrap bases and a cold
#                                       build without ccache (~15-20 min on 2
#                                       cores): what a first CI run costs
#   scripts/container_check.sh --build-only
#
# Checks: Health SERVING on the published API port; `podman exec ...
# ecsimage account create`; CreateImage + DeleteImage over the API (and
# NOT_FOUND for an unknown id); non-root, read-only root; data survives a
# restart on the same volume (podman stop -t, exit 0); SIGTERM with a call in
# flight: NOT_SERVING, the call finishes OK, exit 0 within the grace period;
# /metrics counters (when the server serves them). Ends "N passed, N failed".
#
# Needs root (rootful podman), Debian's mirror and these packages, which it
# installs when missing: podman runc mmdebstrap eatmydata python3-grpcio
# python3-protobuf protobuf-compiler grpc-proto golang-github-gogo-googleapis-dev.
# Bases: no registry is reachable, so debian:12 and debian:12-slim
# equivalents are bootstrapped with mmdebstrap and `podman import`ed as
# localhost/debian:12 and localhost/debian:12-slim.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="${ECSIMAGE_DEPLOY_WORK:-/var/tmp/ecsimage-deploy}"
IMAGE="${ECSIMAGE_IMAGE:-localhost/ecsimage:dev}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
MODE=bounded
BUILD_ONLY=0
for arg in "$@"; do
  case "$arg" in
    --long) MODE=long ;;
    --build-only) BUILD_ONLY=1 ;;
    *) echo "usage: $0 [--long] [--build-only]" >&2; exit 2 ;;
  esac
done

PASSED=0
FAILED=0
T0=$(date +%s)
log() { echo "container_check: [$(( $(date +%s) - T0 ))s] $*"; }
ok() { PASSED=$((PASSED + 1)); echo "ok - $*"; }
notok() { FAILED=$((FAILED + 1)); echo "not ok - $*"; }
expect() {  # expect "name" command...
  local name="$1"; shift
  if "$@"; then ok "$name"; else notok "$name"; fi
}
finish() {
  echo "container_check: mode $MODE, $(( $(date +%s) - T0 )) s total"
  echo "$PASSED passed, $FAILED failed"
  [[ $FAILED -eq 0 ]]
}

[[ $(id -u) -eq 0 ]] || { echo "container_check: needs root" >&2; exit 2; }
mkdir -p "$WORK"

# ------------------------------------------------------------------ tools
need=()
for pair in podman:podman runc:runc mmdebstrap:mmdebstrap eatmydata:eatmydata \
    protoc:protobuf-compiler; do
  command -v "${pair%%:*}" >/dev/null || need+=("${pair#*:}")
done
/usr/bin/python3 -c 'import grpc, google.protobuf' 2>/dev/null ||
  need+=(python3-grpcio python3-protobuf)
[[ -f /usr/share/grpc-proto/grpc/health/v1/health.proto ]] || need+=(grpc-proto)
GOOGLEAPIS=/usr/share/gocode/src/github.com/gogo/googleapis
[[ -f $GOOGLEAPIS/google/rpc/status.proto ]] ||
  need+=(golang-github-gogo-googleapis-dev)
if [[ ${#need[@]} -gt 0 ]]; then
  log "apt-get install ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null 2>&1
fi

# Podman settings for these machines (no systemd, cgroup v1, rlimits that
# runc may not raise): a private containers.conf, not the system one.
cat >"$WORK/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
export CONTAINERS_CONF="$WORK/containers.conf"

# apt archive cache shared by mmdebstrap and the image build: seeded with
# hard links from the host's cache (instant, no copy), grown by builds.
APT_CACHE="$WORK/apt-archives"
mkdir -p "$APT_CACHE/partial"
if compgen -G "/var/cache/apt/archives/*.deb" >/dev/null; then
  cp -aln /var/cache/apt/archives/*.deb "$APT_CACHE/" 2>/dev/null ||
    cp -an /var/cache/apt/archives/*.deb "$APT_CACHE/"
fi

# ------------------------------------------------------------- base images
bootstrap() {  # bootstrap TAG [mmdebstrap options...]
  local tag="$1"; shift
  local tar="$WORK/${tag//[:\/]/_}.tar"
  log "mmdebstrap $tag"
  local t=$(date +%s)
  # The cache is hard-linked in for the download and emptied again by
  # mmdebstrap's cleanup (which removes links, not the files here).
  # merged-usr hook: merged /usr as in Debian's images, without the usrmerge
  # package and the perl it pulls in. eatmydata: no fsync while unpacking.
  local hooks=(--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr)
  if command -v eatmydata >/dev/null; then
    hooks+=(--hook-dir=/usr/share/mmdebstrap/hooks/eatmydata)
  fi
  mmdebstrap --variant=minbase --mode=root --format=tar --quiet "${hooks[@]}" \
    --aptopt='Acquire::Languages "none"' \
    --setup-hook="mkdir -p \"\$1/var/cache/apt/archives\" && cp -al $APT_CACHE/*.deb \"\$1/var/cache/apt/archives/\" 2>/dev/null || true" \
    "$@" bookworm "$tar" "$MIRROR" >"$WORK/mmdebstrap.log" 2>&1 ||
    { tail -30 "$WORK/mmdebstrap.log"; echo "mmdebstrap $tag failed" >&2; exit 1; }
  podman import --quiet "$tar" "$tag" >/dev/null
  rm -f "$tar"
  log "imported $tag ($(( $(date +%s) - t )) s)"
}
have_image() { podman image exists "$1"; }
if [[ $MODE == long ]] || ! have_image localhost/debian:12; then
  bootstrap localhost/debian:12
fi
if [[ $MODE == long ]] || ! have_image localhost/debian:12-slim; then
  # Like debian:12-slim: no docs, man pages or locales.
  bootstrap localhost/debian:12-slim \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/info/*'
fi

# ------------------------------------------------------------------ build
CCACHE="$WORK/ccache"
mkdir -p "$CCACHE"
build_args=(--pull=never -f "$ROOT/deploy/Dockerfile"
  --ignorefile "$ROOT/deploy/Dockerfile.dockerignore"
  --build-arg BUILD_IMAGE=localhost/debian:12
  --build-arg RUNTIME_IMAGE=localhost/debian:12-slim
  --build-arg JOBS="$(nproc)"
  -v "$APT_CACHE:/var/cache/apt/archives"
  --label "org.opencontainers.image.revision=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)"
  -t "$IMAGE")
if [[ $MODE == long ]]; then
  build_args+=(--no-cache)
else
  build_args+=(-v "$CCACHE:/ccache")
fi
log "podman build $IMAGE (mode $MODE)"
t=$(date +%s)
if podman build "${build_args[@]}" "$ROOT" >"$WORK/build.log" 2>&1; then
  ok "image builds offline from the mmdebstrap bases ($(( $(date +%s) - t )) s)"
else
  tail -40 "$WORK/build.log"
  notok "image builds (log: $WORK/build.log)"
  finish
  exit 1
fi
log "runtime packages: $(sed -n '/^runtime packages:$/,/^-->/p' "$WORK/build.log" |
  sed '1d;$d' | tr '\n' ' ')"
log "ccache in the build: $(grep -Ei '^ *(hits|misses)' "$WORK/build.log" |
  tr -s ' ' | tr '\n' ' ')"
log "image size: $(podman image inspect "$IMAGE" --format '{{.Size}}' |
  awk '{printf "%.0f MB", $1/1e6}')"
[[ $BUILD_ONLY -eq 1 ]] && { finish; exit $?; }

# ------------------------------------------------------------- run checks
GEN="$WORK/pygen"
rm -rf "$GEN"
mkdir -p "$GEN/src/checkhealth" "$GEN/src/checkrpc" "$GEN/out"
cp /usr/share/grpc-proto/grpc/health/v1/health.proto "$GEN/src/checkhealth/"
cp "$GOOGLEAPIS/google/rpc/status.proto" \
  "$GOOGLEAPIS/google/rpc/error_details.proto" "$GEN/src/checkrpc/"
protoc -I "$GEN/src" -I /usr/include -I "$ROOT/proto" --python_out="$GEN/out" \
  checkhealth/health.proto checkrpc/status.proto checkrpc/error_details.proto \
  ecs/image/v1/image_service.proto
client() { /usr/bin/python3 "$ROOT/tests/deploy/container_client.py" --gen "$GEN/out" "$@"; }

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
API_PORT=$(free_port)
METRICS_PORT=$(free_port)
ADDR="127.0.0.1:$API_PORT"
NAME="ecsimage-check-$$"
VOLUME="ecsimage-check-data-$$"
GRACE=3     # ECSIMAGE_SHUTDOWN_GRACE_SECONDS
DEADLINE=5  # ECSIMAGE_SHUTDOWN_DEADLINE_SECONDS
STOP_T=20   # podman stop -t: must exceed GRACE + DEADLINE

cleanup() {
  podman rm -f -t 0 "$NAME" >/dev/null 2>&1 || true
  podman volume rm -f "$VOLUME" >/dev/null 2>&1 || true
}
trap cleanup EXIT
podman volume create "$VOLUME" >/dev/null

# As the pod runs it (deploy/k8s/base/statefulset.yaml securityContext).
run_server() {
  podman run -d --name "$NAME" \
    --read-only --read-only-tmpfs=false --tmpfs /tmp:rw,size=64m \
    --user 65532:65532 --cap-drop ALL --security-opt no-new-privileges \
    -p "127.0.0.1:$API_PORT:50051" -p "127.0.0.1:$METRICS_PORT:9090" \
    -v "$VOLUME:/data" \
    -e ECSIMAGE_SHUTDOWN_GRACE_SECONDS=$GRACE \
    -e ECSIMAGE_SHUTDOWN_DEADLINE_SECONDS=$DEADLINE \
    -e ECSIMAGE_CREATE_MS_PER_GIB=1 \
    "$IMAGE" serve >/dev/null
}

log "run $NAME on $ADDR"
run_server
expect "Health is SERVING on the published port" client --addr "$ADDR" health --want SERVING --timeout 60
expect "server runs as uid 65532" test "$(podman exec "$NAME" id -u)" = 65532
expect "root filesystem is read-only" \
  bash -c "! podman exec '$NAME' sh -c 'echo x >/usr/local/bin/x' 2>/dev/null"
expect "capability bounding set is empty (--cap-drop ALL)" \
  bash -c "podman exec '$NAME' grep -q '^CapBnd:.0000000000000000' /proc/1/status"

account="$(podman exec "$NAME" ecsimage account create --name container-check)"
TOKEN="$(/usr/bin/python3 -c 'import json,sys; print(json.loads(sys.argv[1])["token"])' "$account" 2>/dev/null || true)"
expect "podman exec ... ecsimage account create prints a token" test -n "$TOKEN"

calls_ok() {
  client metric --url "http://127.0.0.1:$METRICS_PORT/metrics" \
    --name ecsimage_grpc_server_handled_total \
    --label grpc_method=DeleteImage --label grpc_code="$1" 2>/dev/null || true
}
metrics_before_ok="$(calls_ok OK)"
metrics_before_nf="$(calls_ok NOT_FOUND)"

KEEP="$(client --addr "$ADDR" --token "$TOKEN" create --name keep-across-restart || true)"
DOOMED="$(client --addr "$ADDR" --token "$TOKEN" create --name deleted-over-api || true)"
expect "CreateImage over the API reaches Available" test -n "$KEEP" -a -n "$DOOMED"
expect "DeleteImage over the API is OK" \
  client --addr "$ADDR" --token "$TOKEN" delete --image "$DOOMED" --expect OK
expect "the deleted image is gone" \
  client --addr "$ADDR" --token "$TOKEN" status --image "$DOOMED" --want absent
expect "DeleteImage of an unknown id is NOT_FOUND with ErrorInfo" \
  client --addr "$ADDR" --token "$TOKEN" delete --image m-0000000000000000000x \
  --expect NOT_FOUND --reason INVALID_IMAGE_ID_NOT_FOUND

if [[ "$metrics_before_ok" =~ ^[0-9]+$ ]]; then
  expect "/metrics: DeleteImage OK rose by exactly 1" \
    test "$(calls_ok OK)" -eq $((metrics_before_ok + 1))
  expect "/metrics: DeleteImage NOT_FOUND rose by exactly 1" \
    test "$(calls_ok NOT_FOUND)" -eq $((metrics_before_nf + 1))
else
  log "SKIP /metrics checks: nothing served on :9090 ($metrics_before_ok)"
fi

# Restart on the same volume: podman stop sends SIGTERM, waits STOP_T.
t=$(date +%s)
podman stop -t $STOP_T "$NAME" >/dev/null
took=$(( $(date +%s) - t ))
code="$(podman inspect "$NAME" --format '{{.State.ExitCode}}')"
expect "podman stop -t $STOP_T: exit 0 in ${took}s (< $STOP_T, no SIGKILL)" \
  test "$code" = 0 -a "$took" -lt $STOP_T
podman start "$NAME" >/dev/null
expect "Health is SERVING after restart" client --addr "$ADDR" health --want SERVING --timeout 60
expect "data survives the restart (image still Available, token valid)" \
  client --addr "$ADDR" --token "$TOKEN" status --image "$KEEP" --want Available
expect "the deleted image stays deleted after restart" \
  client --addr "$ADDR" --token "$TOKEN" status --image "$DOOMED" --want absent

# SIGTERM with a call in flight.
t=$(date +%s)
if out="$(client --addr "$ADDR" --token "$TOKEN" shutdown --image "$KEEP" \
            --signal-cmd "podman kill --signal TERM $NAME >/dev/null")"; then
  ok "SIGTERM: Health NOT_SERVING and the in-flight DeleteImage finished OK $out"
else
  notok "SIGTERM: NOT_SERVING and in-flight call OK: $out"
fi
code="$(timeout $((STOP_T + 5)) podman wait "$NAME" || echo timeout)"
took=$(( $(date +%s) - t ))
expect "SIGTERM: exit code 0 within ${took}s (grace $GRACE + deadline $DEADLINE)" \
  test "$code" = 0 -a "$took" -le $((GRACE + DEADLINE + 3))
podman logs "$NAME" 2>&1 | grep -E '"msg":"(stopping|stopped)"' |
  sed 's/^/container_check: log: /' || true

finish
