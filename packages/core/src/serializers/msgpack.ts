// The `pack` entry is msgpackr without its optional native string extractor
// (msgpackr-extract): 5 MB of resident memory in every process, for a gain
// only on large string-heavy messages.
import * as msgpackrPack from 'msgpackr/pack';
import { DecodeError, SerializationError } from '../errors.js';
import { DEFAULT_MAX_MESSAGE_BYTES, type Serializer } from './serializer.js';

// Its typings only re-export the main entry's, which TypeScript does not follow.
const { Packr } = msgpackrPack as unknown as typeof import('msgpackr');

/**
 * MessagePack through msgpackr, the format of every direct transport.
 * Records and structured clones are off so that any MessagePack peer can
 * read what we write; msgpackr renames a decoded `__proto__` key, so
 * decoded maps are plain, safe objects.
 */
export class MsgpackSerializer implements Serializer {
  readonly name = 'msgpack';
  readonly contentType = 'application/x-msgpack';
  readonly #packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });
  readonly #maxBytes: number;

  constructor(options: { maxBytes?: number } = {}) {
    this.#maxBytes = options.maxBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  }

  encode(value: unknown): Buffer {
    try {
      return this.#packr.pack(value);
    } catch (err) {
      throw new SerializationError(`cannot encode value: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  decode(bytes: Uint8Array): unknown {
    if (bytes.length > this.#maxBytes) {
      throw new DecodeError(
        `message of ${bytes.length} bytes is over the ${this.#maxBytes}-byte limit`,
      );
    }
    if (bytes.length === 0) throw new DecodeError('empty message');
    try {
      return this.#packr.unpack(bytes);
    } catch (err) {
      throw new DecodeError(`bad MessagePack: ${(err as Error).message}`, { cause: err });
    }
  }
}
