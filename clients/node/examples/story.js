#!/usr/bin/env node
'use strict';
// The ecsimage story in Node: create an image, copy it, watch the copy go
// Waiting -> Creating, cancel it, delete (a repeated delete is OK) and meet
// every ECS error of CancelCopyImage and DeleteImage (MissingParameter,
// InvalidRegionId.NotFound, InvalidImageId.NotFound, ImageCreatedNotFromCopy,
// IncorrectImageStatus in each phase, CancelNotSupported, ImageIsImporting,
// OperationDenied.ImageCopying, ImageIsExporting, ImageIsPublic,
// ImageUseShared, ImageUsingByInstance), each decoded from
// grpc-status-details-bin.
//
//   ECSIMAGE_TARGET=127.0.0.1:50051 ECSIMAGE_TOKEN=<A> ECSIMAGE_TOKEN2=<B> \
//   ECSIMAGE_ACCOUNT2=<B's account id> node story.js
//
// It requires the installed package (npm install @ecsimage/client, or the
// tarball `npm pack` makes in clients/node); scripts/clients_test.sh runs it
// from a temporary project outside the repository.
//
// Needs a server started with --simulation-control. Prints one line per
// check ("ok - ..." or "FAIL - ...") and exits 1 if any check failed.

const crypto = require('crypto');
const ecsimage = require('@ecsimage/client');

const { Client, EcsError } = ecsimage;
// The EcsError subclass each gRPC code must reject with.
const FAMILY = {
  NOT_FOUND: ecsimage.NotFoundError,
  FAILED_PRECONDITION: ecsimage.PreconditionError,
  INVALID_ARGUMENT: ecsimage.InvalidParameterError,
  UNAUTHENTICATED: ecsimage.AuthenticationError,
};

const REQUEST_ID = /^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$/;
const IMAGE_ID = /^m-[a-z0-9]{20}$/;
const INSTANCE_ID = /^i-[a-z0-9]{20}$/;
const SRC = 'cn-hangzhou';
const DST = 'cn-shanghai';
const ALL = 'Waiting,Creating,Available,UnAvailable,CreateFailed,Deprecated';

let passed = 0;
let failed = 0;
function check(desc, ok, info = '') {
  if (ok) { passed++; console.log(`ok - ${desc}`); } else { failed++; console.log(`FAIL - ${desc} ${info}`); }
  return ok;
}
const say = (text) => console.log(`# ${text}`);
const show = (x) => JSON.stringify(x);

function upperSnake(code) {
  return code.replace(/(?<=[a-z0-9])([A-Z])/g, '_$1').replace(/[^A-Za-z0-9]+/g, '_').toUpperCase();
}

// Expects the call to fail with that ECS code (null: any), gRPC code name and
// HTTP status (undefined: any); detail(e) checks the typed detail.
async function expectError(desc, fn, code, grpcCode, httpStatus, detail) {
  try {
    await fn();
  } catch (e) {
    if (!(e instanceof EcsError)) { check(desc, false, `unexpected ${e}`); return null; }
    say(`${desc} -> ${e}`);
    check(`${desc}: ${code || '*'} / ${grpcCode} / HTTP ${httpStatus}`,
      (code === null || e.code === code) && e.grpcCodeName === grpcCode &&
      (httpStatus === undefined || e.httpStatus === httpStatus),
      `got ${e.code} / ${e.grpcCodeName} / HTTP ${e.httpStatus}`);
    check(`${desc}: rejected as ${FAMILY[grpcCode].name}`, e instanceof FAMILY[grpcCode], e.name);
    if (code !== null) {
      check(`${desc}: RequestId in details and trailer`,
        REQUEST_ID.test(e.requestId || '') && e.requestId === e.trailerRequestId &&
        e.requestInfo && e.requestInfo.requestId === e.requestId,
        `${e.requestId} vs trailer ${e.trailerRequestId}`);
      check(`${desc}: ErrorInfo reason is UPPER_SNAKE`, e.reason === upperSnake(code), e.reason);
    }
    if (detail) check(`${desc}: ${detail.what} detail`, detail(e), show(e.details));
    return e;
  }
  check(desc, false, `call succeeded, expected ${code || grpcCode}`);
  return null;
}

function precondition(prefix) {
  const f = (e) => {
    const v = e.preconditionFailure && e.preconditionFailure.violations[0];
    return Boolean(v && v.type === e.code && v.subject.startsWith(prefix));
  };
  f.what = 'PreconditionFailure';
  return f;
}
const resourceInfo = (e) => Boolean(e.resourceInfo && e.resourceInfo.resourceName);
resourceInfo.what = 'ResourceInfo';
function badRequest(field) {
  const f = (e) => Boolean(e.badRequest && e.badRequest.fieldViolations.length &&
    e.badRequest.fieldViolations[0].field === field);
  f.what = 'BadRequest';
  return f;
}

async function run(target, token, token2, account2) {
  const a = new Client(target, token);
  const b = new Client(target, token2);
  const sfx = crypto.randomBytes(4).toString('hex');
  const describe = (region, id, Status = ALL) => a.describeImages({ RegionId: region, ImageId: id, Status });

  const regions = await a.describeRegions({});
  const names = new Set(regions.Regions.map((r) => r.RegionId));
  check('DescribeRegions lists cn-hangzhou and cn-shanghai', names.has(SRC) && names.has(DST));

  // 1. Create an image; with --simulation-control it stays Creating until
  //    driven to Available.
  const created = await a.createImage({ RegionId: SRC, ImageName: `story-node-${sfx}`, Description: 'node story', Size: 20 });
  const src = created.ImageId;
  say(`CreateImage -> ${src} (RequestId ${created.RequestId})`);
  check('CreateImage returns an m- ImageId', IMAGE_ID.test(src), src);
  check('CreateImage returns a RequestId', REQUEST_ID.test(created.RequestId), created.RequestId);
  let moved = await a.advanceTask({ RegionId: SRC, ImageId: src, Phase: 'Available' });
  check('AdvanceTask makes the image Available', moved.Status === 'Available', show(moved));

  // 2. Copy it: Waiting (QUEUED), then Creating.
  const copied = await a.copyImage({ RegionId: SRC, ImageId: src, DestinationRegionId: DST, DestinationImageName: `story-node-copy-${sfx}` });
  const cp = copied.ImageId;
  say(`CopyImage -> ${cp}`);
  check('CopyImage returns an m- ImageId', IMAGE_ID.test(cp), cp);
  let img = (await describe(DST, cp, 'Waiting,Creating')).Images;
  check('the copy is Waiting (QUEUED, 0%)', img.length === 1 && img[0].Status === 'Waiting' &&
    img[0].CopyPhase === 'QUEUED' && img[0].Progress === '0%' && img[0].IsCopied, show(img));

  await expectError("DeleteImage of the copy's source", () => a.deleteImage({ RegionId: SRC, ImageId: src }),
    'OperationDenied.ImageCopying', 'FAILED_PRECONDITION', 403, precondition(''));

  await a.advanceTask({ RegionId: DST, ImageId: cp, Phase: 'PREPARING' });
  img = (await describe(DST, cp, 'Waiting,Creating')).Images;
  check('PREPARING: the copy is Creating 0%', img.length === 1 && img[0].Status === 'Creating' && img[0].Progress === '0%', show(img));
  await a.advanceTask({ RegionId: DST, ImageId: cp, Phase: 'TRANSFERRING', Progress: 40 });
  img = (await describe(DST, cp, 'Waiting,Creating')).Images;
  check('TRANSFERRING: the copy is Creating 40%', img.length === 1 && img[0].Status === 'Creating' &&
    img[0].Progress === '40%' && img[0].CopyPhase === 'TRANSFERRING', show(img));

  // 3. Cancel: CANCELLING (UnAvailable), then CANCELLED (a tombstone).
  const cancelled = await a.cancelCopyImage({ RegionId: DST, ImageId: cp });
  check('CancelCopyImage succeeds with a RequestId', REQUEST_ID.test(cancelled.RequestId), show(cancelled));
  img = (await describe(DST, cp)).Images;
  check('the cancelled copy is UnAvailable (CANCELLING)', img.length === 1 && img[0].Status === 'UnAvailable' &&
    img[0].CopyPhase === 'CANCELLING', show(img));
  const again = await expectError('CancelCopyImage while CANCELLING', () => a.cancelCopyImage({ RegionId: DST, ImageId: cp }),
    'IncorrectImageStatus', 'FAILED_PRECONDITION', 400, precondition(''));
  if (again) check('CANCELLING: its message', again.message === 'The specified image is not coping.', again.message);
  moved = await a.advanceTask({ RegionId: DST, ImageId: cp, Phase: 'CANCELLED' });
  check('CANCELLED: the copy is a tombstone', moved.Phase === 'CANCELLED' && moved.Status === '', show(moved));
  check('a tombstone is never described', (await describe(DST, cp)).TotalCount === 0);

  // 4. Deleting a tombstone is OK, again and again.
  for (const n of [1, 2]) {
    const r = await a.deleteImage({ RegionId: DST, ImageId: cp });
    check(`DeleteImage of the tombstone #${n} is OK`, REQUEST_ID.test(r.RequestId), show(r));
  }
  await expectError('CancelCopyImage of the cancelled copy', () => a.cancelCopyImage({ RegionId: DST, ImageId: cp }),
    'InvalidImageId.NotFound', 'NOT_FOUND', 404);

  // 5. Blockers of DeleteImage: shares, then instances.
  const inst = (await a.runInstances({ RegionId: SRC, ImageId: src, Amount: 1 })).InstanceIdSets;
  check('RunInstances returns an i- InstanceId', inst.length === 1 && INSTANCE_ID.test(inst[0]), show(inst));
  await a.modifyImageSharePermission({ RegionId: SRC, ImageId: src, AddAccount: [account2] });
  await expectError('DeleteImage of a shared image', () => a.deleteImage({ RegionId: SRC, ImageId: src }),
    'ImageUseShared', 'FAILED_PRECONDITION', 403, precondition(''));
  const shared = (await b.describeImages({ RegionId: SRC, ImageId: src })).Images;
  check('B sees the shared image as others', shared.length === 1 && shared[0].ImageOwnerAlias === 'others', show(shared));
  await expectError("B deleting A's shared image", () => b.deleteImage({ RegionId: SRC, ImageId: src }),
    'InvalidImageId.NotFound', 'NOT_FOUND', 404, resourceInfo);
  await a.modifyImageSharePermission({ RegionId: SRC, ImageId: src, RemoveAccount: [account2] });
  const e = await expectError('DeleteImage of an image instances use', () => a.deleteImage({ RegionId: SRC, ImageId: src }),
    'ImageUsingByInstance', 'FAILED_PRECONDITION', 403, precondition('instance/'));
  if (e && e.preconditionFailure) {
    check('ImageUsingByInstance names the instance',
      e.preconditionFailure.violations[0].subject === `instance/${inst[0]}`, show(e.preconditionFailure));
  }
  let r = await a.deleteImage({ RegionId: SRC, ImageId: src, Force: true });
  check('DeleteImage Force=true succeeds', REQUEST_ID.test(r.RequestId), show(r));
  r = await a.deleteImage({ RegionId: SRC, ImageId: src });
  check('a repeated DeleteImage is OK', REQUEST_ID.test(r.RequestId), show(r));
  check('the deleted image is not described', (await describe(SRC, src)).TotalCount === 0);

  // 6. Ids that never existed; missing and broken tokens.
  await expectError('DeleteImage of an id that never existed',
    () => a.deleteImage({ RegionId: SRC, ImageId: `m-${'0'.repeat(20)}` }),
    'InvalidImageId.NotFound', 'NOT_FOUND', 404, resourceInfo);
  for (const [desc, tok] of [['a call without a token', null], ['a call with a broken token', 'not-a-token']]) {
    const c = new Client(target, tok);
    await expectError(desc, () => c.describeRegions({}), null, 'UNAUTHENTICATED');
    c.close();
  }
  await moreErrors(a, sfx);
  a.close();
  b.close();
}

// The rest of the headline pair's errors: missing parameters, unknown
// regions, copies that are not cancellable (by phase, by encryption), and the
// import, export and publication that block DeleteImage.
async function moreErrors(a, sfx) {
  const none = `m-${'0'.repeat(20)}`;
  for (const [rpc, fn] of [['DeleteImage', (r) => a.deleteImage(r)], ['CancelCopyImage', (r) => a.cancelCopyImage(r)]]) {
    await expectError(`${rpc} without ImageId`, () => fn({ RegionId: SRC }),
      'MissingParameter', 'INVALID_ARGUMENT', 400, badRequest('ImageId'));
    await expectError(`${rpc} in a region that does not exist`, () => fn({ RegionId: 'cn-nowhere', ImageId: none }),
      'InvalidRegionId.NotFound', 'NOT_FOUND', 404, resourceInfo);
  }
  const base = (await a.createImage({ RegionId: SRC, ImageName: `story-node-base-${sfx}`, Size: 20 })).ImageId;
  await a.advanceTask({ RegionId: SRC, ImageId: base, Phase: 'Available' });
  await expectError('CancelCopyImage of an image that is not a copy', () => a.cancelCopyImage({ RegionId: SRC, ImageId: base }),
    'ImageCreatedNotFromCopy', 'FAILED_PRECONDITION', 400, precondition(''));

  const copy = async (name, extra = {}) => (await a.copyImage({ RegionId: SRC, ImageId: base,
    DestinationRegionId: DST, DestinationImageName: `${name}${sfx}`, ...extra })).ImageId;
  const notCancellable = async (desc, image, message) => {
    const e = await expectError(desc, () => a.cancelCopyImage({ RegionId: DST, ImageId: image }),
      'IncorrectImageStatus', 'FAILED_PRECONDITION', 400, precondition(''));
    if (e) check(`${desc}: its message`, e.message === message, e.message);
  };
  const c = await copy('story-node-phases-');
  for (const [phase, message] of [['PREPARING', 'The specified snapshot is not coping.'],
    ['REGISTERING', 'The image is copied finished.'], ['SUCCEEDED', 'The image has completed copy.']]) {
    await a.advanceTask({ RegionId: DST, ImageId: c, Phase: phase });
    await notCancellable(`CancelCopyImage in ${phase}`, c, message);
  }
  const f = await copy('story-node-failed-');
  await a.advanceTask({ RegionId: DST, ImageId: f, Phase: 'PREPARING' });
  await a.failTask({ RegionId: DST, ImageId: f });
  await notCancellable('CancelCopyImage of a FAILED copy', f, 'The Image copy has been failed.');
  const enc = await copy('story-node-encrypted-', { Encrypted: true });
  await expectError('CancelCopyImage of an encrypted copy', () => a.cancelCopyImage({ RegionId: DST, ImageId: enc }),
    'CancelNotSupported', 'FAILED_PRECONDITION', 400, precondition(''));
  await a.advanceTask({ RegionId: DST, ImageId: enc, Phase: 'PREPARING' });
  await a.failTask({ RegionId: DST, ImageId: enc });

  const imp = await a.importImage({ RegionId: SRC, ImageName: `story-node-import-${sfx}`,
    OSSBucket: 'my-bucket', OSSObject: 'story.qcow2', Size: 20 });
  await expectError('DeleteImage of an importing image', () => a.deleteImage({ RegionId: SRC, ImageId: imp.ImageId }),
    'ImageIsImporting', 'FAILED_PRECONDITION', 403, precondition(''));
  await a.cancelTask({ RegionId: SRC, TaskId: imp.TaskId });

  const exp = await a.exportImage({ RegionId: SRC, ImageId: base, OSSBucket: 'my-bucket', OSSPrefix: 'exports/' });
  const e = await expectError('DeleteImage of an exporting image', () => a.deleteImage({ RegionId: SRC, ImageId: base }),
    'ImageIsExporting', 'FAILED_PRECONDITION', 403, precondition(''));
  if (e) check('ImageIsExporting carries RetryInfo', e.retryInfo !== undefined, show(e.details));
  await a.advanceTask({ RegionId: SRC, TaskId: exp.TaskId, Phase: 'Finished' });

  await a.modifyImageSharePermission({ RegionId: SRC, ImageId: base, IsPublic: true });
  await expectError('DeleteImage of a public image', () => a.deleteImage({ RegionId: SRC, ImageId: base }),
    'ImageIsPublic', 'FAILED_PRECONDITION', 403, precondition(''));
  await a.modifyImageSharePermission({ RegionId: SRC, ImageId: base, IsPublic: false });
  const r = await a.deleteImage({ RegionId: SRC, ImageId: base });
  check('DeleteImage once nothing blocks it', REQUEST_ID.test(r.RequestId), show(r));
}

async function main() {
  const env = process.env;
  const missing = ['ECSIMAGE_TARGET', 'ECSIMAGE_TOKEN', 'ECSIMAGE_TOKEN2', 'ECSIMAGE_ACCOUNT2'].filter((k) => !env[k]);
  if (missing.length) {
    console.error(`set ${missing.join(', ')}`);
    process.exit(2);
  }
  try {
    await run(env.ECSIMAGE_TARGET, env.ECSIMAGE_TOKEN, env.ECSIMAGE_TOKEN2, env.ECSIMAGE_ACCOUNT2);
  } catch (e) {
    check('story ran to the end', false, `unexpected error: ${e}`);
  }
  console.log(`node: ${passed} passed, ${failed} failed`);
  process.exit(failed || !passed ? 1 : 0);
}

main();
