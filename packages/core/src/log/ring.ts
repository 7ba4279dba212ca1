// The ring of an instance's recent records, kept for `svc tail --trace` after
// the fact and `svc.recent_logs`.
import { DEFAULT_LIMITS } from '../limits.js';
import type { LogRecord } from './logger.js';
import { safeJson } from './safe-json.js';

/** The ring starts this small and doubles, up to its byte limit, while it is filled the first time. */
const FIRST_BUFFER_BYTES = 64 * 1024;

/**
 * Keeps the most recent records: at most `capacity` records and `maxBytes`
 * bytes of their JSON (UTF-8). A record over `recordBytes` characters is
 * kept cut down, its long fields ending in a `…[N more characters]` marker
 * and `truncated: true` added; never dropped whole. Counted in records
 * only, 100 greetings with 4 MiB names held 420 MB, and `svc.recent_logs`
 * no longer fitted a frame.
 *
 * Records are held as the bytes of their JSON lines in one buffer written
 * round and round, and parsed again when asked for. Every call leaves a
 * record, and every record outlives the young generation: as objects, the
 * ring cost the end-to-end RPC bench about 14 µs of CPU a call; as JS
 * strings (a concatenated line is a tree of a dozen strings), what the
 * garbage collector copied and marked was still a tenth of a busy server's
 * time. In a buffer it holds nothing the collector looks into.
 */
export class RingSink {
  readonly #capacity: number;
  readonly #maxBytes: number;
  readonly #recordBytes: number;
  #buf: Buffer;
  /** where the next line is written */
  #pos = 0;
  /** the lines kept, oldest first from `#head`, as offsets and lengths in `#buf` by slot */
  readonly #offsets: Int32Array;
  readonly #lengths: Int32Array;
  #head = 0;
  #count = 0;
  #bytes = 0;
  /**
   * The records already parsed, by slot: parsed once when first asked for,
   * so that many `svc.recent_logs` in a row share them (400 at once, each
   * parsing the whole ring again, took a peer that did not read its replies
   * from 60 to 180 MB). Made on the first read.
   */
  #parsed: (LogRecord | undefined)[] | undefined;

  constructor(
    capacity = 2000,
    maxBytes = DEFAULT_LIMITS.logRingBytes,
    recordBytes = DEFAULT_LIMITS.logRecordBytes,
  ) {
    this.#capacity = Math.max(1, capacity);
    this.#maxBytes = Math.max(1024, maxBytes);
    this.#recordBytes = Math.min(recordBytes, this.#maxBytes);
    this.#buf = Buffer.allocUnsafe(Math.min(this.#maxBytes, FIRST_BUFFER_BYTES));
    this.#offsets = new Int32Array(this.#capacity);
    this.#lengths = new Int32Array(this.#capacity);
  }

  /** The size of the buffer the records are kept in now. */
  get bufferBytes(): number {
    return this.#buf.length;
  }

  /** Bytes of records held now (their JSON, in UTF-8). */
  get bytes(): number {
    return this.#bytes;
  }

  write(record: LogRecord, json?: string): void {
    this.#keep(json ?? safeJson(record), () => record);
  }

  /** A successful worker's record, from its line alone (see LogSink.callLine). */
  callLine(line: string, record: () => LogRecord): void {
    this.#keep(line, record);
  }

  #keep(line: string, record: () => LogRecord): void {
    if (line.length > this.#recordBytes)
      line = safeJson(truncateRecord(record(), this.#recordBytes));
    // At most 3 bytes a UTF-16 unit; the exact size is counted only near the buffer's end.
    let size = line.length * 3;
    if (this.#pos + size > this.#buf.length) {
      size = Buffer.byteLength(line);
      if (size > this.#maxBytes) {
        // Characters beyond Latin-1 take up to 3 bytes each: cut to a third.
        line = safeJson(truncateRecord(record(), Math.floor(this.#maxBytes / 3)));
        size = Buffer.byteLength(line);
        if (size > this.#maxBytes) line = leftOut(record(), size);
        size = Buffer.byteLength(line);
      }
      if (this.#pos + size > this.#buf.length) this.#makeRoom(size);
    }
    const pos = this.#pos;
    const written = this.#buf.write(line, pos, 'utf8');
    const end = pos + written;
    // The oldest lines, written on the last round, that this one overwrote.
    const offsets = this.#offsets;
    while (this.#count > 0 && offsets[this.#head]! >= pos && offsets[this.#head]! < end) {
      this.#drop();
    }
    if (this.#count === this.#capacity) this.#drop();
    const slot = (this.#head + this.#count) % this.#capacity;
    offsets[slot] = pos;
    this.#lengths[slot] = written;
    if (this.#parsed) this.#parsed[slot] = undefined;
    this.#count++;
    this.#bytes += written;
    this.#pos = end;
  }

  /**
   * No room for `size` bytes at the end: a buffer filled for the first
   * time grows (twice as big, up to the limit) unless the records it holds
   * take less than half of it (the oldest were dropped for the count); else
   * it starts again from its beginning, the lines after the last one
   * written (the oldest) dropped first.
   */
  #makeRoom(size: number): void {
    const old = this.#buf;
    const wrapped = this.#count > 0 && this.#offsets[this.#head]! >= this.#pos;
    const freeAtStart = this.#count > 0 ? this.#offsets[this.#head]! : this.#pos;
    if (!wrapped && old.length < this.#maxBytes && freeAtStart < Math.max(size, old.length / 2)) {
      const bigger = Buffer.allocUnsafe(
        Math.min(this.#maxBytes, Math.max(old.length * 2, this.#pos + size)),
      );
      old.copy(bigger, 0, 0, this.#pos);
      this.#buf = bigger;
      if (this.#pos + size <= bigger.length) return;
    }
    while (this.#count > 0 && this.#offsets[this.#head]! >= this.#pos) this.#drop();
    this.#pos = 0;
  }

  #drop(): void {
    this.#bytes -= this.#lengths[this.#head]!;
    if (this.#parsed) this.#parsed[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.#capacity;
    this.#count--;
  }

  /** Records in time order, optionally only those of one trace. */
  recent(filter: { traceId?: string; limit?: number } = {}): LogRecord[] {
    const { traceId, limit } = filter;
    const parsed = (this.#parsed ??= new Array<LogRecord | undefined>(this.#capacity));
    const buf = this.#buf;
    const records: LogRecord[] = [];
    for (let i = 0; i < this.#count; i++) {
      const slot = (this.#head + i) % this.#capacity;
      const start = this.#offsets[slot]!;
      const end = start + this.#lengths[slot]!;
      // A line that does not hold the id cannot be of the trace: most are left unparsed.
      if (traceId && buf.subarray(start, end).indexOf(traceId) < 0) continue;
      const record = (parsed[slot] ??= JSON.parse(buf.toString('utf8', start, end)) as LogRecord);
      if (!traceId || record.traceId === traceId) records.push(record);
    }
    return limit ? records.slice(-limit) : records;
  }
}

/** What is kept of a record that cannot be cut down to fit the ring at all. */
function leftOut(record: LogRecord, size: number): string {
  const { time, level } = record;
  return safeJson({ time, level, msg: `(a record of ${size} bytes, left out)`, truncated: true });
}

/** A record's size, close to its JSON length without making the JSON (strings by length). */
function recordSize(record: LogRecord): number {
  let size = 2;
  for (const key in record) {
    const value = (record as Record<string, unknown>)[key];
    size += key.length + 4 + valueSize(value);
  }
  return size;
}

function valueSize(value: unknown): number {
  if (typeof value === 'string') return value.length + 2;
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return 8;
  return safeJson(value).length;
}

/** A copy of a record whose longest fields are cut (with a marker) until it fits `max`. */
function truncateRecord(record: LogRecord, max: number): LogRecord {
  const out: Record<string, unknown> = { ...record, truncated: true };
  const fields = Object.keys(out)
    .filter((k) => k !== 'time' && k !== 'level')
    .map((k) => ({ k, size: valueSize(out[k]) }))
    .sort((a, b) => b.size - a.size);
  let total = recordSize(out as unknown as LogRecord);
  // Each field gets at least a short head, so that what it was stays recognisable.
  const head = Math.max(32, Math.floor(max / (2 * Math.max(1, fields.length))));
  for (const { k, size } of fields) {
    if (total <= max) break;
    if (size <= head + 32) continue;
    const value = out[k];
    const text = typeof value === 'string' ? value : safeJson(value);
    const keep = Math.max(head, text.length - (total - max) - 40);
    if (keep >= text.length) continue;
    const cut = `${text.slice(0, keep)}…[${text.length - keep} more characters]`;
    total += cut.length + 2 - size;
    out[k] = cut;
  }
  return out as unknown as LogRecord;
}
