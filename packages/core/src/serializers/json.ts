import { DecodeError, SerializationError } from '../errors.js';
import { DEFAULT_MAX_MESSAGE_BYTES, type Serializer } from './serializer.js';

/**
 * A pattern that finds `"<key>":` in JSON text however the key is spelled:
 * each character either as itself or as a `\u00XX` escape (either case of hex).
 * Finding it is what sends a text down the slow path; a key spelled any other
 * way is not that key.
 */
function keyPattern(key: string): string {
  const chars = [...key].map((c) => {
    const hex = c.charCodeAt(0).toString(16).padStart(4, '0');
    const escaped = [...hex]
      .map((h) => (/[a-f]/.test(h) ? `[${h}${h.toUpperCase()}]` : h))
      .join('');
    return `(?:${c}|\\\\u${escaped})`;
  });
  return `"${chars.join('')}"\\s*:`;
}

const DANGEROUS_KEY = new RegExp(`${keyPattern('__proto__')}|${keyPattern('constructor')}`);

/**
 * Drops `__proto__` keys, and `constructor` keys whose value has a `prototype`,
 * so that no decoded object can change a prototype when code later copies or
 * merges it key by key.
 */
function safeReviver(key: string, value: unknown): unknown {
  if (key === '__proto__') return undefined;
  if (key === 'constructor' && typeof value === 'object' && value !== null) {
    return Object.hasOwn(value, 'prototype') ? undefined : value;
  }
  return value;
}

/**
 * Parses JSON text from an untrusted source; `__proto__` keys, and
 * `constructor` keys holding a `prototype`, are dropped. A reviver makes
 * `JSON.parse` several times slower, so it runs only on text that holds one
 * of those keys (a scan, as secure-json-parse does): the common case costs
 * about what `JSON.parse` does.
 */
export function parseJsonSafe(text: string): unknown {
  return mayHoldDangerousKey(text) ? JSON.parse(text, safeReviver) : JSON.parse(text);
}

/**
 * Whether `text` spells a dangerous key. Substring searches are much faster
 * than the pattern, and settle most texts: a key spelled with escapes holds
 * `\u`, one spelled without holds the name itself.
 */
function mayHoldDangerousKey(text: string): boolean {
  if (!text.includes('\\u') && !text.includes('__proto__') && !text.includes('constructor')) {
    return false;
  }
  return DANGEROUS_KEY.test(text);
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
