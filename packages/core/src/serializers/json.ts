import { DecodeError, SerializationError } from '../errors.js';
import { DEFAULT_MAX_MESSAGE_BYTES, type Serializer } from './serializer.js';

/** Drops `__proto__` keys so that no decoded object can be used to change a prototype. */
function safeReviver(key: string, value: unknown): unknown {
  return key === '__proto__' ? undefined : value;
}

/** Parses JSON text from an untrusted source; `__proto__` keys are dropped. */
export function parseJsonSafe(text: string): unknown {
  return JSON.parse(text, safeReviver);
}

/** JSON, as Nameko speaks it on AMQP (`application/json`, utf-8). */
export class JsonSerializer implements Serializer {
  readonly name = 'json';
  readonly contentType = 'application/json';
  readonly #maxBytes: number;

  constructor(options: { maxBytes?: number } = {}) {
    this.#maxBytes = options.maxBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  }

  encode(value: unknown): Buffer {
    let text: string | undefined;
    try {
      text = JSON.stringify(value);
    } catch (err) {
      throw new SerializationError(`cannot encode value as JSON: ${(err as Error).message}`, {
        cause: err,
      });
    }
    return Buffer.from(text ?? 'null', 'utf8');
  }

  decode(bytes: Uint8Array): unknown {
    if (bytes.length > this.#maxBytes) {
      throw new DecodeError(
        `message of ${bytes.length} bytes is over the ${this.#maxBytes}-byte limit`,
      );
    }
    try {
      return parseJsonSafe(
        Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8'),
      );
    } catch (err) {
      throw new DecodeError(`bad JSON: ${(err as Error).message}`, { cause: err });
    }
  }
}
