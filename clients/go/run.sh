#!/bin/bash
# Builds, vets and tests the Go client offline against Debian's Go 1.19 and
# golang-*-dev libraries, in GOPATH mode over /usr/share/gocode (no module
# proxy, no network). The module (github.com/ecsimage/ecsimage/clients/go) is
# linked into a GOPATH under $ECSIMAGE_GO_WORK (default /tmp/ecsimage-go).
#   clients/go/run.sh gen          regenerate imagev1/*.pb.go in place
#   clients/go/run.sh gen-check    regenerate into a temp dir, fail on any diff
#   clients/go/run.sh vet          go vet every package
#   clients/go/run.sh test [args]  go test (the story test is skipped unless
#                                  ECSIMAGE_TARGET is set)
#   clients/go/run.sh example      the story, built from a directory outside the
#                                  repository that imports the module
# GRPC_GO_RETRY=on is exported: Debian's grpc-go (1.33) honours the retry
# policy of the service config only with it.
# Needs: golang-go protobuf-compiler protoc-gen-go protoc-gen-go-grpc
#   golang-google-grpc-dev golang-google-genproto-dev golang-google-protobuf-dev
#   golang-github-golang-protobuf-1-5-dev golang-github-google-uuid-dev
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
module=github.com/ecsimage/ecsimage/clients/go
proto=ecs/image/v1/image_service.proto

# generate OUT_DIR: protoc-gen-go and protoc-gen-go-grpc into OUT_DIR/imagev1
# (the proto's go_package is overridden with M, the .proto is not touched).
generate() {
  local m="M$proto=$module/imagev1;imagev1"
  protoc -I"$repo/proto" \
    --go_out="$1" --go_opt=module="$module" --go_opt="$m" \
    --go-grpc_out="$1" --go-grpc_opt=module="$module" --go-grpc_opt="$m" \
    "$proto"
}

work="${ECSIMAGE_GO_WORK:-/tmp/ecsimage-go}"
gopath="$work/gopath"
mkdir -p "$gopath/src/github.com/ecsimage/ecsimage/clients"
ln -sfn "$here" "$gopath/src/$module"
export GO111MODULE=off GOPROXY=off GOFLAGS= GOTOOLCHAIN=local GRPC_GO_RETRY=on
export GOPATH="$gopath:/usr/share/gocode"
# The build cache outlives the GOPATH work directory (which CI makes afresh).
export GOCACHE="${GOCACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/ecsimage-go-build}"
pkgs=("$module/ecsimage" "$module/imagev1" "$module/story" "$module/example")

cmd="${1:-example}"
shift || true
case "$cmd" in
  gen) generate "$here" ;;
  gen-check)
    tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
    generate "$tmp"
    if diff -ru "$here/imagev1" "$tmp/imagev1"; then
      echo "ok - imagev1/*.pb.go regenerate identically"
    else
      echo "FAIL - imagev1/*.pb.go differ from a fresh generation: run clients/go/run.sh gen"
      exit 1
    fi ;;
  vet) cd "$gopath/src/$module" && go vet "${pkgs[@]}" && echo "ok - go vet" ;;
  test) cd "$gopath/src/$module" && go test -count=1 "$@" "${pkgs[@]}" ;;
  example)
    # A program of its own outside the repository, importing the module.
    tmp="$(mktemp -d /tmp/ecsimage-go-story.XXXXXX)"; trap 'rm -rf "$tmp"' EXIT
    mkdir -p "$tmp/src/storyrun"
    cp "$here/example/main.go" "$tmp/src/storyrun/main.go"
    export GOPATH="$tmp:$GOPATH"
    cd "$tmp/src/storyrun" && go run . "$@" ;;
  *) echo "usage: $0 [gen|gen-check|vet|test|example]" >&2; exit 2 ;;
esac
