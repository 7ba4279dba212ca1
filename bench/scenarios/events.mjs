// Events, emit to handled, 100 in flight: svc's AMQP event transport
// (persistent, confirmed, acked) against raw amqplib doing the same, and
// svc's embedded (local) event transport, shown against the same baseline.
import { amqpUrl } from '../lib/amqp.mjs';
import { interleave, rpcContender } from '../lib/measure.mjs';

const rawEvents = rpcContender('raw amqplib events', { client: 'baselines/raw-amqp-events.mjs' });
// The same with the wire svc speaks (source exchange bound into the cluster's,
// Nameko's properties and headers): the wire's own cost.
const rawWire = rpcContender("raw amqplib, svc's wire", {
  client: 'baselines/raw-amqp-events.mjs',
  url: 'nameko',
});
const svcAmqp = rpcContender('svc amqp events', { client: 'svc/events-client.mjs', url: amqpUrl });
const svcLocal = rpcContender('svc local events', {
  client: 'svc/events-client.mjs',
  url: 'local',
});

export default [
  {
    name: 'events, 100 in flight',
    async run() {
      const [amqp, local, raw, wire] = await interleave(
        [svcAmqp, svcLocal, rawEvents, rawWire],
        100,
      );
      const baseline = { name: rawEvents.name, ...raw };
      return {
        rows: [
          { scenario: 'events amqp, 100 in flight', unit: 'events/s', svc: amqp, baseline },
          {
            scenario: 'events amqp, 100 in flight',
            unit: 'events/s',
            svc: amqp,
            baseline: { name: rawWire.name, ...wire },
          },
          { scenario: 'events local, 100 in flight', unit: 'events/s', svc: local, baseline },
        ],
      };
    },
  },
];
