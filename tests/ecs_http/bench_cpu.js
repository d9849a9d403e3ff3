// CPU of the server per call, over ECS's HTTP API beside the same call over
// gRPC, in one run (issue 12's figures): DescribeImages and DeleteImage.
// Measured as the serve process's user+system time (/proc/PID/stat) over N
// sequential calls on one keep-alive connection / channel, signing cost on
// the client side excluded.
//
//   node bench_cpu.js [N]     (default 300; scripts/ecs_http_check.sh runs it)
// Prints one JSON line per measurement.
'use strict';

const fs = require('node:fs');
const { Server, grpcClients, signedQuery } = require('./lib');

const N = Number(process.argv[2] || 300);
const R = 'cn-hangzhou';

function cpuSeconds(pid) {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;  // utime + stime, in ticks
}

async function measure(server, label, calls) {
  const before = cpuSeconds(server.proc.pid);
  const start = process.hrtime.bigint();
  for (let i = 0; i < calls.length; i++) await calls[i]();
  const wall = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = cpuSeconds(server.proc.pid) - before;
  const line = { bench: label, calls: calls.length,
    serverCpuUsPerCall: Math.round((cpu * 1e6) / calls.length),
    wallUsPerCall: Math.round((wall * 1e6) / calls.length) };
  console.log(JSON.stringify(line));
  return line;
}

async function main() {
  const server = await Server.start(['--log-calls=false', '--image-quota=1000000']);
  try {
    const acct = server.account('bench');
    const g = grpcClients(server, acct);
    const http = async (params) => {
      const res = await fetch(`http://${server.endpoint}/?${signedQuery(acct, params)}`);
      const body = await res.json();
      if (res.status !== 200) throw new Error(JSON.stringify(body));
      return body;
    };
    const images = async (n) => {
      const ids = [];
      for (let i = 0; i < n; i++) {
        ids.push((await g.images.CreateImage({ regionId: R, imageName: `b-${Date.now()}-${i}` })).imageId);
      }
      return ids;
    };
    await images(20);
    const describe = { Action: 'DescribeImages', RegionId: R, Status: 'Creating,Available',
      PageSize: '10' };
    const rep = (n, f) => Array.from({ length: n }, (_, i) => () => f(i));
    await measure(server, 'warmup', rep(50, () => http(describe)));
    await measure(server, 'DescribeImages/http', rep(N, () => http(describe)));
    await measure(server, 'DescribeImages/grpc', rep(N, () => g.images.DescribeImages(
      { regionId: R, status: 'Creating,Available', pageSize: 10 })));
    const a = await images(N);
    const b = await images(N);
    await measure(server, 'DeleteImage/http', rep(N, (i) => http(
      { Action: 'DeleteImage', RegionId: R, ImageId: a[i], Force: 'true' })));
    await measure(server, 'DeleteImage/grpc', rep(N, (i) => g.images.DeleteImage(
      { regionId: R, imageId: b[i], force: true })));
  } finally {
    await server.stop();
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
