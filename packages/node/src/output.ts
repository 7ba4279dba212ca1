import { StringDecoder } from 'node:string_decoder';

// A line longer than this is cut and written in parts so that a child that
// never writes a newline cannot grow the buffer without bound.
const MAX_LINE = 64 * 1024;

/** Splits a byte stream into whole lines; a partial last line waits for its end. */
export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';

  constructor(private readonly emit: (line: string) => void) {}

  push(chunk: Buffer | string): void {
    this.pending += typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    let nl = this.pending.indexOf('\n');
    while (nl >= 0) {
      this.emit(this.pending.slice(0, nl).replace(/\r$/, ''));
      this.pending = this.pending.slice(nl + 1);
      nl = this.pending.indexOf('\n');
    }
    while (this.pending.length > MAX_LINE) {
      this.emit(this.pending.slice(0, MAX_LINE));
      this.pending = this.pending.slice(MAX_LINE);
    }
  }

  /** Writes out what is left (a last line without a newline). */
  end(): void {
    this.pending += this.decoder.end();
    if (this.pending !== '') this.emit(this.pending);
    this.pending = '';
  }
}

const PALETTE = [36, 33, 32, 35, 34, 96, 93, 92, 95, 94];

/** Where the supervisor writes: children's lines, prefixed, and its own messages. */
export interface Output {
  /** the sink of one child stream: each call is one whole line */
  line(name: string, index: number, stream: 'stdout' | 'stderr', text: string): void;
  /** a message of the supervisor itself */
  note(text: string): void;
}

export interface OutputOptions {
  names: readonly string[];
  color: boolean;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

/**
 * Prefixes every child line with `Name.index | ` (padded so the bars align),
 * coloured per instance when `color` is set; supervisor messages start with
 * `[svc node]`. Each line goes out in one write, so lines never mix.
 */
export function createOutput(options: OutputOptions): Output {
  const width = Math.max(...options.names.map((n) => n.length)) + 3;
  const colors = new Map(options.names.map((n, i) => [n, PALETTE[i % PALETTE.length] as number]));
  const paint = (code: number, text: string) =>
    options.color ? `\x1b[${code}m${text}\x1b[0m` : text;
  return {
    line(name, index, stream, text) {
      const prefix = `${name}.${index}`.padEnd(width) + ' | ';
      const out = `${paint(colors.get(name) ?? 37, prefix)}${text}\n`;
      (stream === 'stdout' ? options.stdout : options.stderr)(out);
    },
    note(text) {
      options.stderr(`${paint(1, '[svc node]')} ${text}\n`);
    },
  };
}
