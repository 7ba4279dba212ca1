// Events over RabbitMQ, persistent + confirmed + acked, emit to handled, window 100.
import { interleave, rpcContender } from '../lib/measure.mjs';
import { baselineNote } from '../lib/probe.mjs';

const rawEvents = rpcContender('raw amqplib events', {
  client: 'baselines/raw-amqp-events.mjs',
});

export default [
  {
    name: 'events amqp, window 100',
    async run() {
      const [raw] = await interleave([rawEvents], 100);
      const why = 'the AMQP event transport (createEventTransport("amqp://...") on main)';
      return { rows: [], notes: [baselineNote(100, rawEvents.name, raw, 'events/s', why)] };
    },
  },
];
