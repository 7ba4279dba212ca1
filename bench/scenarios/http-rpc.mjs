// HTTP → RPC under autocannon at fixed concurrency: svc's HTTP entrypoint
// calling an RPC, against plain node:http calling the raw net client.
import { runClient, start } from '../lib/proc.mjs';
import { interleave, settings } from '../lib/measure.mjs';
import { baselineNote } from '../lib/probe.mjs';

const connections = 50;
const rawHttp = {
  name: 'node:http + raw net',
  async once() {
    const rpc = await start('baselines/raw-net-server.mjs');
    try {
      const http = await start('baselines/raw-http-server.mjs', [String(rpc.value.address)]);
      try {
        const result = await runClient('lib/autocannon-client.mjs', {
          address: http.value.address,
          inflight: connections,
          warmupMs: settings.warmupMs,
          windowMs: settings.windowMs,
          windows: settings.windows,
        });
        return result.windows;
      } finally {
        await http.stop();
      }
    } finally {
      await rpc.stop();
    }
  },
};

export default [
  {
    name: `HTTP→RPC, ${connections} connections`,
    async run() {
      const [raw] = await interleave([rawHttp]);
      const why = 'the HTTP entrypoint and the service runtime (`svc instance`)';
      return { rows: [], notes: [baselineNote(0, rawHttp.name, raw, 'req/s', why)] };
    },
  },
];
