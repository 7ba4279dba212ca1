import { ConfigError } from '../errors.js';
import { JsonSerializer } from './json.js';
import { MsgpackSerializer } from './msgpack.js';
import type { Serializer } from './serializer.js';

export type { Serializer } from './serializer.js';
export { DEFAULT_MAX_MESSAGE_BYTES } from './serializer.js';
export { JsonSerializer, parseJsonSafe } from './json.js';
export { MsgpackSerializer } from './msgpack.js';

/** Resolves a serializer by name (`msgpack`, `json`). */
export function createSerializer(name: string, options: { maxBytes?: number } = {}): Serializer {
  switch (name) {
    case 'msgpack':
      return new MsgpackSerializer(options);
    case 'json':
      return new JsonSerializer(options);
    default:
      throw new ConfigError(`unknown serializer "${name}": expected "msgpack" or "json"`);
  }
}
