// RPC over RabbitMQ: svc's AMQP transport (Nameko's wire format) against raw amqplib RPC.
import { interleave, rpcContender } from '../lib/measure.mjs';
import { amqpUrl } from '../lib/amqp.mjs';
import { baselineNote, rpcTransportMissing } from '../lib/probe.mjs';

const svcAmqp = rpcContender('svc amqp', {
  server: () => ['svc/rpc-server.mjs', [amqpUrl]],
  client: 'svc/rpc-client.mjs',
  url: amqpUrl,
});
const rawAmqp = rpcContender('raw amqplib RPC', {
  server: () => ['baselines/raw-amqp-rpc-server.mjs', []],
  client: 'baselines/raw-amqp-rpc-client.mjs',
});
// The same raw client and server speaking Nameko's wire as svc does (its
// exchange, durable queues, persistent messages with Nameko's properties and
// headers, mandatory requests, acks right after the reply): the wire's own
// cost, which the lightest baseline does not pay.
const rawNameko = rpcContender("raw amqplib, Nameko's wire", {
  server: () => ['baselines/raw-amqp-rpc-server.mjs', ['nameko']],
  client: 'baselines/raw-amqp-rpc-client.mjs',
  url: 'nameko',
});

export default [1, 100].map((inflight) => ({
  name: `RPC amqp, ${inflight} in flight`,
  async run() {
    const missing = await rpcTransportMissing(amqpUrl);
    if (missing) {
      const [raw] = await interleave([rawAmqp], inflight);
      const why = 'the AMQP RPC transport (createRpcTransport("amqp://...") on main)';
      return { rows: [], notes: [baselineNote(inflight, rawAmqp.name, raw, 'req/s', why)] };
    }
    const [svc, raw, wire] = await interleave([svcAmqp, rawAmqp, rawNameko], inflight);
    const scenario = `RPC amqp, ${inflight} in flight`;
    return {
      rows: [
        { scenario, unit: 'req/s', svc, baseline: { name: rawAmqp.name, ...raw } },
        { scenario, unit: 'req/s', svc, baseline: { name: rawNameko.name, ...wire } },
      ],
    };
  },
}));
