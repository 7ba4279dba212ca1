// Direct RPC on `net`: svc's transport driven through its RpcTransport
// interface, and svc end to end as a user runs it (`svc instance` with its
// defaults, logging included, called through `connect()`), against raw
// node:net and Moleculer's TCP transporter (a whole broker on each side).
import {
  canPinToOneCpu,
  interleave,
  onOneCpu,
  rpcContender,
  svcInstanceContender,
} from '../lib/measure.mjs';

const svcNet = rpcContender('svc net transport', {
  server: () => ['svc/rpc-server.mjs', ['net']],
  client: 'svc/rpc-client.mjs',
  url: 'net',
});
const svcInstance = svcInstanceContender('svc instance', {
  config: 'conf/greeter.yml',
  service: 'Greeter',
  client: 'svc/instance-client.mjs',
});
// The same with each call's record printed as well as kept (`log.calls:
// output`): what printing a line a call costs. By default it is only kept.
const svcPrinted = svcInstanceContender('svc instance, SVC_LOG_CALLS=output', {
  config: 'conf/greeter.yml',
  service: 'Greeter',
  client: 'svc/instance-client.mjs',
  env: { SVC_LOG_CALLS: 'output' },
});
// The same over TCP (`SVC_RPC_UNIX=0`): by default a caller on the same host
// reaches its instance by a unix socket, which the baselines do not use.
const svcTcp = svcInstanceContender('svc instance, SVC_RPC_UNIX=0', {
  config: 'conf/greeter.yml',
  service: 'Greeter',
  client: 'svc/instance-client.mjs',
  env: { SVC_RPC_UNIX: '0' },
});
const rawNet = rpcContender('raw net+msgpack', {
  server: () => ['baselines/raw-net-server.mjs', []],
  client: 'baselines/raw-net-client.mjs',
});
const moleculer = rpcContender('Moleculer TCP', {
  server: ([a, b]) => ['baselines/moleculer-server.mjs', [String(a), String(b)]],
  client: 'baselines/moleculer-client.mjs',
});

// At one call in flight, end to end again with both sides on one CPU: each
// side's own cost, without the cross-CPU wake-up a virtual machine charges
// each call (see onOneCpu), which moved the rows above by a third between runs.
const instanceOneCpu = onOneCpu(svcInstance);
const moleculerOneCpu = onOneCpu(moleculer);

export default [1, 100].map((inflight) => ({
  name: `RPC net, ${inflight} in flight`,
  async run() {
    const pin = inflight === 1 && canPinToOneCpu();
    if (inflight === 1 && !pin) console.error('no taskset here: the one-CPU row is left out');
    const oneCpu = pin ? [instanceOneCpu, moleculerOneCpu] : [];
    const [net, instance, printed, tcp, raw, mol, instance1, mol1] = await interleave(
      [svcNet, svcInstance, svcPrinted, svcTcp, rawNet, moleculer, ...oneCpu],
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
        row('end to end', instance, moleculer.name, mol),
        row('end to end', instance, rawNet.name, raw),
        row('end to end, calls printed', printed, moleculer.name, mol),
        row('end to end, over TCP', tcp, moleculer.name, mol),
        ...(instance1
          ? [row('end to end, both on one CPU', instance1, moleculerOneCpu.name, mol1)]
          : []),
      ],
    };
  },
}));
