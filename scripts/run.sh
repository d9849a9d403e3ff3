#!/usr/bin/env bash
# Builds ecsimage and serves it on its embedded default: SQLite file
# ./data/ecsimage.db, gRPC on 127.0.0.1:50051, a demo account whose token is
# kept in ./data/ecsimage.db.token and printed, with ready-to-paste grpcurl
# commands; and ECS's own HTTP API (docs/ecs-http.md) on 127.0.0.1:50080
# for the official Alibaba Cloud SDKs, with the demo account's AccessKey
# (kept in ./data/ecsimage.db.accesskey, sealed at rest under the 32-byte
# key ./data/ecsimage.db.secret-key, both mode 0600) and an SDK snippet.
# Extra arguments go to `ecsimage serve` (e.g. --simulation-control).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target ecsimage
mkdir -p data
db=data/ecsimage.db
key="$db.secret-key"
ak_file="$db.accesskey"
http=${ECSIMAGE_ECS_HTTP_LISTEN:-127.0.0.1:50080}
if [ ! -s "$key" ]; then
  (umask 077 && head -c 32 /dev/urandom >"$key")
fi
chmod 600 "$key"
bin=build/service/ecsimage
"$bin" serve --db "$db" --ecs-http-listen="$http" --secret-key-file="$key" "$@" &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null' TERM INT
# The demo account exists once serve has started (its token file appears).
for _ in $(seq 1 100); do
  [ -s "$db.token" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if [ -s "$db.token" ] && [ ! -s "$ak_file" ]; then
  account=$(sed -n 's/.*"account_id":"\([0-9]*\)".*/\1/p' "$db.token")
  (umask 077 && "$bin" account accesskey create --db "$db" --account "$account" \
    --secret-key-file "$key" >"$ak_file") || rm -f "$ak_file"
fi
if [ -s "$ak_file" ]; then
  ak=$(sed -n 's/.*"access_key_id":"\([^"]*\)".*/\1/p' "$ak_file")
  sk=$(sed -n 's/.*"access_key_secret":"\([^"]*\)".*/\1/p' "$ak_file")
  cat >&2 <<SNIPPET

ECS HTTP API (version 2014-05-26) on http://$http — AccessKeyId $ak
(secret in $ak_file). With the official SDK, unchanged but for its endpoint:

  cd tests/ecs_http && npm ci --no-audit --no-fund && node -e '
  const Ecs = require("@alicloud/ecs20140526");
  const { \$OpenApiUtil } = require("@alicloud/openapi-core");
  const ecs = new Ecs.default(new \$OpenApiUtil.Config({ accessKeyId: "$ak",
    accessKeySecret: "$sk", endpoint: "$http", protocol: "HTTP",
    regionId: "cn-hangzhou" }));
  ecs.describeImages(new Ecs.DescribeImagesRequest({ regionId: "cn-hangzhou",
    imageOwnerAlias: "system" })).then((r) => console.log(JSON.stringify(r.body, null, 1)));'

SNIPPET
fi
status=0
wait "$pid" || status=$?
while kill -0 "$pid" 2>/dev/null; do wait "$pid" || status=$?; done
exit "$status"
