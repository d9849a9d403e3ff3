// @alicloud/pop-core (RPC HMAC-SHA1 v1.0, what the aliyun CLI and Terraform
// send), GET and POST, walks the lifecycle and meets every CancelCopyImage
// and DeleteImage error. pop-core's errors carry only `code` and `data`:
// the HTTP status is checked with a raw signed request.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { Server, popClient, signedQuery, raw, REQUEST_ID, assertErrorBody } = require('./lib');
const { walk, R } = require('./walk');

let server;
let alice;
let bob;
let pop;

test.before(async () => {
  server = await Server.start();
  alice = server.account('alice');
  bob = server.account('bob');
  pop = popClient(server, alice);
});
test.after(async () => server && server.stop());

const rpc = (action, params) => pop.request(action, params, { method: 'POST' });

async function expectError(promise, code, httpStatus, message) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.code, code, err.message);
    assert.match(err.data.RequestId, REQUEST_ID);
    assert.equal(err.data.Code, code);
    if (message) assert.equal(err.data.Message, message);
    return true;
  });
}

test('pop-core: GET and POST lifecycle with paging', async () => {
  const ids = [];
  for (let i = 0; i < 3; i++) {
    const { ImageId, RequestId } = await pop.request('CreateImage',
      { RegionId: R, ImageName: `pop-page-${i}`, 'DiskDeviceMapping.1.Size': 25 });
    assert.match(RequestId, REQUEST_ID);
    ids.push(ImageId);
    await rpc('AdvanceTask', { RegionId: R, ImageId, Phase: 'Available' });
  }
  const p1 = await pop.request('DescribeImages',
    { RegionId: R, ImageOwnerAlias: 'self', PageSize: 2, PageNumber: 1 });
  const p2 = await rpc('DescribeImages',
    { RegionId: R, ImageOwnerAlias: 'self', PageSize: 2, PageNumber: 2 });
  assert.equal(p1.TotalCount, 3);
  assert.equal(p1.Images.Image.length + p2.Images.Image.length, 3);
  assert.equal(p1.Images.Image[0].DiskDeviceMappings.DiskDeviceMapping[0].Size, '25');
  const regions = await pop.request('DescribeRegions', {});
  assert.ok(regions.Regions.Region.some((r) => r.RegionId === 'cn-hangzhou'));
  await rpc('DeleteImage', { RegionId: R, ImageId: ids[0] });
});

test('pop-core: every CancelCopyImage and DeleteImage error', async () => {
  await walk({
    name: 'pop',
    cancel: (RegionId, ImageId) => rpc('CancelCopyImage', { RegionId, ImageId }),
    del: (RegionId, ImageId, Force) => pop.request('DeleteImage', { RegionId, ImageId, Force }),
    expectError,
  }, rpc, bob.id);
});

test('raw: the HTTP status and body of an error', async () => {
  const r = await raw(server, signedQuery(alice, { Action: 'DeleteImage', RegionId: R,
    ImageId: 'm-aaaaaaaaaaaaaaaaaaaa' }));
  assertErrorBody(r, 404, 'InvalidImageId.NotFound');
  assert.equal(r.body.Message, 'The specified ImageId does not exist.');
  assert.equal(r.body.HostId, server.endpoint);
  assert.equal(r.body.Recommend, '');
});
