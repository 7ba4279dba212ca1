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
  /** decodes binary values as copies rather than as views of the bytes decoded */
  readonly #copying = new Packr({
    useRecords: false,
    mapsAsObjects: true,
    int64AsType: 'number',
    copyBuffers: true,
  });
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
    return this.decodeRange(bytes, 0, bytes.length);
  }

  /**
   * Decodes the message at `bytes[start, end)`. Frames read from a socket
   * are decoded in place: msgpackr makes (and keeps on the buffer) a
   * DataView of what it is given, so a view of each frame was a view, a
   * DataView and a new property on every message; over a whole chunk it is
   * one per chunk (about 0.4 µs a message less).
   *
   * A binary value is decoded as a view of `bytes` (no copy) unless
   * `copyBinaries`: bytes read into a reused buffer are overwritten by the
   * next read, and every value decoded from them must outlive it.
   */
  decodeRange(bytes: Uint8Array, start: number, end: number, copyBinaries = false): unknown {
    const size = end - start;
    if (size > this.#maxBytes) {
      throw new DecodeError(`message of ${size} bytes is over the ${this.#maxBytes}-byte limit`);
    }
    if (size <= 0) throw new DecodeError('empty message');
    try {
      return (copyBinaries ? this.#copying : this.#packr).unpack(bytes, { start, end });
    } catch (err) {
      throw new DecodeError(`bad MessagePack: ${(err as Error).message}`, { cause: err });
    }
  }
}
