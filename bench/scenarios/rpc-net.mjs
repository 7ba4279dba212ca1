// Direct RPC on `net`: svc's transport driven through its RpcTransport
// interface, and the whole runtime (ClusterClient → Instance → container),
// against raw node:net and Moleculer's TCP transporter (a whole broker too).
import { interleave, rpcContender } from '../lib/measure.mjs';

const svcNet = rpcContender('svc net transport', {
  server: () => ['svc/rpc-server.mjs', ['net']],
  client: 'svc/rpc-client.mjs',
  url: 'net',
});
const svcRuntime = rpcContender('svc runtime', {
  server: () => ['svc/runtime-server.mjs', ['Greeter']],
  client: 'svc/runtime-client.mjs',
});
const rawNet = rpcContender('raw net+msgpack', {
  server: () => ['baselines/raw-net-server.mjs', []],
  client: 'baselines/raw-net-client.mjs',
});
const moleculer = rpcContender('Moleculer TCP', {
  server: ([a, b]) => ['baselines/moleculer-server.mjs', [String(a), String(b)]],
  client: 'baselines/moleculer-client.mjs',
});

export default [1, 100].map((inflight) => ({
  name: `RPC net, ${inflight} in flight`,
  async run() {
    const [net, runtime, raw, mol] = await interleave(
      [svcNet, svcRuntime, rawNet, moleculer],
      inflight,
    );
    const row = (what, svc, name, baseline) => ({
      scenario: `RPC ${what}, ${inflight} in flight`,
      unit: 'req/s',
      svc,
      baseline: { name, ...baseline },
    });
    return {
      rows: [
        row('net transport', net, rawNet.name, raw),
        row('net transport', net, moleculer.name, mol),
        row('end to end', runtime, moleculer.name, mol),
        row('end to end', runtime, rawNet.name, raw),
      ],
    };
  },
}));
