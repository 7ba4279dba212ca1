import {
  IncorrectSignatureError,
  MalformedRequestError,
  MethodNotFoundError,
  RemoteError,
  type WireError,
} from '../errors.js';

/** Nameko's serialized exception (`nameko/exceptions.py` serialize), plus svc's own keys. */
export interface NamekoErrorDict {
  exc_type: string;
  exc_path: string;
  exc_args: unknown[];
  value: string;
  /** svc's stable error code, so svc↔svc calls keep it (Nameko ignores unknown keys) */
  svc_code?: string;
  /** svc's error data */
  svc_data?: unknown;
}

/** svc codes that Nameko knows as its own exception classes, both ways. */
const NAMEKO_CLASSES: ReadonlyArray<[code: string, excType: string]> = [
  [MethodNotFoundError.code, 'MethodNotFound'],
  [MalformedRequestError.code, 'MalformedRequest'],
  [IncorrectSignatureError.code, 'IncorrectSignature'],
];
const BY_CODE = new Map(NAMEKO_CLASSES);
const BY_PATH = new Map<string, string>(
  NAMEKO_CLASSES.map(([code, excType]) => [`nameko.exceptions.${excType}`, code] as const),
);

/** Nameko's error dict for an svc wire error. */
export function toNamekoError(wire: WireError): NamekoErrorDict {
  const namekoType = BY_CODE.get(wire.code);
  const out: NamekoErrorDict = namekoType
    ? {
        exc_type: namekoType,
        exc_path: `nameko.exceptions.${namekoType}`,
        exc_args: [wire.message],
        value: wire.message,
      }
    : {
        exc_type: wire.type,
        exc_path: `svc.errors.${wire.type}`,
        exc_args: [wire.message],
        value: wire.message,
      };
  out.svc_code = wire.code;
  if (wire.data !== undefined) out.svc_data = wire.data;
  return out;
}

/**
 * An svc wire error from a Nameko error dict: svc's own keys win; Nameko's
 * registered exceptions map to their catalogue codes; anything else becomes
 * a remote error typed by `exc_type`.
 */
export function fromNamekoError(value: unknown): WireError {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { code: RemoteError.code, type: 'Error', message: String(value) };
  }
  const dict = value as Record<string, unknown>;
  const type = typeof dict['exc_type'] === 'string' ? dict['exc_type'] : 'Error';
  const message = messageOf(dict);
  if (typeof dict['svc_code'] === 'string') {
    const wire: WireError = { code: dict['svc_code'], type, message };
    if (dict['svc_data'] !== undefined) wire.data = dict['svc_data'];
    return wire;
  }
  const path = typeof dict['exc_path'] === 'string' ? dict['exc_path'] : '';
  const code = BY_PATH.get(path);
  if (code) return { code, type, message };
  return { code: RemoteError.code, type, message };
}

function messageOf(dict: Record<string, unknown>): string {
  if (typeof dict['value'] === 'string') return dict['value'];
  const args = dict['exc_args'];
  if (Array.isArray(args))
    return args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(', ');
  return '';
}
