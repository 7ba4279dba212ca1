/**
 * A serializer turns values into bytes and back. Decoders treat their input
 * as hostile: over-size input and bad bytes raise a DecodeError (never
 * anything else), and no decoded object can carry a `__proto__` key that
 * would change a prototype when copied.
 */
export interface Serializer {
  readonly name: string;
  readonly contentType: string;
  encode(value: unknown): Buffer;
  decode(bytes: Uint8Array): unknown;
}

/** Default size limit for one decoded message (16 MiB). */
export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
