// One call from a TypeScript project that installed @ecsimage/client:
//   ECSIMAGE_TARGET=127.0.0.1:50051 ECSIMAGE_TOKEN=<token> npx tsc --strict hello.ts && node hello.js
// scripts/clients_test.sh type-checks it with `tsc --strict` in a temporary
// project outside the repository and runs it against the test server.
import {
  Client, CreateImageResponse, DeleteImageRequest, EcsError, NotFoundError,
} from '@ecsimage/client';

async function main(): Promise<number> {
  const target = process.env.ECSIMAGE_TARGET ?? '127.0.0.1:50051';
  const ecs = new Client(target, process.env.ECSIMAGE_TOKEN, { timeoutMs: 5000 });
  try {
    const created: CreateImageResponse = await ecs.createImage({
      RegionId: 'cn-hangzhou', ImageName: `hello-ts-${Date.now()}`,
    });
    console.log(`# CreateImage -> ${created.ImageId} (RequestId ${created.RequestId})`);
    const del: Partial<DeleteImageRequest> = { RegionId: 'cn-hangzhou', ImageId: created.ImageId };
    await ecs.deleteImage(del, { timeoutMs: 2000 });
    console.log('ok - hello.ts: CreateImage then DeleteImage');
    await ecs.deleteImage({ RegionId: 'cn-hangzhou', ImageId: 'm-00000000000000000000' });
    console.log('FAIL - hello.ts: DeleteImage of an id that never existed succeeded');
    return 1;
  } catch (e) {
    if (e instanceof NotFoundError) {
      const code: string = e.code;
      const status: number | undefined = e.httpStatus;
      console.log(`ok - hello.ts: ${code} (HTTP ${status}, RequestId ${e.requestId}) as NotFoundError`);
      return 0;
    }
    if (e instanceof EcsError) console.log(`FAIL - hello.ts: ${e.toString()}`);
    else console.log(`FAIL - hello.ts: ${String(e)}`);
    return 1;
  } finally {
    ecs.close();
  }
}

main().then((rc) => { process.exitCode = rc; });
