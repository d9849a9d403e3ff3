#!/bin/bash
# Builds and runs the Go client offline against Debian's Go libraries
# (GOPATH mode over /usr/share/gocode; no module proxy, no network).
#   clients/go/run.sh example     go run the story (needs ECSIMAGE_* env)
#   clients/go/run.sh test [args] go test the client (the story test is
#                                 skipped unless ECSIMAGE_TARGET is set)
#   clients/go/run.sh gen         only generate the stubs
# Needs: golang-go protobuf-compiler protoc-gen-go protoc-gen-go-grpc
#   golang-google-grpc-dev golang-google-genproto-dev
#   golang-github-golang-protobuf-1-5-dev golang-google-protobuf-dev
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
gen="$here/gen"
gopath="$gen/gopath"

# Stubs: module path "ecsimage" is this directory (go_package
# "ecsimage/gen/ecs/image/v1"), so they land in clients/go/gen/ecs/image/v1.
proto="$repo/proto/ecs/image/v1/image_service.proto"
out="$gen/ecs/image/v1/image_service.pb.go"
if [[ ! -f "$out" || "$proto" -nt "$out" ]]; then
  mkdir -p "$gen"
  protoc -I"$repo/proto" --go_out="$here" --go_opt=module=ecsimage \
    --go-grpc_out="$here" --go-grpc_opt=module=ecsimage \
    ecs/image/v1/image_service.proto
fi
mkdir -p "$gopath/src"
ln -sfn "$here" "$gopath/src/ecsimage"

export GO111MODULE=off GOPROXY=off GOFLAGS= GOTOOLCHAIN=local
export GOPATH="$gopath:/usr/share/gocode"
export GOCACHE="${GOCACHE:-$gen/cache}"
cd "$gopath/src/ecsimage"
cmd="${1:-example}"
shift || true
case "$cmd" in
  gen) ;;
  example) go run ecsimage/example "$@" ;;
  test) go vet ecsimage/ecsimage ecsimage/story ecsimage/example &&
        go test -count=1 "$@" ecsimage/ecsimage ecsimage/story ;;
  *) echo "usage: $0 [example|test|gen]" >&2; exit 2 ;;
esac
