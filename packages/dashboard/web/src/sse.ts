/**
 * Splits a server-sent event stream's text into its blocks (the lines of
 * one event, ended by a blank line) as chunks arrive. Each chunk is
 * searched once and a block's pieces are joined once: the page's first
 * `history` event can be megabytes, read in thousands of chunks, and
 * searching all that had arrived on every chunk made its reading grow
 * with the square of its size.
 */
export class SseBlocks {
  #parts: string[] = [];

  /** Takes the next chunk of text; calls `onBlock` with each block it completes, in order. */
  push(chunk: string, onBlock: (block: string) => void): void {
    let start = 0;
    const last = this.#parts.at(-1);
    // A blank line split across two chunks: "…\n" then "\n…".
    if (last !== undefined && last.endsWith('\n') && chunk.startsWith('\n')) {
      this.#parts[this.#parts.length - 1] = last.slice(0, -1);
      onBlock(this.#take());
      start = 1;
    }
    let end: number;
    while ((end = chunk.indexOf('\n\n', start)) >= 0) {
      this.#parts.push(chunk.slice(start, end));
      onBlock(this.#take());
      start = end + 2;
    }
    if (start < chunk.length) this.#parts.push(chunk.slice(start));
  }

  #take(): string {
    const block = this.#parts.join('');
    this.#parts = [];
    return block;
  }
}
