// Helpers of the SDK tests: a real `ecsimage serve` on a temporary SQLite
// database with the ECS HTTP listener, accounts and AccessKeys made with
// the operator CLI, the official SDK clients, a gRPC client for mixed
// calls, and a raw signer for requests the SDKs never send.
'use strict';

const assert = require('node:assert/strict');
const { spawn, execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

const Ecs = require('@alicloud/ecs20140526');
const { $OpenApiUtil } = require('@alicloud/openapi-core');
const RPCClient = require('@alicloud/pop-core').RPCClient;
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const REPO = path.resolve(__dirname, '..', '..');
const BIN = process.env.ECSIMAGE_BIN || path.join(REPO, 'build/service/ecsimage');

class Server {
  static async start(extraArgs = []) {
    const s = new Server();
    s.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ecsimage-ecs-http-'));
    s.db = path.join(s.dir, 'ecsimage.db');
    s.keyFile = path.join(s.dir, 'secret.key');
    fs.writeFileSync(s.keyFile, crypto.randomBytes(32), { mode: 0o600 });
    s.log = fs.openSync(path.join(s.dir, 'serve.log'), 'w');
    s.proc = spawn(BIN, ['serve', `--db=${s.db}`, '--listen=127.0.0.1:0',
      '--ecs-http-listen=127.0.0.1:0', '--simulation-control',
      `--secret-key-file=${s.keyFile}`, '--shutdown-grace-seconds=0', ...extraArgs],
    { stdio: ['ignore', 'ignore', 'pipe'] });
    const started = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('serve did not start')), 30000);
      const lines = readline.createInterface({ input: s.proc.stderr });
      lines.on('line', (line) => {
        fs.writeSync(s.log, line + '\n');
        if (line.includes('"msg":"started"')) {
          clearTimeout(timer);
          resolve(JSON.parse(line));
        }
      });
      s.proc.on('error', reject);
      s.proc.on('exit', (code) => reject(new Error(`serve exited ${code}`)));
    });
    s.grpcPort = started.port;
    s.httpPort = started.ecsHttpPort;
    assert.ok(s.httpPort > 0, 'the start line names the ECS HTTP port');
    return s;
  }

  cli(...args) {
    const out = execFileSync(BIN, [...args, `--db=${this.db}`], {
      encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  }

  // A new account with a bearer token and an AccessKey pair.
  account(name) {
    const [acct] = this.cli('account', 'create', `--name=${name}`);
    const [key] = this.cli('account', 'accesskey', 'create',
      `--account=${acct.account_id}`, `--secret-key-file=${this.keyFile}`);
    assert.equal(key.account_id, acct.account_id);
    return { id: acct.account_id, token: acct.token,
      akId: key.access_key_id, akSecret: key.access_key_secret };
  }

  revoke(acct, akId) {
    return this.cli('account', 'accesskey', 'revoke', `--account=${acct.id}`,
      `--access-key-id=${akId}`, `--secret-key-file=${this.keyFile}`);
  }

  get endpoint() { return `127.0.0.1:${this.httpPort}`; }

  async stop() {
    if (this.proc.exitCode === null) {
      const exited = new Promise((r) => this.proc.on('exit', r));
      this.proc.kill('SIGTERM');
      await exited;
    }
    fs.closeSync(this.log);
    if (!process.env.KEEP_TMP) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

// @alicloud/ecs20140526 v7 (V3 ACS3-HMAC-SHA256 signatures).
function v7Client(server, acct, overrides = {}) {
  return new Ecs.default(new $OpenApiUtil.Config({
    accessKeyId: acct.akId, accessKeySecret: acct.akSecret,
    endpoint: server.endpoint, protocol: 'HTTP', regionId: 'cn-hangzhou',
    readTimeout: 10000, connectTimeout: 5000, ...overrides }));
}

// @alicloud/pop-core (RPC HMAC-SHA1 signatures).
function popClient(server, acct, overrides = {}) {
  return new RPCClient({ accessKeyId: acct.akId, accessKeySecret: acct.akSecret,
    endpoint: `http://${server.endpoint}`, apiVersion: '2014-05-26', ...overrides });
}

// gRPC, the same account by bearer token.
function grpcClients(server, acct) {
  const def = protoLoader.loadSync(
    path.join(REPO, 'proto/ecs/image/v1/image_service.proto'),
    { keepCase: false, longs: Number, defaults: true });
  const pkg = grpc.loadPackageDefinition(def).ecs.image.v1;
  const addr = `127.0.0.1:${server.grpcPort}`;
  const creds = grpc.credentials.createInsecure();
  const meta = new grpc.Metadata();
  meta.set('authorization', `Bearer ${acct.token}`);
  const wrap = (client) => new Proxy({}, {
    get: (_, name) => (req) => new Promise((resolve, reject) => {
      client[name](req, meta, (err, resp) => (err ? reject(err) : resolve(resp)));
    }),
  });
  return { images: wrap(new pkg.ImageService(addr, creds)) };
}

// ECS's RPC signature by hand, for requests the SDKs never send.
function enc(s) {
  return encodeURIComponent(s).replace(/[!'()*]/g,
    (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}
function signedQuery(acct, params, { method = 'GET', timestamp, nonce } = {}) {
  const all = { Format: 'JSON', Version: '2014-05-26', AccessKeyId: acct.akId,
    SignatureMethod: 'HMAC-SHA1', SignatureVersion: '1.0',
    SignatureNonce: nonce || crypto.randomUUID(),
    Timestamp: timestamp || new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    ...params };
  const canon = Object.keys(all).sort().map((k) => `${enc(k)}=${enc(all[k])}`).join('&');
  const sts = `${method}&${enc('/')}&${enc(canon)}`;
  const sig = crypto.createHmac('sha1', acct.akSecret + '&').update(sts).digest('base64');
  return `${canon}&Signature=${enc(sig)}`;
}

// A raw HTTP call: status, headers and parsed JSON body.
async function raw(server, query, init = {}) {
  const res = await fetch(`http://${server.endpoint}/${query ? '?' + query : ''}`, init);
  const text = await res.text();
  let body;
  try { body = JSON.parse(text); } catch (e) { body = { unparsed: text }; }
  return { status: res.status, type: res.headers.get('content-type'),
    requestId: res.headers.get('x-acs-request-id'), body };
}

const REQUEST_ID = /^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[0-9A-F]{4}-[0-9A-F]{12}$/;

// An ECS error body of the documented shape.
function assertErrorBody(r, status, code) {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.match(r.type, /^application\/json/);
  assert.equal(r.body.Code, code, JSON.stringify(r.body));
  assert.match(r.body.RequestId, REQUEST_ID);
  assert.equal(r.requestId, r.body.RequestId);
  assert.deepEqual(Object.keys(r.body).sort(),
    ['Code', 'HostId', 'Message', 'Recommend', 'RequestId'].sort());
}

module.exports = { Server, v7Client, popClient, grpcClients, signedQuery, raw,
  REQUEST_ID, assertErrorBody, Ecs };
