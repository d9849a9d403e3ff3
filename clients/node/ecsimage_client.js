'use strict';
// A small Node client for the ecsimage gRPC API (@grpc/grpc-js +
// @grpc/proto-loader). Calls take and return ECS parameter names:
//
//   const { Client, EcsError } = require('./ecsimage_client');
//   const ecs = new Client('127.0.0.1:50051', token);
//   const { ImageId } = await ecs.createImage({ RegionId: 'cn-hangzhou', ImageName: 'web' });
//   try { await ecs.deleteImage({ RegionId: 'cn-hangzhou', ImageId }); }
//   catch (e) { if (e instanceof EcsError) console.log(e.code, e.httpStatus, e.requestId, e.detail); }
//
// Every failed call rejects with one error type, EcsError: ECS code, message,
// HTTP status, RequestId, gRPC code and the google.rpc details decoded from
// grpc-status-details-bin with protobufjs (ErrorInfo, RequestInfo,
// BadRequest, ResourceInfo, PreconditionFailure, RetryInfo).
//
// proto-loader maps fields to proto names; the ECS names are the fields'
// json_name, so requests and responses are converted here through json_name
// (read from the .proto by protobufjs).

const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const protobuf = require('protobufjs');

const REPO = path.resolve(__dirname, '..', '..');
const PROTO_ROOT = process.env.ECSIMAGE_PROTO_DIR || path.join(REPO, 'proto');
const GOOGLEAPIS_ROOT = process.env.ECSIMAGE_GOOGLEAPIS_DIR ||
  '/usr/share/gocode/src/github.com/gogo/googleapis';
const API_PROTO = 'ecs/image/v1/image_service.proto';
const SERVICES = ['ImageService', 'InstanceService', 'SimulationControl'];

const LOADER_OPTIONS = {
  keepCase: true, longs: String, enums: String, defaults: true, oneofs: false,
};

function loadRoot(files, includeDirs) {
  const root = new protobuf.Root();
  root.resolvePath = (origin, target) => {
    for (const dir of includeDirs) {
      const p = path.join(dir, target);
      if (require('fs').existsSync(p)) return p;
    }
    return protobuf.util.path.resolve(origin, target);
  };
  root.loadSync(files, { keepCase: true });
  root.resolveAll();
  return root;
}

const packageDefinition = protoLoader.loadSync(API_PROTO, {
  ...LOADER_OPTIONS, includeDirs: [PROTO_ROOT],
});
const apiRoot = loadRoot([API_PROTO], [PROTO_ROOT]);
const rpcRoot = loadRoot(['google/rpc/status.proto', 'google/rpc/error_details.proto'],
  [GOOGLEAPIS_ROOT]);
const StatusType = rpcRoot.lookupType('google.rpc.Status');

// ---- json_name conversion -------------------------------------------------

function jsonName(field) {
  return (field.options && field.options.json_name) || field.name;
}

// ECS-named plain object -> proto-named object for proto-loader.
function toProto(type, obj) {
  const out = {};
  for (const field of type.fieldsArray) {
    let v = obj[jsonName(field)];
    if (v === undefined) v = obj[field.name];
    if (v === undefined || v === null) continue;
    field.resolve();
    if (field.resolvedType instanceof protobuf.Type) {
      v = field.repeated ? v.map((x) => toProto(field.resolvedType, x))
        : toProto(field.resolvedType, v);
    }
    out[field.name] = v;
  }
  const known = new Set(type.fieldsArray.flatMap((f) => [f.name, jsonName(f)]));
  for (const k of Object.keys(obj)) {
    if (!known.has(k)) throw new TypeError(`${type.name} has no field ${k}`);
  }
  return out;
}

// proto-named object from proto-loader (defaults included) -> ECS names.
function fromProto(type, obj) {
  const out = {};
  for (const field of type.fieldsArray) {
    let v = obj[field.name];
    if (v === undefined || v === null) continue;
    field.resolve();
    if (field.resolvedType instanceof protobuf.Type) {
      v = field.repeated ? v.map((x) => fromProto(field.resolvedType, x))
        : fromProto(field.resolvedType, v);
    }
    out[jsonName(field)] = v;
  }
  return out;
}

// ---- errors ---------------------------------------------------------------

const DETAIL_FIELDS = {
  'google.rpc.ErrorInfo': 'errorInfo',
  'google.rpc.RequestInfo': 'requestInfo',
  'google.rpc.BadRequest': 'badRequest',
  'google.rpc.ResourceInfo': 'resourceInfo',
  'google.rpc.PreconditionFailure': 'preconditionFailure',
  'google.rpc.RetryInfo': 'retryInfo',
};

const CODE_NAMES = Object.fromEntries(
  Object.entries(grpc.status).map(([name, n]) => [n, name]));

// Decodes google.rpc.Status bytes; details become plain objects with an
// '@type' key (the full type name), in the order sent.
function decodeStatusDetails(bytes) {
  const st = StatusType.decode(bytes);
  const details = st.details.map((any) => {
    const name = any.type_url.slice(any.type_url.lastIndexOf('/') + 1);
    let type = null;
    try { type = rpcRoot.lookupType(name); } catch (_) { /* unknown */ }
    if (!type) return { '@type': name, value: Buffer.from(any.value).toString('base64') };
    const msg = type.toObject(type.decode(any.value), {
      longs: String, enums: String, defaults: true, arrays: true, objects: true,
    });
    return { '@type': name, ...msg };
  });
  return { code: st.code, message: st.message, details };
}

class EcsError extends Error {
  // err: a grpc-js ServiceError.
  constructor(err) {
    const md = err.metadata;
    const raw = md ? md.get('grpc-status-details-bin') : [];
    const trailerRid = md ? md.get('x-acs-request-id')[0] : undefined;
    let message = err.details || err.message;
    let details = [];
    if (raw.length) {
      const st = decodeStatusDetails(raw[0]);
      message = st.message || message;
      details = st.details;
    }
    super(message);
    this.name = 'EcsError';
    this.grpcCode = err.code;
    this.grpcCodeName = CODE_NAMES[err.code] || String(err.code);
    this.details = details;
    this.trailerRequestId = trailerRid ? String(trailerRid) : undefined;
    for (const f of Object.values(DETAIL_FIELDS)) this[f] = undefined;
    for (const d of details) {
      const f = DETAIL_FIELDS[d['@type']];
      if (f && !this[f]) this[f] = d;
    }
    this.detail = this.badRequest || this.resourceInfo || this.preconditionFailure;
    const info = this.errorInfo;
    this.metadata = info ? { ...info.metadata } : {};
    this.reason = info && info.reason;
    this.domain = info && info.domain;
    this.code = this.metadata.code || this.grpcCodeName;
    this.httpStatus = this.metadata.httpStatus ? Number(this.metadata.httpStatus) : undefined;
    this.requestId = this.metadata.requestId ||
      (this.requestInfo && this.requestInfo.request_id) || this.trailerRequestId;
  }

  get retryDelaySeconds() {
    const d = this.retryInfo && this.retryInfo.retry_delay;
    return d ? Number(d.seconds) + d.nanos / 1e9 : undefined;
  }

  toString() {
    return `${this.code} (${this.grpcCodeName}, HTTP ${this.httpStatus}, RequestId ${this.requestId}): ${this.message}`;
  }
}

// ---- client ---------------------------------------------------------------

const lowerFirst = (s) => s[0].toLowerCase() + s.slice(1);

// One connection authenticated as one account. Each RPC of ImageService,
// InstanceService and SimulationControl is a method named in lowerCamelCase
// (DeleteImage -> deleteImage) taking an ECS-named object and resolving to
// an ECS-named object (every field, defaults included).
class Client {
  constructor(target, token, { timeoutMs = 10000, credentials } = {}) {
    this.target = target;
    this.token = token;
    this.timeoutMs = timeoutMs;
    const creds = credentials || grpc.credentials.createInsecure();
    this._channel = new grpc.Channel(target, creds, {});
    this._stubs = {};
    for (const svc of SERVICES) {
      const def = packageDefinition[`ecs.image.v1.${svc}`];
      const Ctor = grpc.makeGenericClientConstructor(def, svc);
      const stub = new Ctor(target, creds, { channelOverride: this._channel });
      this._stubs[svc] = stub;
      for (const [rpc, m] of Object.entries(def)) {
        const reqType = apiRoot.lookupType(`ecs.image.v1.${m.requestType.type.name}`);
        const respType = apiRoot.lookupType(`ecs.image.v1.${m.responseType.type.name}`);
        this[lowerFirst(rpc)] = (params = {}) => this._invoke(stub, rpc, reqType, respType, params);
      }
    }
  }

  // Calls an RPC by its proto name: call('DeleteImage', {...}).
  call(rpc, params) { return this[lowerFirst(rpc)](params); }

  _invoke(stub, rpc, reqType, respType, params) {
    const md = new grpc.Metadata();
    if (this.token != null) md.set('authorization', `Bearer ${this.token}`);
    const request = toProto(reqType, params);
    return new Promise((resolve, reject) => {
      stub[rpc](request, md, { deadline: Date.now() + this.timeoutMs }, (err, resp) => {
        if (err) reject(new EcsError(err));
        else resolve(fromProto(respType, resp));
      });
    });
  }

  close() {
    for (const s of Object.values(this._stubs)) s.close();
    this._channel.close();
  }
}

module.exports = { Client, EcsError, decodeStatusDetails, toProto, fromProto };
