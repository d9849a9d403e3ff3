// Must NOT type-check (scripts/clients_test.sh runs `tsc --strict` on it and
// expects exactly these errors): the types are generated from the protos, so
// a misspelt ECS name, an RPC that does not exist and a wrong field type are
// caught at compile time.
import { Client } from '@ecsimage/client';

const c = new Client('127.0.0.1:1');
// TS2561: 'RegionID' is not a parameter of DeleteImage (RegionId is).
c.deleteImage({ RegionID: 'cn-hangzhou' });
// TS2551: there is no DeleteImages RPC.
c.deleteImages({});
async function f(): Promise<void> {
  const r = await c.createImage({});
  // TS2322: ImageId is a string.
  const n: number = r.ImageId;
  console.log(n);
}
f();
