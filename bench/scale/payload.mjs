// Payload size: parameters and results of 100 B, 10 KB and 1 MB (a string
// the server returns in `Hi, <name>!`), 4 calls in flight, over svc's `net`,
// `zmq` and AMQP transports and their raw baselines (the clients and servers
// of the main table, given the payload). MB/s counts both directions.
import { amqpUrl } from '../lib/amqp.mjs';
import { interleave, rpcContender } from '../lib/measure.mjs';

const sizes = (process.env.BENCH_SCALE_PAYLOAD ?? '100,10000,1000000').split(',').map(Number);
const inflight = 4;

/** The contender of the main table, its client given `payload` bytes. */
function sized(contender, payload) {
  return {
    name: contender.name,
    once: (n) => contender.once(n, { payload }),
  };
}

const pairs = {
  net: [
    [
      'svc net',
      { server: () => ['svc/rpc-server.mjs', ['net']], client: 'svc/rpc-client.mjs', url: 'net' },
    ],
    [
      'raw net+msgpack',
      {
        server: () => ['baselines/raw-net-server.mjs', []],
        client: 'baselines/raw-net-client.mjs',
      },
    ],
  ],
  zmq: [
    [
      'svc zmq',
      { server: () => ['svc/rpc-server.mjs', ['zmq']], client: 'svc/rpc-client.mjs', url: 'zmq' },
    ],
    [
      'raw zeromq',
      {
        server: () => ['baselines/raw-zmq-server.mjs', []],
        client: 'baselines/raw-zmq-client.mjs',
      },
    ],
  ],
  amqp: [
    [
      'svc amqp',
      {
        server: () => ['svc/rpc-server.mjs', [amqpUrl]],
        client: 'svc/rpc-client.mjs',
        url: amqpUrl,
      },
    ],
    [
      'raw amqplib RPC',
      {
        server: () => ['baselines/raw-amqp-rpc-server.mjs', []],
        client: 'baselines/raw-amqp-rpc-client.mjs',
      },
    ],
  ],
};

export default Object.entries(pairs).map(([transport, [svcDef, rawDef]]) => ({
  name: `payload ${transport}`,
  async run() {
    const rows = [];
    for (const size of sizes) {
      const [svc, raw] = await interleave(
        [sized(rpcContender(...svcDef), size), sized(rpcContender(...rawDef), size)],
        inflight,
      );
      const mb = (r) => (r.rate * 2 * size) / 1e6;
      rows.push({
        size,
        svcMBs: mb(svc),
        rawMBs: mb(raw),
        ratio: mb(svc) / mb(raw),
        svcCpu: svc.cpuUs,
        rawCpu: raw.cpuUs,
      });
    }
    return [
      {
        title: `Payload size, ${transport}: bytes each way, ${inflight} calls in flight (svc against ${rawDef[0]})`,
        size: 'bytes',
        chart: ['svcCpu', 'rawCpu'],
        metrics: [
          { key: 'svcMBs', label: 'svc MB/s' },
          { key: 'rawMBs', label: 'raw MB/s' },
          { key: 'ratio', label: 'svc ÷ raw' },
          { key: 'svcCpu', label: 'svc CPU µs/call' },
          { key: 'rawCpu', label: 'raw CPU µs/call' },
        ],
        rows,
      },
    ];
  },
}));
