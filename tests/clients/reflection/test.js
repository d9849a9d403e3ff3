#!/usr/bin/env node
'use strict';
// Reflection-only client test: what a grpcurl user gets. Knows no .proto
// file; discovers the services by server reflection, sends ECS-style JSON
// ({"RegionId": ...}) mapped through json_name, and decodes
// grpc-status-details-bin into typed ErrorInfo / RequestInfo /
// PreconditionFailure / ResourceInfo using descriptors of
// google/rpc/error_details.proto that the server itself serves. Also calls
// grpc.health.v1.Health/Check through reflection.
//
//   ECSIMAGE_TARGET=127.0.0.1:50051 ECSIMAGE_TOKEN=<A> ECSIMAGE_TOKEN2=<B> \
//   ECSIMAGE_ACCOUNT2=<B's id> node tests/clients/reflection/test.js
//
// Needs --simulation-control. One line per check; exit 1 on any failure.

const crypto = require('crypto');
const { ReflectionClient, formatError } = require('./reflection');

const REQUEST_ID = /^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$/;
const IMAGE_ID = /^m-[a-z0-9]{20}$/;
const ERROR_INFO = 'type.googleapis.com/google.rpc.ErrorInfo';
const REQUEST_INFO = 'type.googleapis.com/google.rpc.RequestInfo';
const PRECONDITION = 'type.googleapis.com/google.rpc.PreconditionFailure';
const RESOURCE_INFO = 'type.googleapis.com/google.rpc.ResourceInfo';
const IMG = 'ecs.image.v1.ImageService';
const SIM = 'ecs.image.v1.SimulationControl';
const SRC = 'cn-hangzhou';
const DST = 'cn-shanghai';
const ALL = 'Waiting,Creating,Available,UnAvailable,CreateFailed,Deprecated';

let passed = 0;
let failed = 0;
function check(desc, ok, info = '') {
  if (ok) { passed++; console.log(`ok - ${desc}`); } else { failed++; console.log(`FAIL - ${desc} ${info}`); }
  return ok;
}
const show = (x) => JSON.stringify(x);
const upperSnake = (code) => code.replace(/(?<=[a-z0-9])([A-Z])/g, '_$1').replace(/[^A-Za-z0-9]+/g, '_').toUpperCase();

async function ok(rc, method, json, headers) {
  const r = await rc.invoke(method, json, { headers });
  if (!r.ok) throw new Error(`${method} ${show(json)} failed:\n${formatError(r)}`);
  return r.json;
}

// Expects an ECS error; checks the details decoded by reflection.
async function expectEcsError(rc, desc, method, json, code, goCode, detailType, detailCheck) {
  const r = await rc.invoke(method, json);
  if (r.ok) { check(desc, false, `succeeded: ${show(r.json)}`); return null; }
  const info = r.details.find((d) => d['@type'] === ERROR_INFO);
  const req = r.details.find((d) => d['@type'] === REQUEST_INFO);
  const md = (info && info.metadata) || {};
  check(`${desc}: ${code} / ${goCode}`, md.code === code && r.goCodeName === goCode,
    `got ${md.code} / ${r.goCodeName}: ${r.message}`);
  check(`${desc}: typed ErrorInfo (reason, httpStatus) via reflected descriptors`,
    Boolean(info) && info.reason === upperSnake(code) && /^[45]\d\d$/.test(md.httpStatus || '') &&
    typeof info.domain === 'string' && info.domain.length > 0, show(info));
  check(`${desc}: RequestInfo.requestId = metadata requestId = x-acs-request-id`,
    Boolean(req) && REQUEST_ID.test(req.requestId || '') && req.requestId === md.requestId &&
    String(r.trailers['x-acs-request-id']) === req.requestId, show({ req, md, t: r.trailers['x-acs-request-id'] }));
  if (detailType) {
    const d = r.details.find((x) => x['@type'] === detailType);
    check(`${desc}: ${detailType.replace(/.*\./, '')} detail`, Boolean(d) && (!detailCheck || detailCheck(d)), show(r.details));
  }
  return r;
}

async function main() {
  const env = process.env;
  const target = env.ECSIMAGE_TARGET;
  if (!target || !env.ECSIMAGE_TOKEN || !env.ECSIMAGE_TOKEN2 || !env.ECSIMAGE_ACCOUNT2) {
    console.error('set ECSIMAGE_TARGET, ECSIMAGE_TOKEN, ECSIMAGE_TOKEN2, ECSIMAGE_ACCOUNT2');
    process.exit(2);
  }
  const auth = (t) => [['authorization', `Bearer ${t}`]];
  const rc = new ReflectionClient(target, { headers: auth(env.ECSIMAGE_TOKEN) });
  const sfx = crypto.randomBytes(4).toString('hex');
  try {
    // Discovery.
    const services = await rc.listServices();
    for (const s of [IMG, 'ecs.image.v1.InstanceService', SIM, 'grpc.health.v1.Health']) {
      check(`reflection lists ${s}`, services.includes(s), show(services));
    }
    check('reflection lists grpc.reflection.v1alpha.ServerReflection',
      services.includes('grpc.reflection.v1alpha.ServerReflection'), show(services));
    await rc.resolveSymbol('google.rpc.ErrorInfo');
    check('reflection serves google/rpc/error_details.proto',
      rc.pool.files.has('google/rpc/error_details.proto') && rc.pool.messages.has('.google.rpc.PreconditionFailure'));
    await rc.resolveSymbol(IMG);
    const reqDesc = rc.pool.message('ecs.image.v1.DeleteImageRequest');
    check('descriptors carry the ECS json_name', reqDesc.fields.map((f) => f.jsonName).join(',') === 'RegionId,ImageId,Force',
      show(reqDesc.fields));

    // Health through reflection, no token.
    const health = await rc.invoke('grpc.health.v1.Health/Check', {}, { headers: [] });
    check('grpc.health.v1.Health/Check is SERVING', health.ok && health.json.status === 'SERVING', show(health));

    // The story, in ECS JSON.
    const regions = await ok(rc, `${IMG}/DescribeRegions`, {});
    check('DescribeRegions answers "Regions" with "RegionId" keys',
      regions.Regions.some((r) => r.RegionId === SRC) && REQUEST_ID.test(regions.RequestId), show(regions));
    const created = await ok(rc, `${IMG}/CreateImage`, { RegionId: SRC, ImageName: `story-refl-${sfx}`, Size: 20 });
    const src = created.ImageId;
    check('CreateImage returns an ImageId', IMAGE_ID.test(src || ''), show(created));
    const avail = await ok(rc, `${SIM}/AdvanceTask`, { RegionId: SRC, ImageId: src, Phase: 'Available' });
    check('AdvanceTask -> Available', avail.Status === 'Available', show(avail));
    const copied = await ok(rc, `${IMG}/CopyImage`, { RegionId: SRC, ImageId: src, DestinationRegionId: DST, DestinationImageName: `story-refl-copy-${sfx}` });
    const cp = copied.ImageId;
    check('CopyImage returns an ImageId', IMAGE_ID.test(cp || ''), show(copied));
    let d = await ok(rc, `${IMG}/DescribeImages`, { RegionId: DST, ImageId: cp, Status: 'Waiting,Creating' });
    check('the copy is Waiting', d.Images && d.Images[0].Status === 'Waiting' && d.Images[0].IsCopied === true, show(d));
    await expectEcsError(rc, "DeleteImage of the copy's source", `${IMG}/DeleteImage`, { RegionId: SRC, ImageId: src },
      'OperationDenied.ImageCopying', 'FailedPrecondition', PRECONDITION,
      (p) => p.violations[0].type === 'OperationDenied.ImageCopying');
    await ok(rc, `${SIM}/AdvanceTask`, { RegionId: DST, ImageId: cp, Phase: 'PREPARING' });
    await ok(rc, `${SIM}/AdvanceTask`, { RegionId: DST, ImageId: cp, Phase: 'TRANSFERRING', Progress: 40 });
    d = await ok(rc, `${IMG}/DescribeImages`, { RegionId: DST, ImageId: cp, Status: 'Waiting,Creating' });
    check('then Creating 40%', d.Images && d.Images[0].Status === 'Creating' && d.Images[0].Progress === '40%', show(d));
    await ok(rc, `${IMG}/CancelCopyImage`, { RegionId: DST, ImageId: cp });
    d = await ok(rc, `${IMG}/DescribeImages`, { RegionId: DST, ImageId: cp, Status: ALL });
    check('cancelled copy is UnAvailable', d.Images && d.Images[0].Status === 'UnAvailable', show(d));
    await ok(rc, `${SIM}/AdvanceTask`, { RegionId: DST, ImageId: cp, Phase: 'CANCELLED' });
    const del1 = await ok(rc, `${IMG}/DeleteImage`, { RegionId: DST, ImageId: cp });
    const del2 = await ok(rc, `${IMG}/DeleteImage`, { RegionId: DST, ImageId: cp });
    check('DeleteImage of the tombstone is OK twice', REQUEST_ID.test(del1.RequestId) && REQUEST_ID.test(del2.RequestId));

    const ran = await ok(rc, 'ecs.image.v1.InstanceService/RunInstances', { RegionId: SRC, ImageId: src, Amount: 1 });
    const inst = ran.InstanceIdSets || [];
    check('RunInstances returns InstanceIdSets', inst.length === 1, show(ran));
    await ok(rc, `${IMG}/ModifyImageSharePermission`, { RegionId: SRC, ImageId: src, AddAccount: [env.ECSIMAGE_ACCOUNT2] });
    await expectEcsError(rc, 'DeleteImage of a shared image', `${IMG}/DeleteImage`, { RegionId: SRC, ImageId: src },
      'ImageUseShared', 'FailedPrecondition', PRECONDITION);
    await ok(rc, `${IMG}/ModifyImageSharePermission`, { RegionId: SRC, ImageId: src, RemoveAccount: [env.ECSIMAGE_ACCOUNT2] });
    await expectEcsError(rc, 'DeleteImage of an image instances use', `${IMG}/DeleteImage`, { RegionId: SRC, ImageId: src },
      'ImageUsingByInstance', 'FailedPrecondition', PRECONDITION,
      (p) => p.violations[0].subject === `instance/${inst[0]}`);
    await ok(rc, `${IMG}/DeleteImage`, { RegionId: SRC, ImageId: src, Force: true });
    await expectEcsError(rc, 'DeleteImage of an id that never existed', `${IMG}/DeleteImage`,
      { RegionId: SRC, ImageId: `m-${'0'.repeat(20)}` }, 'InvalidImageId.NotFound', 'NotFound', RESOURCE_INFO,
      (ri) => ri.resourceName === `m-${'0'.repeat(20)}`);

    // JSON mistakes are caught client-side, as grpcurl does.
    let threw = false;
    try { await rc.invoke(`${IMG}/DeleteImage`, { RegionID: SRC }); } catch (e) { threw = /no known field/.test(e.message); }
    check('an unknown JSON key is rejected before sending', threw);

    // Tokens.
    for (const [desc, headers] of [['no token', []], ['a broken token', auth('not-a-token')]]) {
      const r = await rc.invoke(`${IMG}/DescribeRegions`, {}, { headers });
      check(`${desc}: Unauthenticated`, !r.ok && r.goCodeName === 'Unauthenticated', show(r));
    }
    const b = await rc.invoke(`${IMG}/DescribeRegions`, {}, { headers: auth(env.ECSIMAGE_TOKEN2) });
    check("account B's token works", b.ok, show(b));
  } catch (e) {
    check('reflection story ran to the end', false, e.stack);
  } finally {
    rc.close();
  }
  console.log(`reflection: ${passed} passed, ${failed} failed`);
  process.exit(failed || !passed ? 1 : 0);
}

main();
