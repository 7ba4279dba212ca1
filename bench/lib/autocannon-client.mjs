// Load from autocannon at a fixed number of connections against config.address:
// one warm-up run, then one run per window.
import autocannon from 'autocannon';
import { addCalls, clientConfig, report } from './loop.mjs';

const config = clientConfig();
const run = async (ms) => {
  const r = await autocannon({
    url: config.address,
    connections: config.inflight,
    duration: ms / 1000,
  });
  addCalls(r.requests.total);
  return r;
};
await run(config.warmupMs);
const windows = [];
for (let i = 0; i < config.windows; i++) {
  const r = await run(config.windowMs);
  if (r.non2xx > 0 || r.errors > 0) {
    throw new Error(`${r.non2xx} non-2xx answers and ${r.errors} errors from ${config.address}`);
  }
  // The load generator's own CPU is not svc's cost: only the servers' counts (added by the runner).
  windows.push({ rate: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, cpuUs: 0 });
}
report({ windows });
