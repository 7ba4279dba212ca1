/**
 * svc's error catalogue. Every error svc raises is an {@link SvcError} with a
 * stable `code`; errors cross the wire as `{ code, type, message, data }` and
 * never by class path. The caller rebuilds the codes in {@link catalogue} as
 * their own class and wraps anything else in a {@link RemoteError}.
 */

/** The stable codes of svc's errors: those of the wire catalogue and the few that stay in a process. */
export const ErrorCode = {
  /** an SvcError that names no code of its own */
  GENERIC: 'SVC_ERR',
  RPC_TIMEOUT: 'SVC_ERR_RPC_TIMEOUT',
  DEADLINE_EXCEEDED: 'SVC_ERR_DEADLINE_EXCEEDED',
  CANCELLED: 'SVC_ERR_CANCELLED',
  UNKNOWN_SERVICE: 'SVC_ERR_UNKNOWN_SERVICE',
  METHOD_NOT_FOUND: 'SVC_ERR_METHOD_NOT_FOUND',
  VALIDATION: 'SVC_ERR_VALIDATION',
  MALFORMED_REQUEST: 'SVC_ERR_MALFORMED_REQUEST',
  INCORRECT_SIGNATURE: 'SVC_ERR_INCORRECT_SIGNATURE',
  CONNECTION_LOST: 'SVC_ERR_CONNECTION_LOST',
  DECODE: 'SVC_ERR_DECODE',
  SERIALIZE: 'SVC_ERR_SERIALIZE',
  CONFIG: 'SVC_ERR_CONFIG',
  CONTAINER_STOPPED: 'SVC_ERR_CONTAINER_STOPPED',
  BACKEND: 'SVC_ERR_BACKEND',
  USAGE: 'SVC_ERR_USAGE',
  REMOTE: 'SVC_ERR_REMOTE',
  /** `HttpError`: an HTTP handler's chosen status */
  HTTP: 'SVC_ERR_HTTP',
  /** `ServiceStartError`: a service's `onStart` or a dependency failed as the service started */
  SERVICE_START: 'SVC_ERR_SERVICE_START',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** What an error looks like on the wire. */
export interface WireError {
  /** stable code, `SVC_ERR_*` for svc's own errors or a user-chosen one */
  code: string;
  /** the class name on the side that raised it (`ValueError`, `TypeError`, `NotFound`) */
  type: string;
  message: string;
  data?: unknown;
}

/**
 * Base class of every error svc raises; user errors may extend it to carry
 * a code. What svc does with an error (how it logs it, how the CLI exits,
 * what an HTTP entrypoint answers) it reads from the class's static fields,
 * which a subclass overrides:
 *
 *     class NotFound extends SvcError {
 *       static override code = 'USERS_NOT_FOUND';
 *       static override expected = true;
 *       static override httpStatus = 404;
 *     }
 */
export class SvcError extends Error {
  /** stable code; subclasses override it */
  static code: string = ErrorCode.GENERIC;
  /**
   * part of a method's contract, not a fault: the worker logs it at WARN
   * without a stack, and plugins' `onError` hook does not hear of it
   */
  static expected = false;
  /** caused by what a user typed or wrote (an argument, a config value, a name): the CLI prints one line and exits 2 */
  static userMistake = false;
  /** refused before anything ran: sending the request again, to another instance, is safe */
  static retryable = false;
  /** what an HTTP entrypoint answers when its handler throws it */
  static httpStatus = 500;

  readonly code: string;
  readonly data: unknown;

  constructor(message: string, options: { cause?: unknown; data?: unknown; code?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = options.code ?? new.target.code;
    this.data = options.data;
  }

  /**
   * {@link SvcError.expected} of its class. Assignable: a value set on an
   * error is that error's own. Test runners write `expected` (and `actual`)
   * onto the errors they report, as assertion errors carry them; with a
   * getter alone, vitest's report of an SvcError failed with "Cannot set
   * property expected ... which has only a getter" and hid the error.
   */
  get expected(): boolean {
    return (this.constructor as typeof SvcError).expected;
  }
  set expected(value: boolean) {
    ownValue(this, 'expected', value);
  }
  /** {@link SvcError.userMistake} of its class */
  get userMistake(): boolean {
    return (this.constructor as typeof SvcError).userMistake;
  }
  /** {@link SvcError.retryable} of its class */
  get retryable(): boolean {
    return (this.constructor as typeof SvcError).retryable;
  }
  /** {@link SvcError.httpStatus} of its class */
  get httpStatus(): number {
    return (this.constructor as typeof SvcError).httpStatus;
  }
}

/** Shadows an accessor of an error's class with a value of the error's own. */
export function ownValue(error: Error, key: string, value: unknown): void {
  Object.defineProperty(error, key, {
    value,
    writable: true,
    configurable: true,
    enumerable: false,
  });
}

/** A call did not get an answer in time. */
export class RpcTimeoutError extends SvcError {
  static override code: string = ErrorCode.RPC_TIMEOUT;
}
/**
 * A call's deadline passed before its work could start: a nested call made
 * after the deadline its worker inherited, or a request that arrived with
 * no time left or ran out of it waiting for a worker. Nothing ran. A kind
 * of RpcTimeoutError, so that code handling timeouts handles it too.
 */
export class DeadlineExceededError extends RpcTimeoutError {
  static override code: string = ErrorCode.DEADLINE_EXCEEDED;
  static override expected = true;
}
/**
 * The caller cancelled the call (its AbortSignal, or it stopped reading a
 * stream) or went away: what a worker's `context.signal` aborts with.
 */
export class CancelledError extends SvcError {
  static override code: string = ErrorCode.CANCELLED;
  static override expected = true;
}
/**
 * No live instance of the called service is known (or the instance a
 * stale record named does not serve it). Over HTTP a handler failing with
 * it answers 503 with `Retry-After`: for the HTTP client an upstream with
 * no instance is unavailable, whether it has not registered yet, has gone,
 * or its name is misspelled (the record, at WARN, names it).
 */
export class UnknownServiceError extends SvcError {
  static override code: string = ErrorCode.UNKNOWN_SERVICE;
  static override userMistake = true;
  static override httpStatus = 503;
  /**
   * The service with no instance, when this process found that out; not
   * on one rebuilt from the wire (a nested call's), which carries only
   * its code, type and message.
   */
  readonly service: string | undefined;

  constructor(
    message: string,
    options: { cause?: unknown; data?: unknown; code?: string; service?: string } = {},
  ) {
    super(message, options);
    this.service = options.service;
  }
}
/** The service exists but has no such RPC method. */
export class MethodNotFoundError extends SvcError {
  static override code: string = ErrorCode.METHOD_NOT_FOUND;
  static override expected = true;
  static override userMistake = true;
}
/** The parameters of a call do not match the method's schema. */
export class ValidationError extends SvcError {
  static override code: string = ErrorCode.VALIDATION;
  static override expected = true;
  static override userMistake = true;
  static override httpStatus = 400;
}
/** A request was not shaped as the protocol requires (Nameko's MalformedRequest). */
export class MalformedRequestError extends SvcError {
  static override code: string = ErrorCode.MALFORMED_REQUEST;
}
/** Positional arguments that cannot be mapped to the parameters (Nameko's IncorrectSignature). */
export class IncorrectSignatureError extends SvcError {
  static override code: string = ErrorCode.INCORRECT_SIGNATURE;
  static override expected = true;
  static override userMistake = true;
}
/** The instance serving a call went away before it answered. */
export class ConnectionLostError extends SvcError {
  static override code: string = ErrorCode.CONNECTION_LOST;
}
/** Bytes that could not be decoded, or a frame over the size limit. */
export class DecodeError extends SvcError {
  static override code: string = ErrorCode.DECODE;
}
/** A value that cannot be serialized for the wire. */
export class SerializationError extends SvcError {
  static override code: string = ErrorCode.SERIALIZE;
}
/** A configuration file or value is wrong; the message names file, key and what was expected. */
export class ConfigError extends SvcError {
  static override code: string = ErrorCode.CONFIG;
  static override userMistake = true;
}
/** The container is stopping or stopped and takes no new work. */
export class ContainerStoppedError extends SvcError {
  static override code: string = ErrorCode.CONTAINER_STOPPED;
  static override retryable = true;
  static override httpStatus = 503;
}
/** A backend (broker, registry server) cannot be reached or refused an operation. */
export class BackendError extends SvcError {
  static override code: string = ErrorCode.BACKEND;
}
/** A user mistake on the command line or in an API call (bad argument, bad JSON). */
export class UsageError extends SvcError {
  static override code: string = ErrorCode.USAGE;
  static override userMistake = true;
}

/**
 * An error raised by remote code that is not in the catalogue: its remote
 * class name, message, code and data are kept; the message reads
 * `<type>: <message>`.
 */
export class RemoteError extends SvcError {
  static override code: string = ErrorCode.REMOTE;
  /** class name on the remote side */
  readonly remoteType: string;
  /** the remote error's own message */
  readonly remoteMessage: string;
  /** the remote error's code (`SVC_ERR_REMOTE` when it had none) */
  readonly remoteCode: string;

  constructor(wire: WireError) {
    super(`${wire.type}: ${wire.message}`, { data: wire.data });
    this.remoteType = wire.type;
    this.remoteMessage = wire.message;
    this.remoteCode = wire.code;
  }
}

type SvcErrorClass = (new (message: string, options?: { data?: unknown }) => SvcError) & {
  code: string;
};

/** Every code the caller rebuilds as its own class. Kept honest by errors.test.ts. */
export const catalogue: ReadonlyMap<string, SvcErrorClass> = new Map<string, SvcErrorClass>(
  [
    RpcTimeoutError,
    DeadlineExceededError,
    CancelledError,
    UnknownServiceError,
    MethodNotFoundError,
    ValidationError,
    MalformedRequestError,
    IncorrectSignatureError,
    ConnectionLostError,
    DecodeError,
    SerializationError,
    ConfigError,
    ContainerStoppedError,
    BackendError,
    UsageError,
  ].map((cls) => [cls.code, cls]),
);

const userErrors = new Map<string, SvcErrorClass>();

/**
 * Lets callers rebuild a user error class from its code instead of wrapping
 * it in a RemoteError. The class must extend SvcError and set a static code.
 */
export function registerError(cls: SvcErrorClass): void {
  if (catalogue.has(cls.code)) throw new UsageError(`error code ${cls.code} is reserved by svc`);
  userErrors.set(cls.code, cls);
}

/** The wire form of any thrown value. */
export function toWireError(err: unknown): WireError {
  if (err instanceof RemoteError) {
    return {
      code: err.remoteCode,
      type: err.remoteType,
      message: err.remoteMessage,
      data: err.data,
    };
  }
  if (err instanceof SvcError) {
    const wire: WireError = { code: err.code, type: err.name, message: err.message };
    if (err.data !== undefined) wire.data = err.data;
    return wire;
  }
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return {
      code: typeof code === 'string' ? code : RemoteError.code,
      type: err.name || 'Error',
      message: err.message,
    };
  }
  return { code: RemoteError.code, type: typeof err, message: String(err) };
}

/** Rebuilds an error received from the wire: catalogued codes as their class, the rest as RemoteError. */
export function fromWireError(wire: unknown): SvcError {
  const w = normalizeWire(wire);
  const cls = catalogue.get(w.code) ?? userErrors.get(w.code);
  if (cls && (w.type === cls.name || catalogue.has(w.code))) {
    return new cls(w.message, w.data === undefined ? {} : { data: w.data });
  }
  return new RemoteError(w);
}

function normalizeWire(wire: unknown): WireError {
  if (typeof wire !== 'object' || wire === null) {
    return { code: RemoteError.code, type: 'Error', message: String(wire) };
  }
  const w = wire as Record<string, unknown>;
  const out: WireError = {
    code: typeof w['code'] === 'string' ? w['code'] : RemoteError.code,
    type: typeof w['type'] === 'string' ? w['type'] : 'Error',
    message: typeof w['message'] === 'string' ? w['message'] : '',
  };
  if (w['data'] !== undefined) out.data = w['data'];
  return out;
}
