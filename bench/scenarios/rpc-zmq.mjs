// Direct RPC on svc's `zmq` transport against raw zeromq.js DEALER→ROUTER.
import { interleave, rpcContender } from '../lib/measure.mjs';
import { baselineNote, rpcTransportMissing } from '../lib/probe.mjs';

const svcZmq = rpcContender('svc zmq', {
  server: () => ['svc/rpc-server.mjs', ['zmq']],
  client: 'svc/rpc-client.mjs',
  url: 'zmq',
});
const rawZmq = rpcContender('raw zeromq+msgpack', {
  server: () => ['baselines/raw-zmq-server.mjs', []],
  client: 'baselines/raw-zmq-client.mjs',
});

export default [1, 100].map((inflight) => ({
  name: `RPC zmq, ${inflight} in flight`,
  async run() {
    const missing = await rpcTransportMissing('zmq');
    if (missing) {
      const [raw] = await interleave([rawZmq], inflight);
      const why = 'the zmq RPC transport (packages/core/src/rpc/zmq.ts)';
      return { rows: [], notes: [baselineNote(inflight, rawZmq.name, raw, 'req/s', why)] };
    }
    const [svc, raw] = await interleave([svcZmq, rawZmq], inflight);
    const scenario = `RPC zmq, ${inflight} in flight`;
    return { rows: [{ scenario, unit: 'req/s', svc, baseline: { name: rawZmq.name, ...raw } }] };
  },
}));
