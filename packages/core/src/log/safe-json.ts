/**
 * JSON of a log record or of a value in one, never throwing: a bigint is
 * written as its digits, and what cannot be written at all (a cycle) becomes
 * a record saying so. Its own module so that the record builders
 * (call-record.ts) and the tracing code need not import the whole logger.
 */
export function safeJson(value: unknown): string {
  try {
    // Without a replacer first: a replacer function costs a call per key.
    return JSON.stringify(value);
  } catch {
    // a bigint, or a cycle
  }
  try {
    return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  } catch {
    return JSON.stringify({ msg: '[unserializable log record]' });
  }
}
