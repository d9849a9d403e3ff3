// The lifecycle and every CancelCopyImage and DeleteImage error (api.md §3,
// §4), written once and walked by each SDK through `sdk`:
//   sdk.cancel(region, imageId)          CancelCopyImage
//   sdk.del(region, imageId, force)      DeleteImage
//   sdk.expectError(promise, code, httpStatus, message)
// Set-up steps go through `rpc(action, params)` (pop-core, same account).
'use strict';

const assert = require('node:assert/strict');

const R = 'cn-hangzhou';
const D = 'cn-shanghai';

async function walk(sdk, rpc, bobId) {
  let n = 0;
  const name = () => `${sdk.name}-${Date.now() % 100000}-${++n}`;
  const available = async () => {
    const { ImageId } = await rpc('CreateImage', { RegionId: R, ImageName: name(),
      'DiskDeviceMapping.1.Size': 20 });
    await rpc('AdvanceTask', { RegionId: R, ImageId, Phase: 'Available' });
    return ImageId;
  };
  const copy = async (src, extra = {}) => (await rpc('CopyImage', { RegionId: R,
    ImageId: src, DestinationRegionId: D, DestinationImageName: name(), ...extra })).ImageId;
  const advance = (id, Phase) => rpc('AdvanceTask', { RegionId: D, ImageId: id, Phase });

  const src = await available();
  const notFound = 'The specified ImageId does not exist.';

  // CancelCopyImage, first match wins.
  await sdk.expectError(sdk.cancel('xx-nowhere-1', src), 'InvalidRegionId.NotFound', 404,
    'The specified RegionId does not exist.');
  await sdk.expectError(sdk.cancel(R, 'm-aaaaaaaaaaaaaaaaaaaa'), 'InvalidImageId.NotFound',
    404, notFound);
  await sdk.expectError(sdk.cancel(R, src), 'ImageCreatedNotFromCopy', 400,
    'The specified image is not the target image of a copy action.');
  const queued = await copy(src);
  await sdk.cancel(D, queued);  // QUEUED -> CANCELLED at once
  await sdk.expectError(sdk.cancel(D, queued), 'InvalidImageId.NotFound', 404, notFound);
  const enc = await copy(src, { Encrypted: true });
  await sdk.expectError(sdk.cancel(D, enc), 'CancelNotSupported', 400,
    'The specified image coping can not be cancelled.');
  const c1 = await copy(src);
  await advance(c1, 'PREPARING');
  await sdk.expectError(sdk.cancel(D, c1), 'IncorrectImageStatus', 400,
    'The specified snapshot is not coping.');
  await advance(c1, 'TRANSFERRING');
  await sdk.cancel(D, c1);  // TRANSFERRING -> CANCELLING
  await sdk.expectError(sdk.cancel(D, c1), 'IncorrectImageStatus', 400,
    'The specified image is not coping.');
  const c2 = await copy(src);
  await advance(c2, 'REGISTERING');
  await sdk.expectError(sdk.cancel(D, c2), 'IncorrectImageStatus', 400,
    'The image is copied finished.');
  await advance(c2, 'SUCCEEDED');
  await sdk.expectError(sdk.cancel(D, c2), 'IncorrectImageStatus', 400,
    'The image has completed copy.');
  const c3 = await copy(src);
  await advance(c3, 'PREPARING');
  await rpc('FailTask', { RegionId: D, ImageId: c3 });
  await sdk.expectError(sdk.cancel(D, c3), 'IncorrectImageStatus', 400,
    'The Image copy has been failed.');

  // DeleteImage, first match wins.
  await sdk.expectError(sdk.del('xx-nowhere-1', src, false), 'InvalidRegionId.NotFound', 404,
    'The specified RegionId does not exist.');
  await sdk.expectError(sdk.del(R, 'm-aaaaaaaaaaaaaaaaaaaa', false), 'InvalidImageId.NotFound',
    404, notFound);
  const imported = (await rpc('ImportImage', { RegionId: R, ImageName: name(),
    OSSBucket: 'b', OSSObject: 'o.qcow2', Size: 20 })).ImageId;
  await sdk.expectError(sdk.del(R, imported, false), 'ImageIsImporting', 403,
    'The specified Image is importing.');
  const copying = await available();
  const pending = await copy(copying);
  await sdk.expectError(sdk.del(R, copying, false), 'OperationDenied.ImageCopying', 403,
    'The Image is coping.');
  await sdk.expectError(sdk.del(D, pending, false), 'OperationDenied.ImageCopying', 403,
    'The Image is coping.');
  const exporting = await available();
  await rpc('ExportImage', { RegionId: R, ImageId: exporting, OSSBucket: 'b' });
  await sdk.expectError(sdk.del(R, exporting, false), 'ImageIsExporting', 403,
    'The specified Image is exporting. Please cancel task first.');
  const pub = await available();
  await rpc('ModifyImageSharePermission', { RegionId: R, ImageId: pub, IsPublic: true });
  await sdk.expectError(sdk.del(R, pub, false), 'ImageIsPublic', 403,
    'You can not delete public image, please modify it to private.');
  const shared = await available();
  await rpc('ModifyImageSharePermission', { RegionId: R, ImageId: shared,
    'AddAccount.1': bobId });
  const perms = await rpc('DescribeImageSharePermission', { RegionId: R, ImageId: shared });
  assert.deepEqual(perms.Accounts.Account.map((a) => a.AliyunId), [bobId]);
  await sdk.expectError(sdk.del(R, shared, false), 'ImageUseShared', 403,
    'The specified image has been shared to others.');
  const used = await available();
  const run = await rpc('RunInstances', { RegionId: R, ImageId: used, Amount: 2 });
  assert.equal(run.InstanceIdSets.InstanceIdSet.length, 2);
  const listed = await rpc('DescribeInstances', { RegionId: R, ImageId: used });
  assert.equal(listed.TotalCount, 2);
  await sdk.expectError(sdk.del(R, used, false), 'ImageUsingByInstance', 403,
    'The specified image has been used to create instances.');
  await sdk.del(R, used, true);  // Force overrides instances only
  await rpc('DeleteInstance', { InstanceId: run.InstanceIdSets.InstanceIdSet[0] });
  await sdk.del(R, used, false);  // a tombstone of the caller's: OK
}

module.exports = { walk, R, D };
