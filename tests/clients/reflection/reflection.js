'use strict';
// A gRPC client that knows no .proto file of the server: it discovers the
// services through server reflection (grpc.reflection.v1alpha, the version
// Debian's gRPC 1.51 serves), builds requests from JSON keyed the way
// grpcurl keys them (json_name, or the proto field name), and prints replies
// and google.rpc.Status details the way grpcurl does (protobuf JSON mapping),
// using descriptors fetched from the server — also for
// google/rpc/error_details.proto.
//
// The only schema written here is the reflection protocol itself (below, as
// a protobufjs JSON schema) and descriptor.proto, which protobufjs ships.

const grpc = require('@grpc/grpc-js');
const protobuf = require('protobufjs');
const descriptor = require('protobufjs/ext/descriptor');

const FileDescriptorProto = descriptor.FileDescriptorProto;

// grpc/reflection/v1alpha/reflection.proto, the messages this client uses.
const reflectionSchema = protobuf.Root.fromJSON({
  nested: {
    reflection: {
      nested: {
        ServerReflectionRequest: {
          oneofs: { message_request: { oneof: ['file_by_filename', 'file_containing_symbol', 'list_services'] } },
          fields: {
            host: { type: 'string', id: 1 },
            file_by_filename: { type: 'string', id: 3 },
            file_containing_symbol: { type: 'string', id: 4 },
            list_services: { type: 'string', id: 7 },
          },
        },
        ServerReflectionResponse: {
          fields: {
            valid_host: { type: 'string', id: 1 },
            file_descriptor_response: { type: 'FileDescriptorResponse', id: 4 },
            list_services_response: { type: 'ListServiceResponse', id: 6 },
            error_response: { type: 'ErrorResponse', id: 7 },
          },
        },
        FileDescriptorResponse: { fields: { file_descriptor_proto: { rule: 'repeated', type: 'bytes', id: 1 } } },
        ListServiceResponse: { fields: { service: { rule: 'repeated', type: 'ServiceResponse', id: 1 } } },
        ServiceResponse: { fields: { name: { type: 'string', id: 1 } } },
        ErrorResponse: { fields: { error_code: { type: 'int32', id: 1 }, error_message: { type: 'string', id: 2 } } },
      },
    },
  },
});
const ReflReq = reflectionSchema.lookupType('reflection.ServerReflectionRequest');
const ReflResp = reflectionSchema.lookupType('reflection.ServerReflectionResponse');
const REFLECTION_METHOD = '/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo';

const CODE_NAMES = Object.fromEntries(Object.entries(grpc.status).map(([k, v]) => [v, k]));
// grpcurl prints codes as Go's codes.Code.String(): NotFound, FailedPrecondition ...
const GO_CODE_NAMES = {
  0: 'OK', 1: 'Canceled', 2: 'Unknown', 3: 'InvalidArgument', 4: 'DeadlineExceeded',
  5: 'NotFound', 6: 'AlreadyExists', 7: 'PermissionDenied', 8: 'ResourceExhausted',
  9: 'FailedPrecondition', 10: 'Aborted', 11: 'OutOfRange', 12: 'Unimplemented',
  13: 'Internal', 14: 'Unavailable', 15: 'DataLoss', 16: 'Unauthenticated',
};

// protoc's default json_name: lowerCamelCase of the field name.
function defaultJsonName(name) {
  let out = '';
  let upper = false;
  for (const c of name) {
    if (c === '_') { upper = true; continue; }
    out += upper ? c.toUpperCase() : c;
    upper = false;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Descriptor pool: FileDescriptorProtos fetched by reflection, indexed by
// fully-qualified name.
class Pool {
  constructor() {
    this.files = new Map(); // name -> FileDescriptorProto (plain object)
    this.messages = new Map(); // full name -> { desc, fields, byNumber, mapEntry }
    this.enums = new Map(); // full name -> { byName, byNumber }
    this.services = new Map(); // full name -> { desc, methods: Map }
  }

  addFile(bytes) {
    const fd = FileDescriptorProto.toObject(FileDescriptorProto.decode(bytes), {
      enums: String, longs: String, defaults: false, arrays: true,
    });
    if (this.files.has(fd.name)) return fd;
    this.files.set(fd.name, fd);
    const pkg = fd.package ? `.${fd.package}` : '';
    const addEnum = (e, scope) => {
      const byName = new Map(); const byNumber = new Map();
      for (const v of e.value) { const n = v.number || 0; byName.set(v.name, n); if (!byNumber.has(n)) byNumber.set(n, v.name); }
      this.enums.set(`${scope}.${e.name}`, { byName, byNumber });
    };
    const addMessage = (m, scope) => {
      const full = `${scope}.${m.name}`;
      const fields = m.field.map((f) => ({
        name: f.name,
        number: f.number,
        jsonName: f.jsonName || defaultJsonName(f.name),
        type: f.type,
        typeName: f.typeName || '',
        scope: full,
        repeated: f.label === 'LABEL_REPEATED',
        // Members of real oneofs and proto3 optionals have presence.
        presence: f.oneofIndex !== undefined && f.oneofIndex !== null,
      }));
      this.messages.set(full, {
        fullName: full.slice(1), fields, byNumber: new Map(fields.map((f) => [f.number, f])),
        mapEntry: Boolean(m.options && m.options.mapEntry), file: fd.name,
      });
      for (const n of m.nestedType) addMessage(n, full);
      for (const e of m.enumType) addEnum(e, full);
    };
    for (const m of fd.messageType) addMessage(m, pkg);
    for (const e of fd.enumType) addEnum(e, pkg);
    for (const s of fd.service) {
      const methods = new Map(s.method.map((x) => [x.name, x]));
      this.services.set(`${pkg}.${s.name}`.slice(1), { desc: s, methods, file: fd.name, scope: pkg });
    }
    return fd;
  }

  // A field's type, fully qualified (descriptors may hold relative names).
  typeOf(f) {
    if (f.resolvedTypeName) return f.resolvedTypeName;
    const resolved = this.resolveName(f.scope, f.typeName);
    if (resolved) f.resolvedTypeName = resolved;
    return resolved || f.typeName;
  }

  resolveName(scope, name) {
    if (name.startsWith('.')) return name;
    let sc = scope;
    for (;;) {
      const cand = `${sc}.${name}`;
      if (this.messages.has(cand) || this.enums.has(cand)) return cand;
      if (!sc) return null;
      sc = sc.slice(0, sc.lastIndexOf('.'));
    }
  }

  message(typeName) {
    const m = this.messages.get(typeName.startsWith('.') ? typeName : `.${typeName}`);
    if (!m) throw new Error(`unknown message type ${typeName}`);
    return m;
  }

  enumType(typeName) {
    return this.enums.get(typeName.startsWith('.') ? typeName : `.${typeName}`);
  }
}

// ---------------------------------------------------------------------------
// Binary codec driven by the pool.
const Reader = protobuf.Reader;
const Writer = protobuf.Writer;

const SCALAR_WIRE = {
  TYPE_DOUBLE: 1, TYPE_FLOAT: 5, TYPE_INT64: 0, TYPE_UINT64: 0, TYPE_INT32: 0, TYPE_FIXED64: 1,
  TYPE_FIXED32: 5, TYPE_BOOL: 0, TYPE_UINT32: 0, TYPE_ENUM: 0, TYPE_SFIXED32: 5,
  TYPE_SFIXED64: 1, TYPE_SINT32: 0, TYPE_SINT64: 0,
};
const READ = {
  TYPE_DOUBLE: (r) => r.double(), TYPE_FLOAT: (r) => r.float(),
  TYPE_INT64: (r) => r.int64().toString(), TYPE_UINT64: (r) => r.uint64().toString(),
  TYPE_INT32: (r) => r.int32(), TYPE_FIXED64: (r) => r.fixed64().toString(),
  TYPE_FIXED32: (r) => r.fixed32(), TYPE_BOOL: (r) => r.bool(), TYPE_UINT32: (r) => r.uint32(),
  TYPE_ENUM: (r) => r.int32(), TYPE_SFIXED32: (r) => r.sfixed32(),
  TYPE_SFIXED64: (r) => r.sfixed64().toString(), TYPE_SINT32: (r) => r.sint32(),
  TYPE_SINT64: (r) => r.sint64().toString(),
};
const WRITE = {
  TYPE_DOUBLE: (w, v) => w.double(v), TYPE_FLOAT: (w, v) => w.float(v),
  TYPE_INT64: (w, v) => w.int64(v), TYPE_UINT64: (w, v) => w.uint64(v),
  TYPE_INT32: (w, v) => w.int32(v), TYPE_FIXED64: (w, v) => w.fixed64(v),
  TYPE_FIXED32: (w, v) => w.fixed32(v), TYPE_BOOL: (w, v) => w.bool(v),
  TYPE_UINT32: (w, v) => w.uint32(v), TYPE_ENUM: (w, v) => w.int32(v),
  TYPE_SFIXED32: (w, v) => w.sfixed32(v), TYPE_SFIXED64: (w, v) => w.sfixed64(v),
  TYPE_SINT32: (w, v) => w.sint32(v), TYPE_SINT64: (w, v) => w.sint64(v),
};

// Decodes bytes of message type `typeName` into { fieldName: value } holding
// only the fields present on the wire (repeated as arrays; nested messages
// decoded; bytes as Buffer; 64-bit integers as decimal strings).
function decode(pool, typeName, bytes) {
  const m = pool.message(typeName);
  const r = Reader.create(bytes);
  const out = {};
  while (r.pos < r.len) {
    const tag = r.uint32();
    const num = tag >>> 3;
    const wire = tag & 7;
    const f = m.byNumber.get(num);
    if (!f) { r.skipType(wire); continue; }
    let vals;
    if (f.type === 'TYPE_MESSAGE') {
      vals = [decode(pool, pool.typeOf(f), r.bytes())];
    } else if (f.type === 'TYPE_STRING') {
      vals = [r.string()];
    } else if (f.type === 'TYPE_BYTES') {
      vals = [Buffer.from(r.bytes())];
    } else if (f.type === 'TYPE_GROUP') {
      r.skipType(wire); continue;
    } else if (wire === 2 && SCALAR_WIRE[f.type] !== 2) { // packed
      const end = r.uint32() + r.pos;
      vals = [];
      while (r.pos < end) vals.push(READ[f.type](r));
    } else {
      vals = [READ[f.type](r)];
    }
    if (f.repeated) out[f.name] = (out[f.name] || []).concat(vals);
    else out[f.name] = vals[vals.length - 1];
  }
  return out;
}

function encode(pool, typeName, obj, w = Writer.create()) {
  const m = pool.message(typeName);
  for (const f of m.fields) {
    if (!Object.prototype.hasOwnProperty.call(obj, f.name)) continue;
    const values = f.repeated ? obj[f.name] : [obj[f.name]];
    if (f.repeated && SCALAR_WIRE[f.type] !== undefined && values.length) {
      w.uint32((f.number << 3) | 2).fork();
      for (const v of values) WRITE[f.type](w, v);
      w.ldelim();
      continue;
    }
    for (const v of values) {
      if (f.type === 'TYPE_MESSAGE') {
        w.uint32((f.number << 3) | 2).fork();
        encode(pool, pool.typeOf(f), v, w);
        w.ldelim();
      } else if (f.type === 'TYPE_STRING') {
        w.uint32((f.number << 3) | 2).string(v);
      } else if (f.type === 'TYPE_BYTES') {
        w.uint32((f.number << 3) | 2).bytes(v);
      } else {
        w.uint32((f.number << 3) | SCALAR_WIRE[f.type]);
        WRITE[f.type](w, v);
      }
    }
  }
  return w;
}

// ---------------------------------------------------------------------------
// Protobuf JSON mapping (what grpcurl prints and accepts).

function isDefault(f, v) {
  if (f.repeated) return v.length === 0;
  switch (f.type) {
    case 'TYPE_MESSAGE': return false;
    case 'TYPE_STRING': return v === '';
    case 'TYPE_BYTES': return v.length === 0;
    case 'TYPE_BOOL': return v === false;
    case 'TYPE_INT64': case 'TYPE_UINT64': case 'TYPE_FIXED64': case 'TYPE_SFIXED64': case 'TYPE_SINT64':
      return v === '0';
    default: return v === 0;
  }
}

function zeroOf(f) {
  if (f.repeated) return [];
  switch (f.type) {
    case 'TYPE_STRING': return '';
    case 'TYPE_BYTES': return Buffer.alloc(0);
    case 'TYPE_BOOL': return false;
    case 'TYPE_INT64': case 'TYPE_UINT64': case 'TYPE_FIXED64': case 'TYPE_SFIXED64': case 'TYPE_SINT64':
      return '0';
    case 'TYPE_MESSAGE': return undefined;
    default: return 0;
  }
}

function durationJson(d) {
  const secs = BigInt(d.seconds || '0');
  const nanos = d.nanos || 0;
  const neg = secs < 0n || nanos < 0;
  const absS = secs < 0n ? -secs : secs;
  const absN = Math.abs(nanos);
  let frac = '';
  if (absN) {
    frac = String(absN).padStart(9, '0');
    if (frac.endsWith('000000')) frac = frac.slice(0, 3);
    else if (frac.endsWith('000')) frac = frac.slice(0, 6);
    frac = `.${frac}`;
  }
  return `${neg ? '-' : ''}${absS}${frac}s`;
}

function timestampJson(t) {
  const ms = Number(BigInt(t.seconds || '0') * 1000n);
  const iso = new Date(ms).toISOString().replace(/\.\d{3}Z$/, '');
  const nanos = t.nanos || 0;
  let frac = '';
  if (nanos) {
    frac = String(nanos).padStart(9, '0');
    if (frac.endsWith('000000')) frac = frac.slice(0, 3);
    else if (frac.endsWith('000')) frac = frac.slice(0, 6);
    frac = `.${frac}`;
  }
  return `${iso}${frac}Z`;
}

const WRAPPERS = new Set(['DoubleValue', 'FloatValue', 'Int64Value', 'UInt64Value', 'Int32Value',
  'UInt32Value', 'BoolValue', 'StringValue', 'BytesValue'].map((n) => `google.protobuf.${n}`));

// Decoded message -> JSON value. resolveAny(typeName) must make the type
// known to the pool (it is given the name from an Any's type URL).
function toJson(pool, typeName, msg, opts) {
  const m = pool.message(typeName);
  switch (m.fullName) {
    case 'google.protobuf.Duration': return durationJson(msg);
    case 'google.protobuf.Timestamp': return timestampJson(msg);
    case 'google.protobuf.Any': return anyJson(pool, msg, opts);
    default: break;
  }
  if (WRAPPERS.has(m.fullName)) {
    return scalarJson(pool, m.byNumber.get(1), msg.value === undefined ? zeroOf(m.byNumber.get(1)) : msg.value);
  }
  const out = {};
  for (const f of m.fields) {
    const present = Object.prototype.hasOwnProperty.call(msg, f.name);
    let v = present ? msg[f.name] : zeroOf(f);
    if (f.type === 'TYPE_MESSAGE' && !f.repeated && !present) continue;
    if (!present && (f.presence || !opts.emitDefaults)) continue;
    if (present && !f.presence && !opts.emitDefaults && isDefault(f, v)) continue;
    const sub = f.type === 'TYPE_MESSAGE' ? pool.message(pool.typeOf(f)) : null;
    if (sub && sub.mapEntry) {
      const obj = {};
      const kf = sub.byNumber.get(1); const vf = sub.byNumber.get(2);
      const entries = v.map((e) => [String(e.key === undefined ? zeroOf(kf) : e.key), e]);
      entries.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
      for (const [k, e] of entries) {
        const val = e.value === undefined ? zeroOf(vf) : e.value;
        obj[k] = vf.type === 'TYPE_MESSAGE' ? toJson(pool, pool.typeOf(vf), val || {}, opts) : scalarJson(pool, vf, val);
      }
      out[f.jsonName] = obj;
    } else if (f.repeated) {
      out[f.jsonName] = v.map((x) => (f.type === 'TYPE_MESSAGE' ? toJson(pool, pool.typeOf(f), x, opts) : scalarJson(pool, f, x)));
    } else {
      out[f.jsonName] = f.type === 'TYPE_MESSAGE' ? toJson(pool, pool.typeOf(f), v, opts) : scalarJson(pool, f, v);
    }
  }
  return out;
}

function scalarJson(pool, f, v) {
  switch (f.type) {
    case 'TYPE_BYTES': return Buffer.from(v).toString('base64');
    case 'TYPE_ENUM': {
      const e = pool.enumType(pool.typeOf(f));
      return (e && e.byNumber.get(v)) || v;
    }
    case 'TYPE_DOUBLE': case 'TYPE_FLOAT':
      if (Number.isNaN(v)) return 'NaN';
      if (v === Infinity) return 'Infinity';
      if (v === -Infinity) return '-Infinity';
      return v;
    default: return v;
  }
}

function anyJson(pool, msg, opts) {
  const url = msg.type_url || '';
  const name = url.slice(url.lastIndexOf('/') + 1);
  opts.resolveAny(name);
  const value = decode(pool, name, msg.value || Buffer.alloc(0));
  const inner = toJson(pool, name, value, opts);
  if (typeof inner !== 'object' || inner === null || Array.isArray(inner)) {
    return { '@type': url, value: inner };
  }
  return { '@type': url, ...inner };
}

// JSON (json_name or proto names) -> object for encode().
function fromJson(pool, typeName, json) {
  const m = pool.message(typeName);
  if (m.fullName === 'google.protobuf.Duration') {
    const match = /^(-?)(\d+)(?:\.(\d{1,9}))?s$/.exec(json);
    if (!match) throw new Error(`bad Duration ${json}`);
    const nanos = Number((match[3] || '').padEnd(9, '0'));
    return { seconds: `${match[1]}${match[2]}`, nanos: match[1] ? -nanos : nanos };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new Error(`${m.fullName}: expected a JSON object`);
  }
  const out = {};
  for (const [key, value] of Object.entries(json)) {
    const f = m.fields.find((x) => x.jsonName === key || x.name === key);
    if (!f) throw new Error(`message type ${m.fullName} has no known field named ${key}`);
    if (value === null) continue;
    const sub = f.type === 'TYPE_MESSAGE' ? pool.message(pool.typeOf(f)) : null;
    if (sub && sub.mapEntry) {
      const kf = sub.byNumber.get(1); const vf = sub.byNumber.get(2);
      out[f.name] = Object.entries(value).map(([k, v]) => ({
        key: scalarFromJson(pool, kf, k),
        value: vf.type === 'TYPE_MESSAGE' ? fromJson(pool, pool.typeOf(vf), v) : scalarFromJson(pool, vf, v),
      }));
    } else if (f.repeated) {
      if (!Array.isArray(value)) throw new Error(`${key}: expected a JSON array`);
      out[f.name] = value.map((v) => (sub ? fromJson(pool, pool.typeOf(f), v) : scalarFromJson(pool, f, v)));
    } else {
      out[f.name] = sub ? fromJson(pool, pool.typeOf(f), value) : scalarFromJson(pool, f, value);
    }
  }
  return out;
}

function scalarFromJson(pool, f, v) {
  switch (f.type) {
    case 'TYPE_STRING': if (typeof v !== 'string') throw new Error(`${f.jsonName}: expected a string`); return v;
    case 'TYPE_BOOL':
      if (v === true || v === 'true') return true;
      if (v === false || v === 'false') return false;
      throw new Error(`${f.jsonName}: expected true or false`);
    case 'TYPE_BYTES': return Buffer.from(v, 'base64');
    case 'TYPE_ENUM': {
      if (typeof v === 'number') return v;
      const e = pool.enumType(pool.typeOf(f));
      if (!e || !e.byName.has(v)) throw new Error(`${f.jsonName}: unknown enum value ${v}`);
      return e.byName.get(v);
    }
    case 'TYPE_INT64': case 'TYPE_UINT64': case 'TYPE_FIXED64': case 'TYPE_SFIXED64': case 'TYPE_SINT64':
      if (!/^-?\d+$/.test(String(v))) throw new Error(`${f.jsonName}: expected an integer`);
      return protobuf.util.Long.fromString(String(v), f.type === 'TYPE_UINT64' || f.type === 'TYPE_FIXED64');
    case 'TYPE_DOUBLE': case 'TYPE_FLOAT': return Number(v);
    default: {
      const n = Number(v);
      if (!Number.isInteger(n)) throw new Error(`${f.jsonName}: expected an integer`);
      return n;
    }
  }
}

// ---------------------------------------------------------------------------
// Connection: reflection + generic unary calls.

class ReflectionClient {
  // target "host:port"; headers: [[key, value], ...] sent with every call
  // except reflection's own.
  constructor(target, { headers = [], timeoutMs = 10000 } = {}) {
    this.target = target;
    this.headers = headers;
    this.timeoutMs = timeoutMs;
    this.client = new grpc.Client(target, grpc.credentials.createInsecure());
    this.pool = new Pool();
  }

  close() { this.client.close(); }

  _reflect(request) {
    return new Promise((resolve, reject) => {
      const call = this.client.makeBidiStreamRequest(
        REFLECTION_METHOD,
        (obj) => Buffer.from(ReflReq.encode(ReflReq.create(obj)).finish()),
        (buf) => ReflResp.toObject(ReflResp.decode(buf), { defaults: false, arrays: true }),
        new grpc.Metadata(), { deadline: Date.now() + this.timeoutMs });
      let answered = false;
      call.on('data', (resp) => { answered = true; resolve(resp); call.end(); });
      call.on('error', (err) => { if (!answered) reject(err); });
      call.on('end', () => { if (!answered) reject(new Error('reflection stream ended without a reply')); });
      call.write(request);
    });
  }

  async listServices() {
    const resp = await this._reflect({ host: '', list_services: '*' });
    if (resp.error_response) throw new Error(resp.error_response.error_message);
    return resp.list_services_response.service.map((s) => s.name).sort();
  }

  async _addFiles(resp) {
    if (resp.error_response) {
      const err = new Error(resp.error_response.error_message);
      err.code = resp.error_response.error_code;
      throw err;
    }
    const added = resp.file_descriptor_response.file_descriptor_proto.map((b) => this.pool.addFile(b));
    for (const fd of added) {
      for (const dep of fd.dependency) {
        if (!this.pool.files.has(dep)) {
          // eslint-disable-next-line no-await-in-loop
          await this._addFiles(await this._reflect({ host: '', file_by_filename: dep }));
        }
      }
    }
  }

  // Makes sure the pool knows `symbol` (a service, method or message name).
  async resolveSymbol(symbol) {
    const known = this.pool.services.has(symbol) || this.pool.messages.has(`.${symbol}`);
    if (known) return;
    await this._addFiles(await this._reflect({ host: '', file_containing_symbol: symbol }));
  }

  // Resolves every type an Any in this message tree may need, synchronously
  // usable afterwards: type URLs are fetched before formatting.
  async _resolveAnys(typeName, msg) {
    const m = this.pool.message(typeName);
    if (m.fullName === 'google.protobuf.Any') {
      const name = (msg.type_url || '').replace(/^.*\//, '');
      if (name) {
        await this.resolveSymbol(name);
        await this._resolveAnys(name, decode(this.pool, name, msg.value || Buffer.alloc(0)));
      }
      return;
    }
    for (const f of m.fields) {
      if (f.type !== 'TYPE_MESSAGE' || !(f.name in msg)) continue;
      const vals = f.repeated ? msg[f.name] : [msg[f.name]];
      // eslint-disable-next-line no-await-in-loop
      for (const v of vals) await this._resolveAnys(this.pool.typeOf(f), v);
    }
  }

  async method(fullMethod) {
    const m = /^\/?([\w.]+)[/.](\w+)$/.exec(fullMethod);
    if (!m) throw new Error(`bad method name ${fullMethod}`);
    await this.resolveSymbol(m[1]);
    const svc = this.pool.services.get(m[1]);
    if (!svc) throw new Error(`service ${m[1]} not found`);
    const desc = svc.methods.get(m[2]);
    if (!desc) throw new Error(`service ${m[1]} does not include a method named ${m[2]}`);
    // Make sure the request and reply types (maybe in other files) are known.
    for (const t of [desc.inputType, desc.outputType]) {
      if (!this.pool.resolveName(svc.scope, t)) await this.resolveSymbol(t.replace(/^\./, ''));
    }
    const input = this.pool.resolveName(svc.scope, desc.inputType);
    const output = this.pool.resolveName(svc.scope, desc.outputType);
    return { service: m[1], name: m[2], path: `/${m[1]}/${m[2]}`, input, output };
  }

  // Invokes a unary method with a JSON request. Resolves to
  //   { ok: true, json, trailers }                       on success
  //   { ok: false, code, codeName, message, details, trailers } on error,
  // details being the google.rpc.Status details as JSON (with "@type").
  async invoke(fullMethod, requestJson = {}, { emitDefaults = false, headers } = {}) {
    const meth = await this.method(fullMethod);
    const reqObj = fromJson(this.pool, meth.input, requestJson);
    const reqBytes = Buffer.from(encode(this.pool, meth.input, reqObj).finish());
    const md = new grpc.Metadata();
    for (const [k, v] of headers || this.headers) md.add(k, v);
    const opts = { emitDefaults, resolveAny: () => {} };
    const { err, resp, trailers } = await new Promise((resolve) => {
      let trailerMd = null;
      const call = this.client.makeUnaryRequest(meth.path, (b) => b, (b) => b, reqBytes, md,
        { deadline: Date.now() + this.timeoutMs }, (e, r) => {
          setImmediate(() => resolve({ err: e, resp: r, trailers: (e && e.metadata) || trailerMd }));
        });
      call.on('status', (s) => { trailerMd = s.metadata; });
    });
    const trailerObj = trailers ? trailers.getMap() : {};
    if (!err) {
      const msg = decode(this.pool, meth.output, resp);
      await this._resolveAnys(meth.output, msg);
      return { ok: true, json: toJson(this.pool, meth.output, msg, opts), trailers: trailerObj };
    }
    const out = {
      ok: false, code: err.code, codeName: CODE_NAMES[err.code], goCodeName: GO_CODE_NAMES[err.code],
      message: err.details, details: [], trailers: trailerObj,
    };
    const raw = err.metadata ? err.metadata.get('grpc-status-details-bin') : [];
    if (raw.length) {
      await this.resolveSymbol('google.rpc.Status');
      const st = decode(this.pool, 'google.rpc.Status', raw[0]);
      if (st.message) out.message = st.message;
      for (const any of st.details || []) {
        // eslint-disable-next-line no-await-in-loop
        await this._resolveAnys('google.protobuf.Any', any);
        out.details.push(toJson(this.pool, 'google.protobuf.Any', any, opts));
      }
    }
    return out;
  }
}

// ---------------------------------------------------------------------------
// grpcurl-style text.

function formatJson(json) {
  return Object.keys(json).length === 0 ? '{}' : JSON.stringify(json, null, 2);
}

function formatError(result) {
  const lines = ['ERROR:', `  Code: ${result.goCodeName}`, `  Message: ${result.message}`];
  if (result.details.length) {
    lines.push('  Details:');
    result.details.forEach((d, i) => {
      const prefix = `  ${i + 1})`;
      const pad = `${' '.repeat(prefix.length)}\t`;
      formatJson(d).split('\n').forEach((line, j) => {
        lines.push(j === 0 ? `${prefix}\t${line}` : `${pad}${line}`);
      });
    });
  }
  return lines.join('\n');
}

module.exports = {
  ReflectionClient, Pool, decode, encode, toJson, fromJson, formatJson, formatError, defaultJsonName,
  GO_CODE_NAMES,
};
