import { describe, expect, it } from 'vitest';
import { CALL_RECORD, RecordLogger, callRecordTemplate, type LogRecord } from './index.js';

/** A sink that keeps what it is given: each record and the line made for it. */
function capture() {
  const written: { record: LogRecord; line: string | undefined }[] = [];
  return {
    written,
    sink: { write: (record: LogRecord, line?: string) => written.push({ record, line }) },
  };
}

const template = callRecordTemplate('rpc', 'Greeting.greet', 'rpc Greeting.greet ok');
const worker = {
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  spanId: '00f067aa0ba902b7',
  parentSpanId: 'b7ad6b7169203331' as string | undefined,
  service: 'Greeting',
};

describe('RecordLogger.callOk', () => {
  it('gives the record info() would, and a line that is that record as JSON', () => {
    const { written, sink } = capture();
    const log = new RecordLogger([sink], { instance: 'Greeting-1' });
    const before = Date.now();
    log.callOk(template, worker, 0.123);
    const { record, line } = written[0]!;
    expect(record.time).toBeGreaterThanOrEqual(before);
    expect(record).toEqual({
      time: record.time,
      level: 'info',
      msg: 'rpc Greeting.greet ok',
      instance: 'Greeting-1',
      traceId: worker.traceId,
      spanId: worker.spanId,
      service: 'Greeting',
      kind: 'rpc',
      entrypoint: 'Greeting.greet',
      duration_ms: 0.123,
      parentSpanId: worker.parentSpanId,
      // a call's record: kept in the history, printed only where calls are asked for
      [CALL_RECORD]: true,
    });
    expect(line).toBe(JSON.stringify(record));
  });

  it("keeps a container logger's own service, where info() would", () => {
    const { written, sink } = capture();
    const log = new RecordLogger([sink], { instance: 'Greeting-1', service: 'Greeting' });
    log.callOk(template, { ...worker, service: 'Other' }, 2);
    const { record, line } = written[0]!;
    expect(line).toBe(JSON.stringify(record));
    expect(Object.keys(record)).toEqual([
      'time',
      'level',
      'msg',
      'instance',
      'service',
      'traceId',
      'spanId',
      'kind',
      'entrypoint',
      'duration_ms',
      'parentSpanId',
    ]);
    expect(record.service).toBe('Greeting');
  });

  it("lists the span ids the worker's calls and events went out with, in the record and its line alike", () => {
    const { written, sink } = capture();
    const log = new RecordLogger([sink], { instance: 'Greeting-1' });
    const sentSpanIds = ['53995c3f42cd8ad8', 'e457b5a2e4d86bd1'];
    log.callOk(template, { ...worker, sentSpanIds }, 1);
    const { record, line } = written[0]!;
    expect(record['sentSpanIds']).toEqual(sentSpanIds);
    expect(line).toBe(JSON.stringify(record));
    // The general path (a logger whose own fields name a record field) says the same.
    new RecordLogger([sink], { kind: 'mine' }).callOk(template, { ...worker, sentSpanIds }, 1);
    expect(written[1]!.record['sentSpanIds']).toEqual(sentSpanIds);
  });

  it('escapes what a peer sent that JSON must escape, and writes what JSON cannot hold as null', () => {
    const { written, sink } = capture();
    const log = new RecordLogger([sink], { instance: 'a "quoted" \\ instance\n' });
    const odd = { ...worker, traceId: 'x"}\\,"level":"error', parentSpanId: undefined };
    log.callOk(template, odd, Number.NaN);
    const { record, line } = written[0]!;
    expect(JSON.parse(line!)).toEqual(JSON.parse(JSON.stringify(record)));
    expect(JSON.parse(line!)).toMatchObject({
      level: 'info',
      traceId: odd.traceId,
      duration_ms: null,
    });
    expect(record).not.toHaveProperty('parentSpanId');
  });

  it('takes the general path when the logger own fields name one of the record fields', () => {
    const { written, sink } = capture();
    const log = new RecordLogger([sink], { service: 'Fixed', kind: 'mine' });
    // (outside any worker: the general path takes the ids from the current worker, here none)
    log.callOk(template, worker, 1);
    const { record, line } = written[0]!;
    expect(JSON.parse(line!)).toEqual(JSON.parse(JSON.stringify(record)));
    // the call's own fields win over the logger's, as in info(msg, fields)
    expect(record).toMatchObject({ service: 'Fixed', kind: 'rpc', entrypoint: 'Greeting.greet' });
  });

  it('keeps nothing when info records are not kept', () => {
    const { written, sink } = capture();
    new RecordLogger([sink], {}, 'warn').callOk(template, worker, 1);
    expect(written).toEqual([]);
  });
});
