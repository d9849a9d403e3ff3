// @ecsimage/client: the Node client of the ecsimage gRPC API (Alibaba Cloud
// ECS image lifecycle), on @grpc/grpc-js.
//
//   import { Client, EcsError } from '@ecsimage/client';
//   const ecs = new Client('127.0.0.1:50051', token);
//   const { ImageId } = await ecs.createImage({ RegionId: 'cn-hangzhou', ImageName: 'web' });
//   try { await ecs.deleteImage({ RegionId: 'cn-hangzhou', ImageId }, { timeoutMs: 5000 }); }
//   catch (e) { if (e instanceof EcsError) console.log(e.code, e.httpStatus, e.requestId, e.detail); }
//
// Requests and responses are the interfaces ts-proto generates from the
// protos (src/gen/, built by generate.sh), keyed by the fields' json_name,
// which are the ECS parameter names. The methods are typed from the generated
// service definitions: nothing here lists an RPC or a field by hand.

import { randomUUID } from 'crypto';
import { readFileSync } from 'fs';
import * as grpc from '@grpc/grpc-js';

import * as api from './gen/ecs/image/v1/image_service';
import { Status } from './gen/google/rpc/status';
import {
  BadRequest, DebugInfo, ErrorInfo, Help, LocalizedMessage, PreconditionFailure,
  QuotaFailure, RequestInfo, ResourceInfo, RetryInfo,
} from './gen/google/rpc/error_details';

export * from './gen/ecs/image/v1/image_service';
export {
  Status, BadRequest, DebugInfo, ErrorInfo, Help, LocalizedMessage, PreconditionFailure,
  QuotaFailure, RequestInfo, ResourceInfo, RetryInfo,
};

/** The version of the API and of this client (the repository's VERSION),
 * read from the package's own package.json. */
export const VERSION: string = (require('../package.json') as { version: string }).version;

// ---- types derived from the generated definitions ------------------------

interface Codec<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(input: Uint8Array): T;
  fromPartial(object: any): T;
  create(base?: any): T;
}
interface MethodDef {
  readonly name: string;
  readonly requestType: Codec<any>;
  readonly responseType: Codec<any>;
}
interface ServiceDef {
  readonly fullName: string;
  readonly methods: { readonly [k: string]: MethodDef };
}

/** Per-call options: the deadline, as milliseconds from now or a Date. */
export interface CallOptions {
  timeoutMs?: number;
  deadline?: Date;
  /** Extra request metadata. */
  metadata?: grpc.Metadata;
}

type RequestOf<M> = M extends { requestType: { fromPartial(o: infer P): any } } ? P : never;
type ResponseOf<M> = M extends { responseType: { decode(i: any): infer R } } ? R : never;

/** One method per RPC: `deleteImage(request, options)` resolves to the response. */
export type ServiceMethods<S extends ServiceDef> = {
  [K in keyof S['methods']]: (
    request?: RequestOf<S['methods'][K]>, options?: CallOptions,
  ) => Promise<ResponseOf<S['methods'][K]>>;
};

const SERVICES = [
  api.ImageServiceDefinition, api.InstanceServiceDefinition, api.SimulationControlDefinition,
] as const;

/** Every RPC of ImageService, InstanceService and SimulationControl. */
export type ClientMethods = ServiceMethods<typeof api.ImageServiceDefinition> &
  ServiceMethods<typeof api.InstanceServiceDefinition> &
  ServiceMethods<typeof api.SimulationControlDefinition>;

// ---- retries and ClientToken ------------------------------------------------

/** RPCs whose empty ClientToken the client fills with a fresh UUID before the
 * first attempt; every retry sends the same request, so the same token. */
export const CLIENT_TOKEN_RPCS: ReadonlySet<string> = new Set([
  'CreateImage', 'CopyImage', 'ImportImage', 'ExportImage', 'RunInstances',
]);

/** The retry policy of the service config: UNAVAILABLE, every method. */
export const RETRY_POLICY = {
  maxAttempts: 5,
  initialBackoff: '0.2s',
  maxBackoff: '5s',
  backoffMultiplier: 2,
  retryableStatusCodes: ['UNAVAILABLE'],
};

/** The gRPC service config (JSON) of the client's channel. */
export function serviceConfig(retry = true): string {
  const method: Record<string, unknown> = {
    name: SERVICES.map((s) => ({ service: s.fullName })),
  };
  if (retry) method.retryPolicy = RETRY_POLICY;
  return JSON.stringify({ methodConfig: [method] });
}

// ---- errors ----------------------------------------------------------------

/** A detail whose type this package does not know. */
export interface UnknownDetail { typeUrl: string; value: Uint8Array }
export type Detail = ErrorInfo | RequestInfo | BadRequest | ResourceInfo | PreconditionFailure |
  RetryInfo | QuotaFailure | DebugInfo | Help | LocalizedMessage | UnknownDetail;

const DETAIL_TYPES: Record<string, Codec<any>> = {
  'google.rpc.ErrorInfo': ErrorInfo,
  'google.rpc.RequestInfo': RequestInfo,
  'google.rpc.BadRequest': BadRequest,
  'google.rpc.ResourceInfo': ResourceInfo,
  'google.rpc.PreconditionFailure': PreconditionFailure,
  'google.rpc.RetryInfo': RetryInfo,
  'google.rpc.QuotaFailure': QuotaFailure,
  'google.rpc.DebugInfo': DebugInfo,
  'google.rpc.Help': Help,
  'google.rpc.LocalizedMessage': LocalizedMessage,
};

/** Decodes grpc-status-details-bin: code, message and the details in order
 * (each with its full type name). */
export function decodeStatus(bytes: Uint8Array): {
  code: number; message: string; details: Array<{ type: string; value: Detail }>;
} {
  const st = Status.decode(bytes);
  const details = st.details.map((any) => {
    const type = any.typeUrl.slice(any.typeUrl.lastIndexOf('/') + 1);
    const codec = DETAIL_TYPES[type];
    const value: Detail = codec ? codec.decode(any.value) : { typeUrl: any.typeUrl, value: any.value };
    return { type, value };
  });
  return { code: st.code, message: st.message, details };
}

const CODE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(grpc.status).filter(([, n]) => typeof n === 'number').map(([name, n]) => [n, name]));

/** A failed ecsimage call; every failure of a Client method rejects with one
 * (or rather with one of its family subclasses). */
export class EcsError extends Error {
  /** ECS code ("InvalidImageId.NotFound"); without ErrorInfo, the gRPC code name. */
  readonly code: string;
  /** ECS HTTP status, or undefined without ErrorInfo. */
  readonly httpStatus: number | undefined;
  /** RequestId (ErrorInfo, RequestInfo or the x-acs-request-id trailer). */
  readonly requestId: string | undefined;
  /** gRPC status code (grpc.status). */
  readonly grpcCode: grpc.status;
  /** Its name, e.g. "FAILED_PRECONDITION". */
  readonly grpcCodeName: string;
  readonly trailerRequestId: string | undefined;
  readonly reason: string | undefined;
  readonly domain: string | undefined;
  readonly metadata: Record<string, string>;
  readonly errorInfo: ErrorInfo | undefined;
  readonly requestInfo: RequestInfo | undefined;
  readonly badRequest: BadRequest | undefined;
  readonly resourceInfo: ResourceInfo | undefined;
  readonly preconditionFailure: PreconditionFailure | undefined;
  readonly retryInfo: RetryInfo | undefined;
  /** The kind-specific detail: BadRequest, ResourceInfo or PreconditionFailure. */
  readonly detail: BadRequest | ResourceInfo | PreconditionFailure | undefined;
  /** Every decoded detail, in the order sent. */
  readonly details: Array<{ type: string; value: Detail }>;

  constructor(grpcCode: grpc.status, message: string,
    details: Array<{ type: string; value: Detail }> = [], trailerRequestId?: string) {
    super(message);
    this.name = new.target.name;
    this.grpcCode = grpcCode;
    this.grpcCodeName = CODE_NAMES[grpcCode] ?? String(grpcCode);
    this.details = details;
    this.trailerRequestId = trailerRequestId;
    const first = (t: string): any => details.find((d) => d.type === t)?.value;
    this.errorInfo = first('google.rpc.ErrorInfo');
    this.requestInfo = first('google.rpc.RequestInfo');
    this.badRequest = first('google.rpc.BadRequest');
    this.resourceInfo = first('google.rpc.ResourceInfo');
    this.preconditionFailure = first('google.rpc.PreconditionFailure');
    this.retryInfo = first('google.rpc.RetryInfo');
    this.detail = this.badRequest ?? this.resourceInfo ?? this.preconditionFailure;
    this.metadata = { ...(this.errorInfo?.metadata ?? {}) };
    this.reason = this.errorInfo?.reason;
    this.domain = this.errorInfo?.domain;
    this.code = this.metadata.code || this.grpcCodeName;
    this.httpStatus = this.metadata.httpStatus ? Number(this.metadata.httpStatus) : undefined;
    this.requestId = this.metadata.requestId || this.requestInfo?.requestId || trailerRequestId;
  }

  /** RetryInfo's delay in seconds, or undefined. */
  get retryDelaySeconds(): number | undefined {
    const d = this.retryInfo?.retryDelay;
    return d ? d.seconds + d.nanos / 1e9 : undefined;
  }

  toString(): string {
    return `${this.code} (${this.grpcCodeName}, HTTP ${this.httpStatus}, RequestId ${this.requestId}): ${this.message}`;
  }

  /** The family subclass for a grpc-js ServiceError. */
  static fromServiceError(err: grpc.ServiceError): EcsError {
    const md = err.metadata;
    const raw = md ? md.get('grpc-status-details-bin') : [];
    const rid = md ? md.get('x-acs-request-id')[0] : undefined;
    let message = err.details || err.message;
    let details: Array<{ type: string; value: Detail }> = [];
    if (raw.length) {
      const st = decodeStatus(raw[0] as Buffer);
      message = st.message || message;
      details = st.details;
    }
    const Family = errorClass(err.code, details);
    return new Family(err.code, message, details, rid === undefined ? undefined : String(rid));
  }
}

/** INVALID_ARGUMENT: MissingParameter, InvalidParameter, IdempotentParameterMismatch, ... */
export class InvalidParameterError extends EcsError {}
/** NOT_FOUND: InvalidImageId.NotFound, InvalidRegionId.NotFound, ... */
export class NotFoundError extends EcsError {}
/** FAILED_PRECONDITION: ImageUsingByInstance, ImageUseShared, OperationDenied.ImageCopying, ... */
export class PreconditionError extends EcsError {}
/** ALREADY_EXISTS / ABORTED: InvalidImageName.Duplicated. */
export class ConflictError extends EcsError {}
/** RESOURCE_EXHAUSTED: QuotaExceed.*, Throttling. */
export class QuotaError extends EcsError {}
/** RESOURCE_EXHAUSTED with the ECS code Throttling. */
export class ThrottlingError extends QuotaError {}
/** UNAVAILABLE: already retried by the service config before it is raised. */
export class UnavailableError extends EcsError {}
/** DEADLINE_EXCEEDED: the call's deadline (or the server's ServiceUnavailable). */
export class DeadlineExceededError extends UnavailableError {}
/** UNAUTHENTICATED: a missing, unknown or revoked token. */
export class AuthenticationError extends EcsError {}
/** PERMISSION_DENIED. */
export class PermissionDeniedError extends EcsError {}
/** INTERNAL and UNKNOWN. */
export class InternalError extends EcsError {}

type Family = new (grpcCode: grpc.status, message: string,
  details?: Array<{ type: string; value: Detail }>, trailerRequestId?: string) => EcsError;

const FAMILIES: Partial<Record<grpc.status, Family>> = {
  [grpc.status.INVALID_ARGUMENT]: InvalidParameterError,
  [grpc.status.OUT_OF_RANGE]: InvalidParameterError,
  [grpc.status.NOT_FOUND]: NotFoundError,
  [grpc.status.FAILED_PRECONDITION]: PreconditionError,
  [grpc.status.ALREADY_EXISTS]: ConflictError,
  [grpc.status.ABORTED]: ConflictError,
  [grpc.status.RESOURCE_EXHAUSTED]: QuotaError,
  [grpc.status.UNAVAILABLE]: UnavailableError,
  [grpc.status.DEADLINE_EXCEEDED]: DeadlineExceededError,
  [grpc.status.UNAUTHENTICATED]: AuthenticationError,
  [grpc.status.PERMISSION_DENIED]: PermissionDeniedError,
  [grpc.status.INTERNAL]: InternalError,
  [grpc.status.UNKNOWN]: InternalError,
};

function errorClass(code: grpc.status, details: Array<{ type: string; value: Detail }>): Family {
  const cls = FAMILIES[code] ?? EcsError;
  if (cls === QuotaError && details.some((d) => d.type === 'google.rpc.ErrorInfo' &&
      (d.value as ErrorInfo).metadata.code === 'Throttling')) {
    return ThrottlingError;
  }
  return cls;
}

// ---- client ----------------------------------------------------------------

export interface ClientOptions {
  /** undefined/false: plaintext; true: TLS with the system's CAs; a string:
   * the path of a PEM CA bundle; a Buffer: the PEM bytes. */
  tls?: boolean | string | Buffer;
  /** Default deadline of each call, in ms (10000). */
  timeoutMs?: number;
  /** false: no retry policy in the service config. */
  retry?: boolean;
  /** Extra grpc-js channel options. */
  channelOptions?: grpc.ChannelOptions;
}

/** One connection authenticated as one account. Each RPC is a method named in
 * lowerCamelCase (DeleteImage -> deleteImage). */
export interface Client extends ClientMethods {}
export class Client {
  readonly target: string;
  readonly token: string | undefined;
  readonly timeoutMs: number;
  private readonly grpcClient: grpc.Client;

  constructor(target: string, token?: string, options: ClientOptions = {}) {
    this.target = target;
    this.token = token;
    this.timeoutMs = options.timeoutMs ?? 10000;
    let creds = grpc.credentials.createInsecure();
    if (options.tls) {
      const roots = typeof options.tls === 'string' ? readFileSync(options.tls)
        : Buffer.isBuffer(options.tls) ? options.tls : undefined;
      creds = grpc.credentials.createSsl(roots);
    }
    const retry = options.retry ?? true;
    this.grpcClient = new grpc.Client(target, creds, {
      'grpc.service_config': serviceConfig(retry),
      'grpc.enable_retries': retry ? 1 : 0,
      ...options.channelOptions,
    });
    const self = this as unknown as Record<string, unknown>;
    for (const svc of SERVICES) {
      for (const [key, m] of Object.entries(svc.methods as ServiceDef['methods'])) {
        self[key] = (request?: object, callOptions?: CallOptions) =>
          this.invoke(svc.fullName, m, request ?? {}, callOptions ?? {});
      }
    }
  }

  /** Calls an RPC by its proto name: call('DeleteImage', {...}). */
  call(rpc: string, request?: object, options?: CallOptions): Promise<unknown> {
    for (const svc of SERVICES) {
      for (const m of Object.values(svc.methods as ServiceDef['methods'])) {
        if (m.name === rpc) return this.invoke(svc.fullName, m, request ?? {}, options ?? {});
      }
    }
    return Promise.reject(new TypeError(`no RPC named ${rpc}`));
  }

  private invoke(service: string, m: MethodDef, request: object, options: CallOptions): Promise<any> {
    let message: any;
    try {
      const known = new Set(Object.keys(m.requestType.create()));
      for (const k of Object.keys(request)) {
        if (!known.has(k)) throw new TypeError(`${m.name}: no parameter ${k} (known: ${[...known].join(', ')})`);
      }
      message = m.requestType.fromPartial(request);
      if (CLIENT_TOKEN_RPCS.has(m.name) && !message.ClientToken) message.ClientToken = randomUUID();
    } catch (e) {
      return Promise.reject(e);
    }
    const md = options.metadata ? options.metadata.clone() : new grpc.Metadata();
    if (this.token != null) md.set('authorization', `Bearer ${this.token}`);
    const deadline = options.deadline ?? new Date(Date.now() + (options.timeoutMs ?? this.timeoutMs));
    return new Promise((resolve, reject) => {
      this.grpcClient.makeUnaryRequest(
        `/${service}/${m.name}`,
        (v: any) => Buffer.from(m.requestType.encode(v).finish()),
        (b: Buffer) => m.responseType.decode(b),
        message, md, { deadline },
        (err: grpc.ServiceError | null, resp?: unknown) => {
          if (err) reject(EcsError.fromServiceError(err));
          else resolve(resp);
        });
    });
  }

  close(): void {
    this.grpcClient.close();
  }
}
