// @alicloud/ecs20140526 v7 (V3 ACS3-HMAC-SHA256), unchanged but for its
// endpoint, walks the lifecycle and meets every CancelCopyImage and
// DeleteImage error; asserts the SDK's own code, statusCode and requestId.
// Mixed: what HTTP creates, gRPC deletes, and the reverse.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { Server, v7Client, popClient, grpcClients, REQUEST_ID, Ecs } = require('./lib');
const { walk, R, D } = require('./walk');

let server;
let alice;
let bob;
let ecs;
let pop;

test.before(async () => {
  server = await Server.start();
  alice = server.account('alice');
  bob = server.account('bob');
  ecs = v7Client(server, alice);
  pop = popClient(server, alice);
});
test.after(async () => server && server.stop());

const rpc = (action, params) => pop.request(action, params, { method: 'POST' });

async function expectError(promise, code, statusCode, message) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.code, code, err.message);
    assert.equal(err.statusCode, statusCode, err.message);
    assert.match(err.requestId, REQUEST_ID);
    if (message) assert.ok(err.message.includes(message), err.message);
    return true;
  });
}

test('v7: create, describe with paging, modify, copy, share, publish, instances', async () => {
  const ids = [];
  for (let i = 0; i < 3; i++) {
    const created = await ecs.createImage(new Ecs.CreateImageRequest({
      regionId: R, imageName: `v7-page-${i}`,
      diskDeviceMapping: [new Ecs.CreateImageRequestDiskDeviceMapping({ size: 30 })],
    }));
    assert.equal(created.statusCode, 200);
    assert.match(created.body.requestId, REQUEST_ID);
    assert.match(created.body.imageId, /^m-[a-z0-9]{20}$/);
    ids.push(created.body.imageId);
    await rpc('AdvanceTask', { RegionId: R, ImageId: created.body.imageId, Phase: 'Available' });
  }
  const page = async (pageNumber) => (await ecs.describeImages(new Ecs.DescribeImagesRequest({
    regionId: R, imageOwnerAlias: 'self', pageSize: 2, pageNumber }))).body;
  const p1 = await page(1);
  const p2 = await page(2);
  assert.equal(p1.totalCount, 3);
  assert.equal(p1.images.image.length, 2);
  assert.equal(p2.images.image.length, 1);
  const seen = [...p1.images.image, ...p2.images.image].map((im) => im.imageId).sort();
  assert.deepEqual(seen, [...ids].sort());
  const one = p1.images.image[0];
  assert.equal(one.status, 'Available');
  // DiskDeviceMapping.N.Size reaches the domain; the image's own Size
  // stays the domain's (data-plane.md §2 is not in this branch).
  assert.equal(one.diskDeviceMappings.diskDeviceMapping[0].size, '30');  // ECS: a string
  assert.equal(typeof one.size, 'number');
  assert.equal(one.isCopied, false);

  await ecs.modifyImageAttribute(new Ecs.ModifyImageAttributeRequest({
    regionId: R, imageId: ids[0], description: 'described over HTTP' }));
  const copied = await ecs.copyImage(new Ecs.CopyImageRequest({ regionId: R,
    imageId: ids[0], destinationRegionId: D, destinationImageName: 'v7-copy' }));
  const waiting = (await ecs.describeImages(new Ecs.DescribeImagesRequest({ regionId: D,
    imageId: copied.body.imageId, status: 'Waiting,Creating' }))).body.images.image;
  assert.equal(waiting.length, 1);
  assert.equal(waiting[0].isCopied, true);
  await ecs.cancelCopyImage(new Ecs.CancelCopyImageRequest({
    regionId: D, imageId: copied.body.imageId }));

  await ecs.modifyImageSharePermission(new Ecs.ModifyImageSharePermissionRequest({
    regionId: R, imageId: ids[1], addAccount: [bob.id] }));
  const bobEcs = v7Client(server, bob);
  const others = (await bobEcs.describeImages(new Ecs.DescribeImagesRequest({
    regionId: R, imageOwnerAlias: 'others' }))).body.images.image.map((im) => im.imageId);
  assert.ok(others.includes(ids[1]));
  await ecs.modifyImageSharePermission(new Ecs.ModifyImageSharePermissionRequest({
    regionId: R, imageId: ids[2], isPublic: true }));

  const run = await ecs.runInstances(new Ecs.RunInstancesRequest({
    regionId: R, imageId: ids[0], amount: 1 }));
  const instanceId = run.body.instanceIdSets.instanceIdSet[0];
  assert.match(instanceId, /^i-[a-z0-9]{20}$/);
  await expectError(ecs.deleteImage(new Ecs.DeleteImageRequest({ regionId: R, imageId: ids[0] })),
    'ImageUsingByInstance', 403);
  await ecs.deleteInstance(new Ecs.DeleteInstanceRequest({ instanceId }));
  const deleted = await ecs.deleteImage(new Ecs.DeleteImageRequest({ regionId: R, imageId: ids[0] }));
  assert.equal(deleted.statusCode, 200);
  assert.equal(deleted.headers['x-acs-request-id'], deleted.body.requestId);
});

test('v7: ImportImage with data disks in ECS\'s DiskDeviceMapping.N', async () => {
  const disk = (obj, size, format) => new Ecs.ImportImageRequestDiskDeviceMapping({
    OSSBucket: 'images', OSSObject: obj, format, diskImageSize: size });
  const imported = await ecs.importImage(new Ecs.ImportImageRequest({
    regionId: R, imageName: 'v7-disks',
    diskDeviceMapping: [disk('system.qcow2', 20, 'QCOW2'), disk('data1.raw', 5, 'raw'),
      disk('data2.raw', 7)],
  }));
  assert.equal(imported.statusCode, 200);
  assert.match(imported.body.imageId, /^m-[a-z0-9]{20}$/);
  assert.match(imported.body.taskId, /^t-[a-z0-9]{20}$/);
  const image = (await ecs.describeImages(new Ecs.DescribeImagesRequest({
    regionId: R, imageId: imported.body.imageId,
    status: 'Waiting,Creating,Available' }))).body.images.image[0];
  assert.equal(String(image.size), '20');
  const disks = image.diskDeviceMappings.diskDeviceMapping.map(
    (d) => [d.device, d.type, String(d.size)]);
  assert.deepEqual(disks, [['/dev/xvda', 'system', '20'], ['/dev/xvdb', 'data', '5'],
    ['/dev/xvdc', 'data', '7']]);
  const many = Array.from({ length: 18 }, (_, i) => disk(`d${i}.raw`, 1));
  await expectError(ecs.importImage(new Ecs.ImportImageRequest({
    regionId: R, diskDeviceMapping: many })), 'InvalidParameter', 400);
  await expectError(ecs.importImage(new Ecs.ImportImageRequest({
    regionId: R, diskDeviceMapping: [disk('s.raw', 20), disk('d.vhd', 5, 'VHD')] })),
  'InvalidImageFormat.NotSupported', 400);
});

test('v7: every CancelCopyImage and DeleteImage error', async () => {
  await walk({
    name: 'v7',
    cancel: (regionId, imageId) => ecs.cancelCopyImage(
      new Ecs.CancelCopyImageRequest({ regionId, imageId })),
    del: (regionId, imageId, force) => ecs.deleteImage(
      new Ecs.DeleteImageRequest({ regionId, imageId, force })),
    expectError,
  }, rpc, bob.id);
});

test('v7: DryRun answers DryRunOperation and changes nothing', async () => {
  await expectError(ecs.createImage(new Ecs.CreateImageRequest({
    regionId: R, imageName: 'v7-dry', dryRun: true })), 'DryRunOperation', 412);
  const found = await ecs.describeImages(new Ecs.DescribeImagesRequest({
    regionId: R, imageName: 'v7-dry', status: 'Waiting,Creating,Available' }));
  assert.equal(found.body.totalCount, 0);
});

test('mixed: created over HTTP, deleted over gRPC, and the reverse', async () => {
  const g = grpcClients(server, alice);
  const created = await ecs.createImage(new Ecs.CreateImageRequest({
    regionId: R, imageName: 'mixed-http' }));
  await g.images.DeleteImage({ regionId: R, imageId: created.body.imageId, force: true });
  const gone = await ecs.describeImages(new Ecs.DescribeImagesRequest({
    regionId: R, imageId: created.body.imageId, status: 'Creating,Available' }));
  assert.equal(gone.body.totalCount, 0);

  const viaGrpc = await g.images.CreateImage({ regionId: R, imageName: 'mixed-grpc' });
  await rpc('AdvanceTask', { RegionId: R, ImageId: viaGrpc.imageId, Phase: 'Available' });
  const copy = await g.images.CopyImage({ regionId: R, imageId: viaGrpc.imageId,
    destinationRegionId: D, destinationImageName: 'mixed-grpc-copy' });
  await ecs.cancelCopyImage(new Ecs.CancelCopyImageRequest({ regionId: D, imageId: copy.imageId }));
  await assert.rejects(g.images.CancelCopyImage({ regionId: D, imageId: copy.imageId }),
    (err) => err.details === 'The specified ImageId does not exist.');
  await ecs.deleteImage(new Ecs.DeleteImageRequest({ regionId: R, imageId: viaGrpc.imageId }));
});
