import { describe, expect, it } from 'vitest';
import { MsgpackSerializer } from '../serializers/msgpack.js';
import { callHeaderList, parseCallHeaderList, parseCallHeaders } from './wire-check.js';

const serializer = new MsgpackSerializer();
const sent = {
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  spanId: '00f067aa0ba902b7',
  traceFlags: 1,
  callIdStack: ['Web.greet.1', 'Greeting.greet.2'],
  data: { language: 'en-gb' },
};

describe('call headers on the wire', () => {
  it('reads back, from a net request list, the headers a map carries', () => {
    for (const headers of [sent, { ...sent, traceState: 'vendor=1' }]) {
      const list = serializer.decode(serializer.encode(callHeaderList(headers)));
      expect(parseCallHeaderList(list)).toEqual(parseCallHeaders(headers));
      expect(parseCallHeaderList(list)).toEqual(headers);
    }
  });

  it('leaves out the optional Trace Context fields a peer did not send', () => {
    const bare = serializer.decode(
      serializer.encode(callHeaderList({ traceId: 't', callIdStack: [], data: {} })),
    );
    expect(parseCallHeaderList(bare)).toEqual({ traceId: 't', callIdStack: [], data: {} });
  });

  it('checks a list as it checks a map: a bad trace id replaced, a crafted stack refused', () => {
    expect(parseCallHeaderList([12345, null, null, [], {}]).traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(() => parseCallHeaderList(['t', null, null, [{ not: 'a string' }], {}])).toThrow(
      /call-id stack/,
    );
    expect(() => parseCallHeaderList(['t', null, null, [], null])).toThrow(/headers are not/);
    // the map of the zmq wire is not a net request's headers
    expect(() => parseCallHeaderList(sent)).toThrow(/lacks headers/);
  });
});
