// Direct RPC on svc's `net` transport against raw node:net and Moleculer's TCP transporter.
import { interleave, rpcContender } from '../lib/measure.mjs';

const svcNet = rpcContender('svc net', {
  server: () => ['svc/rpc-server.mjs', ['net']],
  client: 'svc/rpc-client.mjs',
  url: 'net',
});
const rawNet = rpcContender('raw net+msgpack', {
  server: () => ['baselines/raw-net-server.mjs', []],
  client: 'baselines/raw-net-client.mjs',
});
const moleculer = rpcContender('Moleculer TCP', {
  server: ([a, b]) => ['baselines/moleculer-server.mjs', [String(a), String(b)]],
  client: 'baselines/moleculer-client.mjs',
});

function rows(inflight, [svc, raw, mol]) {
  const scenario = `RPC net, ${inflight} in flight`;
  return [
    { scenario, unit: 'req/s', svc, baseline: { name: rawNet.name, ...raw } },
    { scenario, unit: 'req/s', svc, baseline: { name: moleculer.name, ...mol } },
  ];
}

export default [1, 100].map((inflight) => ({
  name: `RPC net, ${inflight} in flight`,
  async run() {
    return { rows: rows(inflight, await interleave([svcNet, rawNet, moleculer], inflight)) };
  },
}));
