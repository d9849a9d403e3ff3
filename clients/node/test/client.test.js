'use strict';
// Tests of the installed @ecsimage/client against a scripted grpc-js server on
// 127.0.0.1 (the real server's story is examples/story.js):
//   node --test            (in a project that installed the package)
// They check what a real server cannot be made to do on demand: UNAVAILABLE
// retried by the service config with the same ClientToken on every attempt,
// deadlines per call, the error families and decoded details.

const test = require('node:test');
const assert = require('node:assert/strict');
const grpc = require('@grpc/grpc-js');
const ec = require('@ecsimage/client');

const RID = '473469C7-AA6F-4DC5-B3DB-A3DC0DE3C83E';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function statusBin(code, message, details) {
  const any = details.map(([type, codec, value]) => ({
    typeUrl: `type.googleapis.com/${type}`, value: codec.encode(codec.fromPartial(value)).finish(),
  }));
  return Buffer.from(ec.Status.encode(ec.Status.fromPartial({ code, message, details: any })).finish());
}

function ecsError(code, ecsCode, http, more = []) {
  const md = new grpc.Metadata();
  md.set('x-acs-request-id', RID);
  const reason = ecsCode.replace(/(?<=[a-z0-9])([A-Z])/g, '_$1').replace(/[^A-Za-z0-9]+/g, '_').toUpperCase();
  md.set('grpc-status-details-bin', statusBin(code, `message of ${ecsCode}`, [
    ['google.rpc.ErrorInfo', ec.ErrorInfo, { reason, domain: 'ecsimage',
      metadata: { code: ecsCode, httpStatus: String(http), requestId: RID } }],
    ['google.rpc.RequestInfo', ec.RequestInfo, { requestId: RID }],
    ...more,
  ]));
  return { code, details: `message of ${ecsCode}`, metadata: md };
}

const unavailable = () => ecsError(grpc.status.UNAVAILABLE, 'ServiceUnavailable', 503);

// A scripted ImageService: plan holds errors (or 'ok', or {sleep: ms}).
async function scripted() {
  const s = { plan: [], requests: [], auth: [] };
  const answer = (response) => (call, cb) => {
    s.requests.push(call.request);
    s.auth.push(call.metadata.get('authorization')[0]);
    const step = s.plan.length ? s.plan.shift() : 'ok';
    if (step && step.sleep) { setTimeout(() => cb(null, response), step.sleep); return; }
    if (step === 'ok') cb(null, response);
    else cb(step);
  };
  const server = new grpc.Server();
  server.addService(ec.ImageServiceService, {
    createImage: answer({ RequestId: RID, ImageId: 'm-aaaaaaaaaaaaaaaaaaaa' }),
    copyImage: answer({ RequestId: RID, ImageId: 'm-bbbbbbbbbbbbbbbbbbbb' }),
    deleteImage: answer({ RequestId: RID }),
    describeRegions: answer({ RequestId: RID, Regions: [{ RegionId: 'cn-hangzhou', LocalName: '', RegionEndpoint: '' }] }),
  });
  const port = await new Promise((resolve, reject) => server.bindAsync('127.0.0.1:0',
    grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  s.target = `127.0.0.1:${port}`;
  s.stop = () => server.forceShutdown();
  return s;
}

test('VERSION is the installed package version', () => {
  assert.equal(ec.VERSION, require('@ecsimage/client/package.json').version);
  assert.match(ec.VERSION, /^[0-9]+\.[0-9]+\.[0-9]+$/);
});

test('results are the generated messages, the token is sent', async () => {
  const s = await scripted();
  const c = new ec.Client(s.target, 'tok-1');
  try {
    const r = await c.describeRegions();
    assert.deepEqual(r, { RequestId: RID, Regions: [{ RegionId: 'cn-hangzhou', LocalName: '', RegionEndpoint: '' }] });
    assert.equal(s.auth[0], 'Bearer tok-1');
  } finally { c.close(); s.stop(); }
});

test('CreateImage retries UNAVAILABLE with one ClientToken', async () => {
  const s = await scripted();
  const c = new ec.Client(s.target, 'tok');
  try {
    s.plan = [unavailable(), unavailable(), 'ok'];
    const r = await c.createImage({ RegionId: 'cn-hangzhou', ImageName: 'web' });
    assert.equal(r.ImageId, 'm-aaaaaaaaaaaaaaaaaaaa');
    assert.equal(s.requests.length, 3);
    const tokens = new Set(s.requests.map((q) => q.ClientToken));
    assert.equal(tokens.size, 1);
    assert.match([...tokens][0], UUID);
    // Each call its own token; a given one is kept.
    await c.copyImage({ RegionId: 'cn-hangzhou', ImageId: 'm-x', DestinationRegionId: 'cn-shanghai' });
    assert.match(s.requests[3].ClientToken, UUID);
    assert.notEqual(s.requests[3].ClientToken, s.requests[0].ClientToken);
    s.plan = [unavailable(), 'ok'];
    await c.createImage({ RegionId: 'cn-hangzhou', ClientToken: 'mine-1' });
    assert.deepEqual(s.requests.slice(4).map((q) => q.ClientToken), ['mine-1', 'mine-1']);
  } finally { c.close(); s.stop(); }
});

test('UNAVAILABLE gives up after maxAttempts; other codes are not retried; retry:false', async () => {
  const s = await scripted();
  const c = new ec.Client(s.target, 'tok');
  const once = new ec.Client(s.target, 'tok', { retry: false });
  try {
    s.plan = Array.from({ length: 10 }, unavailable);
    await assert.rejects(c.deleteImage({ RegionId: 'r', ImageId: 'm' }), (e) =>
      e instanceof ec.UnavailableError && e.code === 'ServiceUnavailable' && e.httpStatus === 503);
    assert.equal(s.requests.length, ec.RETRY_POLICY.maxAttempts);
    s.requests.length = 0;
    s.plan = [ecsError(grpc.status.INTERNAL, 'InternalError', 500), 'ok'];
    await assert.rejects(c.deleteImage({ RegionId: 'r', ImageId: 'm' }), ec.InternalError);
    assert.equal(s.requests.length, 1);
    s.requests.length = 0;
    s.plan = [unavailable(), 'ok'];
    await assert.rejects(once.deleteImage({ RegionId: 'r', ImageId: 'm' }), ec.UnavailableError);
    assert.equal(s.requests.length, 1);
  } finally { c.close(); once.close(); s.stop(); }
});

test('deadlines: the client default and per call', async () => {
  const s = await scripted();
  const c = new ec.Client(s.target, 'tok', { timeoutMs: 200 });
  try {
    s.plan = [{ sleep: 1500 }];
    let t = Date.now();
    await assert.rejects(c.deleteImage({ RegionId: 'r', ImageId: 'm' }), (e) =>
      e instanceof ec.DeadlineExceededError && e instanceof ec.UnavailableError && e.code === 'DEADLINE_EXCEEDED');
    assert.ok(Date.now() - t < 1000, `took ${Date.now() - t} ms`);
    s.plan = [{ sleep: 1500 }];
    t = Date.now();
    await assert.rejects(c.deleteImage({ RegionId: 'r', ImageId: 'm' }, { timeoutMs: 50 }), ec.DeadlineExceededError);
    assert.ok(Date.now() - t < 190, `took ${Date.now() - t} ms`);
  } finally { c.close(); s.stop(); }
});

test('errors decoded into their family', async () => {
  const s = await scripted();
  const c = new ec.Client(s.target, 'tok');
  try {
    s.plan = [ecsError(grpc.status.FAILED_PRECONDITION, 'ImageUsingByInstance', 403, [
      ['google.rpc.PreconditionFailure', ec.PreconditionFailure,
        { violations: [{ type: 'ImageUsingByInstance', subject: 'instance/i-abc' }] }],
      ['google.rpc.RetryInfo', ec.RetryInfo, { retryDelay: { seconds: 1, nanos: 500000000 } }],
      ['ecs.image.v1.Region', ec.Region, { RegionId: 'x' }],
    ])];
    const e = await c.deleteImage({ RegionId: 'r', ImageId: 'm' }).then(() => null, (x) => x);
    assert.ok(e instanceof ec.PreconditionError && e instanceof ec.EcsError && e instanceof Error);
    assert.equal(e.name, 'PreconditionError');
    assert.deepEqual([e.code, e.httpStatus, e.requestId, e.grpcCode, e.grpcCodeName, e.reason, e.message],
      ['ImageUsingByInstance', 403, RID, grpc.status.FAILED_PRECONDITION, 'FAILED_PRECONDITION',
        'IMAGE_USING_BY_INSTANCE', 'message of ImageUsingByInstance']);
    assert.equal(e.trailerRequestId, RID);
    assert.equal(e.preconditionFailure.violations[0].subject, 'instance/i-abc');
    assert.equal(e.detail, e.preconditionFailure);
    assert.equal(e.retryDelaySeconds, 1.5);
    assert.deepEqual(e.details.map((d) => d.type), ['google.rpc.ErrorInfo', 'google.rpc.RequestInfo',
      'google.rpc.PreconditionFailure', 'google.rpc.RetryInfo', 'ecs.image.v1.Region']);
    assert.equal(e.details[4].value.typeUrl, 'type.googleapis.com/ecs.image.v1.Region');
    const cases = [
      [grpc.status.NOT_FOUND, 'InvalidImageId.NotFound', 404, ec.NotFoundError],
      [grpc.status.INVALID_ARGUMENT, 'MissingParameter', 400, ec.InvalidParameterError],
      [grpc.status.ALREADY_EXISTS, 'InvalidImageName.Duplicated', 400, ec.ConflictError],
      [grpc.status.RESOURCE_EXHAUSTED, 'QuotaExceed.Image', 400, ec.QuotaError],
      [grpc.status.RESOURCE_EXHAUSTED, 'Throttling', 400, ec.ThrottlingError],
    ];
    for (const [code, ecsCode, http, cls] of cases) {
      s.plan = [ecsError(code, ecsCode, http)];
      const x = await c.deleteImage({ RegionId: 'r', ImageId: 'm' }).then(() => null, (y) => y);
      assert.ok(x instanceof cls, `${ecsCode}: ${x && x.name}`);
      assert.equal(x.code, ecsCode);
      assert.equal(x.httpStatus, http);
      if (ecsCode === 'QuotaExceed.Image') assert.ok(!(x instanceof ec.ThrottlingError));
    }
    s.plan = [{ code: grpc.status.UNAUTHENTICATED, details: 'missing token' }];
    const u = await c.describeRegions().then(() => null, (y) => y);
    assert.ok(u instanceof ec.AuthenticationError);
    assert.deepEqual([u.code, u.httpStatus, u.details.length], ['UNAUTHENTICATED', undefined, 0]);
  } finally { c.close(); s.stop(); }
});

test('an unknown parameter name is refused before the call', async () => {
  const s = await scripted();
  const c = new ec.Client(s.target, 'tok');
  try {
    await assert.rejects(c.deleteImage({ RegionID: 'r' }), /no parameter RegionID/);
    assert.equal(s.requests.length, 0);
    const r = await c.call('DeleteImage', { RegionId: 'r', ImageId: 'm' });
    assert.equal(r.RequestId, RID);
  } finally { c.close(); s.stop(); }
});

test('TLS with a CA file (path or Buffer); plaintext to a TLS server fails', async () => {
  const fs = require('node:fs');
  const os = require('node:os');
  const path = require('node:path');
  const { execFileSync } = require('node:child_process');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ecsimage-node-tls-'));
  const key = path.join(dir, 'k.pem');
  const crt = path.join(dir, 'c.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', crt,
    '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
  const server = new grpc.Server();
  const seen = [];
  server.addService(ec.ImageServiceService, {
    deleteImage: (call, cb) => { seen.push(call.metadata.get('authorization')[0]); cb(null, { RequestId: RID }); },
  });
  const creds = grpc.ServerCredentials.createSsl(null,
    [{ private_key: fs.readFileSync(key), cert_chain: fs.readFileSync(crt) }]);
  const port = await new Promise((resolve, reject) => server.bindAsync('127.0.0.1:0', creds,
    (err, p) => (err ? reject(err) : resolve(p))));
  const target = `127.0.0.1:${port}`;
  const byPath = new ec.Client(target, 'tok', { tls: crt });
  const byBuffer = new ec.Client(target, 'tok', { tls: fs.readFileSync(crt) });
  const plain = new ec.Client(target, 'tok', { retry: false, timeoutMs: 2000 });
  try {
    assert.equal((await byPath.deleteImage({ RegionId: 'r', ImageId: 'm' })).RequestId, RID);
    assert.equal((await byBuffer.deleteImage({ RegionId: 'r', ImageId: 'm' })).RequestId, RID);
    assert.deepEqual(seen, ['Bearer tok', 'Bearer tok']);
    await assert.rejects(plain.deleteImage({ RegionId: 'r', ImageId: 'm' }), ec.UnavailableError);
  } finally {
    byPath.close(); byBuffer.close(); plain.close(); server.forceShutdown();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
