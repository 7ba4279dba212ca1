import { describe, expect, it } from 'vitest';
import { SseBlocks } from './sse.js';

function split(chunks: string[]): string[] {
  const blocks: string[] = [];
  const sse = new SseBlocks();
  for (const c of chunks) sse.push(c, (b) => blocks.push(b));
  return blocks;
}

describe('SseBlocks', () => {
  const stream = 'event: cluster\ndata: {"a":1}\n\nevent: history\ndata: [1,2]\n\n: ping\n\n';
  const blocks = ['event: cluster\ndata: {"a":1}', 'event: history\ndata: [1,2]', ': ping'];

  it('gives the same blocks however the text is cut into chunks', () => {
    expect(split([stream])).toEqual(blocks);
    // every cut in two, the blank line's two newlines apart included
    for (let i = 1; i < stream.length; i++)
      expect(split([stream.slice(0, i), stream.slice(i)])).toEqual(blocks);
    expect(split([...stream])).toEqual(blocks);
  });

  it('keeps a block that has not ended yet until it does', () => {
    expect(split(['event: a\ndata: 1\n'])).toEqual([]);
    expect(split(['event: a\ndata: 1\n', '\n'])).toEqual(['event: a\ndata: 1']);
  });

  it('reads an event of 20 MB in 64 KiB chunks, its text whole', () => {
    const data = `data: ${'x'.repeat(20 * 1024 * 1024)}`;
    const text = `event: history\n${data}\n\n`;
    const chunks: string[] = [];
    for (let i = 0; i < text.length; i += 65536) chunks.push(text.slice(i, i + 65536));
    const got = split(chunks);
    expect(got).toHaveLength(1);
    expect(got[0]!.length).toBe(`event: history\n${data}`.length);
  });
});
