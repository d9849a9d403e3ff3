#!/bin/bash
# Generates src/gen/ (TypeScript, not committed) with ts-proto from the API
# proto and google/rpc status + error details: every message as an interface
# whose fields are the json_name (the ECS names), its codec, and the service
# definitions (grpc-js and generic). Run by `npm run build` (and so by
# `npm pack`). Needs Debian's protoc (protobuf-compiler) and google/rpc protos
# (golang-github-gogo-googleapis-dev), or ECSIMAGE_PROTO_DIR /
# ECSIMAGE_GOOGLEAPIS_DIR.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
proto="${ECSIMAGE_PROTO_DIR:-$here/../../proto}"
googleapis="${ECSIMAGE_GOOGLEAPIS_DIR:-/usr/share/gocode/src/github.com/gogo/googleapis}"
command -v protoc >/dev/null || { echo "protoc missing: apt-get install protobuf-compiler" >&2; exit 1; }
[[ -f "$googleapis/google/rpc/status.proto" ]] ||
  { echo "google/rpc protos missing: apt-get install golang-github-gogo-googleapis-dev" >&2; exit 1; }
out="$here/src/gen"
rm -rf "$out"
mkdir -p "$out"
opts=(useJsonName=true outputServices=grpc-js outputServices=generic-definitions
      esModuleInterop=true useExactTypes=false env=node forceLong=number)
args=(--plugin=protoc-gen-ts_proto="$here/node_modules/.bin/protoc-gen-ts_proto" --ts_proto_out="$out")
for o in "${opts[@]}"; do args+=(--ts_proto_opt="$o"); done
protoc -I"$proto" "${args[@]}" ecs/image/v1/image_service.proto
protoc -I"$googleapis" "${args[@]}" google/rpc/status.proto google/rpc/error_details.proto
