// One contender = a server script and a client script. A figure is the
// median over several runs (fresh processes each) of several windows each.
import { cpuTimeUs, freePort, runClient, start } from './proc.mjs';

export const settings = {
  runs: Number(process.env.BENCH_RUNS ?? 3),
  // Two seconds: under load, V8 still compiles svc's hot paths for about the first second
  // (its optimising compiler's passes were among a profile's top functions), which a server
  // that runs for hours pays once; at 500 ms HTTP→RPC swung from 0.4x to 1.0x between runs.
  warmupMs: Number(process.env.BENCH_WARMUP_MS ?? 2000),
  windowMs: Number(process.env.BENCH_WINDOW_MS ?? 1000),
  windows: Number(process.env.BENCH_WINDOWS ?? 2),
};

export function median(values) {
  const s = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Medians of rate and latency percentiles over windows. */
export function summarize(windows) {
  return {
    rate: median(windows.map((w) => w.rate)),
    p50: median(windows.map((w) => w.p50)),
    p99: median(windows.map((w) => w.p99)),
    cpuUs: median(windows.map((w) => w.cpuUs)),
  };
}

/**
 * A contender: an optional server script and a client script. `server(ports)`
 * gives [script, args]; the client gets the server's address, a second free
 * port (for peers that must know each other's ports) and the load settings.
 */
export function rpcContender(name, { server, client, url }) {
  return {
    name,
    async once(inflight, extra = {}) {
      const ports = [await freePort(), await freePort()];
      const srv = server ? await start(...server(ports)) : null;
      try {
        const cpu0 = srv ? cpuTimeUs(srv.pid) : 0;
        const result = await runClient(client, {
          address: srv?.value.address,
          peerPort: ports[1],
          url,
          inflight,
          ...extra,
          warmupMs: settings.warmupMs,
          windowMs: settings.windowMs,
          windows: settings.windows,
        });
        return withServerCpu(result, srv ? cpuTimeUs(srv.pid) - cpu0 : 0);
      } finally {
        await srv?.stop();
      }
    },
  };
}

/**
 * Runs contenders in turn, run after run (A B C, A B C...) so that drift in
 * the machine's load touches each alike; returns each one's summary.
 */
export async function interleave(contenders, arg) {
  const windows = contenders.map(() => []);
  for (let r = 0; r < settings.runs; r++) {
    for (const [i, c] of contenders.entries()) windows[i].push(...(await c.once(arg)));
  }
  return windows.map(summarize);
}

/**
 * Adds the servers' CPU time per call (over the whole run, warm-up
 * included) to each window's client CPU per call: the cost of one call on
 * every process of a side. Unlike a rate it hardly moves when other work
 * shares the machine.
 */
export function withServerCpu(result, serverCpuUs) {
  const perCall = serverCpuUs / result.calls;
  return result.windows.map((w) => ({ ...w, cpuUs: w.cpuUs + perCall }));
}

/**
 * A contender whose server is `svc instance --config <config>` as a user runs
 * it (every default, logging included) and whose client runs in the same
 * fresh cluster (its own registry directory).
 */
export function svcInstanceContender(name, { config, service, client, env = {} }) {
  return {
    name,
    async once(inflight) {
      const { benchCluster, startSvc } = await import('./svc-cli.mjs');
      const cluster = benchCluster(env);
      try {
        const srv = await startSvc(cluster, ['instance', '--config', config], { service });
        try {
          const cpu0 = cpuTimeUs(srv.pid);
          const result = await runClient(
            client,
            {
              inflight,
              warmupMs: settings.warmupMs,
              windowMs: settings.windowMs,
              windows: settings.windows,
            },
            60_000,
            cluster.env,
          );
          return withServerCpu(result, cpuTimeUs(srv.pid) - cpu0);
        } finally {
          await srv.stop();
        }
      } finally {
        cluster.remove();
      }
    },
  };
}
