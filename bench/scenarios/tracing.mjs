// What OpenTelemetry export costs: `svc instance` as in the end-to-end rows,
// once with tracing off (the default) and once exporting every span over
// OTLP/HTTP (protobuf, the default protocol) to a receiver in this process,
// which reads and acknowledges each batch. Both at log level info.
import { createServer } from 'node:http';
import { interleave, svcInstanceContender } from '../lib/measure.mjs';

/** An OTLP/HTTP receiver: takes POST /v1/traces, counts the bytes, answers 200. */
async function startReceiver() {
  let bytes = 0;
  let batches = 0;
  const server = createServer((req, res) => {
    req.on('data', (c) => (bytes += c.length));
    req.on('end', () => {
      batches++;
      res.writeHead(200, { 'content-type': 'application/x-protobuf' });
      res.end();
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    stats: () => ({ bytes, batches }),
    close: () => new Promise((r) => server.close(r)),
  };
}

export default [1, 100].map((inflight) => ({
  name: `RPC tracing, ${inflight} in flight`,
  async run() {
    const receiver = await startReceiver();
    try {
      const off = svcInstanceContender('svc instance, tracing off', {
        config: 'conf/greeter.yml',
        service: 'Greeter',
        client: 'svc/instance-client.mjs',
      });
      const on = svcInstanceContender('svc instance, OTLP export on', {
        config: 'conf/greeter.yml',
        service: 'Greeter',
        client: 'svc/instance-client.mjs',
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url },
      });
      const [traced, plain] = await interleave([on, off], inflight);
      const { batches } = receiver.stats();
      if (batches === 0) throw new Error('the traced instance exported no span');
      return {
        rows: [
          {
            scenario: `RPC end to end, OTLP export on, ${inflight} in flight`,
            unit: 'req/s',
            svc: traced,
            baseline: { name: off.name, ...plain },
          },
        ],
      };
    } finally {
      await receiver.close();
    }
  },
}));
