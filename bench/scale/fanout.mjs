// Event fan-out: one event type handled by 1, 10 and 50 subscribing services
// (fanout-client.mjs: one process, each subscriber on its own transport),
// on the local (embedded) events and on RabbitMQ, against raw amqplib doing
// the same fan-out. Deliveries per second (events × subscribers, emitted to
// handled) and the process's CPU per delivery; RabbitMQ's own CPU is not
// counted (both AMQP contenders pay it alike).
import { amqpUrl } from '../lib/amqp.mjs';
import { interleave, settings } from '../lib/measure.mjs';
import { runClient } from '../lib/proc.mjs';

const sizes = (process.env.BENCH_SCALE_FANOUT ?? '1,10,50').split(',').map(Number);

const contender = (name, url) => ({
  name,
  async once(subscribers) {
    const result = await runClient(
      'scale/fanout-client.mjs',
      {
        url,
        subscribers,
        inflight: 100,
        warmupMs: settings.warmupMs,
        windowMs: settings.windowMs,
        windows: settings.windows,
      },
      120_000,
    );
    return result.windows;
  },
});

const local = contender('svc local', 'local');
const svcAmqp = contender('svc amqp', amqpUrl);
const raw = contender('raw amqplib', 'raw');

export default [
  {
    name: 'fan-out',
    async run() {
      const rows = [];
      for (const k of sizes) {
        const [l, a, r] = await interleave([local, svcAmqp, raw], k);
        rows.push({
          size: k,
          localRate: l.rate,
          localCpu: l.cpuUs,
          amqpRate: a.rate,
          amqpCpu: a.cpuUs,
          rawRate: r.rate,
          rawCpu: r.cpuUs,
          ratio: a.rate / r.rate,
        });
      }
      return [
        {
          title:
            'Event fan-out: subscribing services of one event type (100 events in flight; a delivery = one handler run)',
          size: 'subscribers',
          chart: ['localCpu', 'amqpCpu', 'rawCpu'],
          metrics: [
            { key: 'localRate', label: 'local deliveries/s' },
            { key: 'localCpu', label: 'local CPU µs/delivery' },
            { key: 'amqpRate', label: 'amqp deliveries/s' },
            { key: 'amqpCpu', label: 'amqp CPU µs/delivery' },
            { key: 'rawRate', label: 'raw amqplib deliveries/s' },
            { key: 'rawCpu', label: 'raw CPU µs/delivery' },
            { key: 'ratio', label: 'amqp ÷ raw' },
          ],
          rows,
        },
      ];
    },
  },
];
