// HTTP → RPC under autocannon at fixed concurrency: svc's HTTP entrypoint
// (an Instance serving Web) calling Greeter in another Instance, against a
// plain node:http server calling raw-net-server through the raw net client.
import { cpuTimeUs, runClient, start } from '../lib/proc.mjs';
import { interleave, settings, withServerCpu } from '../lib/measure.mjs';

const connections = 50;

/** A contender: start the RPC server, then the HTTP server pointed at it, then load. */
function httpContender(name, rpcServer, httpServer) {
  return {
    name,
    async once() {
      const rpc = await start(...rpcServer);
      try {
        const http = await start(...httpServer(rpc.value.address));
        try {
          const cpu = () => cpuTimeUs(rpc.pid) + cpuTimeUs(http.pid);
          const cpu0 = cpu();
          const result = await runClient('lib/autocannon-client.mjs', {
            address: http.value.address,
            inflight: connections,
            warmupMs: settings.warmupMs,
            windowMs: settings.windowMs,
            windows: settings.windows,
          });
          return withServerCpu(result, cpu() - cpu0);
        } finally {
          await http.stop();
        }
      } finally {
        await rpc.stop();
      }
    },
  };
}

const rawHttp = httpContender(
  'node:http + raw net',
  ['baselines/raw-net-server.mjs', []],
  (port) => ['baselines/raw-http-server.mjs', [String(port)]],
);
const svcHttp = httpContender('svc', ['svc/runtime-server.mjs', ['Greeter']], (rpc) => [
  'svc/runtime-server.mjs',
  ['Web', JSON.stringify([{ service: 'Greeter', endpoints: { rpc } }])],
]);

export default [
  {
    name: `HTTP→RPC, ${connections} connections`,
    async run() {
      const [svc, raw] = await interleave([svcHttp, rawHttp]);
      return {
        rows: [
          {
            scenario: `HTTP→RPC, ${connections} connections`,
            unit: 'req/s',
            svc,
            baseline: { name: rawHttp.name, ...raw },
          },
        ],
      };
    },
  },
];
