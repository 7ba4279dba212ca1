// What encryption costs on `net`: the transport over TLS-PSK (`rpc_tls`,
// keyed by the cluster secret, TLS 1.2 ECDHE-PSK-CHACHA20-POLY1305) against
// the same transport in plain TCP, both driven through the RpcTransport
// interface, in the same run. Both sides pass the cluster handshake.
import { interleave, rpcContender } from '../lib/measure.mjs';

const plain = rpcContender('svc net transport, plain TCP', {
  server: () => ['svc/rpc-server.mjs', ['net']],
  client: 'svc/rpc-client.mjs',
  url: 'net',
});
const tls = rpcContender('svc net transport over TLS', {
  server: () => ['svc/rpc-server.mjs', ['net', 'tls']],
  client: 'svc/rpc-client.mjs',
  url: 'net',
});

export default [1, 100].map((inflight) => ({
  name: `RPC net TLS, ${inflight} in flight`,
  async run() {
    const [encrypted, clear] = await interleave([tls, plain], inflight);
    return {
      rows: [
        {
          scenario: `RPC net over TLS-PSK, ${inflight} in flight`,
          unit: 'req/s',
          svc: encrypted,
          baseline: { name: plain.name, ...clear },
        },
      ],
    };
  },
}));
