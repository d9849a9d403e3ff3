// Requests the SDKs would not send, or send wrong: each gets its own
// documented code as an ECS JSON body, nothing reaches the domain, and the
// server keeps serving.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { Server, v7Client, popClient, signedQuery, raw, assertErrorBody, Ecs } =
  require('./lib');

let server;
let alice;

test.before(async () => {
  server = await Server.start();
  alice = server.account('alice');
});
test.after(async () => server && server.stop());

const describeRegions = { Action: 'DescribeRegions' };

test('a correctly signed raw GET and POST work', async () => {
  const get = await raw(server, signedQuery(alice, describeRegions));
  assert.equal(get.status, 200, JSON.stringify(get.body));
  assert.equal(get.requestId, get.body.RequestId);
  const post = await raw(server, '', { method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: signedQuery(alice, describeRegions, { method: 'POST' }) });
  assert.equal(post.status, 200, JSON.stringify(post.body));
});

test('tampered, wrong secret, unknown key', async () => {
  const q = signedQuery(alice, describeRegions).replace('DescribeRegions', 'DescribeImages');
  assertErrorBody(await raw(server, q), 400, 'SignatureDoesNotMatch');
  assertErrorBody(await raw(server, signedQuery({ ...alice, akSecret: 'wrong' },
    describeRegions)), 400, 'SignatureDoesNotMatch');
  assertErrorBody(await raw(server, signedQuery({ ...alice, akId: 'LTAInosuchkey' },
    describeRegions)), 404, 'InvalidAccessKeyId.NotFound');
  const v7 = v7Client(server, { ...alice, akSecret: 'wrong' });
  await assert.rejects(v7.describeRegions(new Ecs.DescribeRegionsRequest({})),
    (err) => err.code === 'SignatureDoesNotMatch' && err.statusCode === 400);
});

test('expired, malformed and replayed', async () => {
  assertErrorBody(await raw(server, signedQuery(alice, describeRegions,
    { timestamp: '2020-01-01T00:00:00Z' })), 400, 'InvalidTimeStamp.Expired');
  assertErrorBody(await raw(server, signedQuery(alice, describeRegions,
    { timestamp: 'yesterday' })), 400, 'InvalidTimeStamp.Format');
  const once = signedQuery(alice, describeRegions);
  assert.equal((await raw(server, once)).status, 200);
  assertErrorBody(await raw(server, once), 400, 'SignatureNonceUsed');
});

test('unsigned, wrong version, unknown action, malformed flattening', async () => {
  assertErrorBody(await raw(server, 'Action=DescribeRegions&Version=2014-05-26'),
    400, 'IncompleteSignature');
  assertErrorBody(await raw(server, signedQuery(alice,
    { ...describeRegions, Version: '2016-01-01' })), 400, 'InvalidVersion');
  assertErrorBody(await raw(server, signedQuery(alice, { Action: 'StopInstance' })),
    404, 'InvalidAction.NotFound');
  const pop = popClient(server, alice);
  await assert.rejects(pop.request('NoSuchAction', {}),
    (err) => err.code === 'InvalidAction.NotFound');
  await assert.rejects(popClient(server, alice, { apiVersion: '2016-01-01' })
    .request('DescribeRegions', {}), (err) => err.code === 'InvalidVersion');
  assertErrorBody(await raw(server, signedQuery(alice, { Action: 'ModifyImageSharePermission',
    RegionId: 'cn-hangzhou', ImageId: 'm-aaaaaaaaaaaaaaaaaaaa', 'AddAccount.0': '1' })),
  400, 'InvalidParameter');
  const filter = await raw(server, signedQuery(alice, { Action: 'DescribeImages',
    RegionId: 'cn-hangzhou', OSType: 'linux' }));
  assertErrorBody(filter, 400, 'InvalidParameter');
  assert.match(filter.body.Message, /OSType/);
});

test('oversized, wrong method, other paths: ECS JSON, never HTML', async () => {
  const big = await raw(server, '', { method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'a=' + 'x'.repeat(2 << 20) });
  assertErrorBody(big, 413, 'RequestTooLarge');
  const longUri = await raw(server, 'a=' + 'x'.repeat(20000));
  assertErrorBody(longUri, 413, 'RequestTooLarge');
  assertErrorBody(await raw(server, signedQuery(alice, describeRegions), { method: 'PUT' }),
    405, 'UnsupportedHTTPMethod');
  const other = await fetch(`http://${server.endpoint}/favicon.ico`);
  assert.match(other.headers.get('content-type'), /^application\/json/);
  assert.equal((await other.json()).Code, 'InvalidAction.NotFound');
});

test('a revoked key stops within a second; a new key works at once', async () => {
  const [fresh] = server.cli('account', 'accesskey', 'create', `--account=${alice.id}`,
    `--secret-key-file=${server.keyFile}`);
  const key = { ...alice, akId: fresh.access_key_id, akSecret: fresh.access_key_secret };
  assert.equal((await raw(server, signedQuery(key, describeRegions))).status, 200);
  server.revoke(alice, key.akId);
  const started = Date.now();
  let r;
  do {
    r = await raw(server, signedQuery(key, describeRegions));
  } while (r.status === 200 && Date.now() - started < 1000);
  assertErrorBody(r, 400, 'InvalidAccessKeyId.Inactive');
  const listed = server.cli('account', 'accesskey', 'list', `--account=${alice.id}`,
    `--secret-key-file=${server.keyFile}`);
  assert.equal(listed.find((k) => k.access_key_id === key.akId).status, 'Inactive');
  // The secret is never in the server's log.
  const log = require('node:fs').readFileSync(`${server.dir}/serve.log`, 'utf8');
  assert.ok(!log.includes(key.akSecret));
});

test('XML when Format=XML, errors too', async () => {
  const ok = await raw(server, signedQuery(alice, { ...describeRegions, Format: 'XML' }));
  assert.equal(ok.status, 200);
  assert.match(ok.type, /^text\/xml/);
  assert.match(ok.body.unparsed, /<DescribeRegionsResponse><RequestId>/);
  const err = await raw(server, signedQuery(alice, { Action: 'DeleteImage', Format: 'XML',
    RegionId: 'cn-hangzhou', ImageId: 'm-aaaaaaaaaaaaaaaaaaaa' }));
  assert.equal(err.status, 404);
  assert.match(err.body.unparsed, /<Code>InvalidImageId.NotFound<\/Code>/);
});

test('a bearer token (the gRPC one) also authenticates', async () => {
  const ok = await raw(server, 'Action=DescribeRegions&Version=2014-05-26',
    { headers: { authorization: `Bearer ${alice.token}` } });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assertErrorBody(await raw(server, 'Action=DescribeRegions&Version=2014-05-26',
    { headers: { authorization: 'Bearer wrong' } }), 401, 'InvalidToken');
});

test('the server keeps serving after all of it', async () => {
  const r = await raw(server, signedQuery(alice, describeRegions));
  assert.equal(r.status, 200);
});
