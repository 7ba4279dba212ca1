// Closed-loop load: `inflight` workers each await one call, then start the
// next. After a warm-up, completions are counted in consecutive windows;
// each window gives a rate and latency percentiles.
import { performance } from 'node:perf_hooks';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Calls completed by this process since it started, warm-up included: the
// runner divides a server's CPU time over the whole run by it.
let completed = 0;

/** Counts calls made outside closedLoop (autocannon runs). */
export function addCalls(n) {
  completed += n;
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/**
 * @param {() => Promise<unknown>} call one request
 * @param {{ inflight: number, warmupMs: number, windowMs: number, windows: number }} opts
 * @param {(result: unknown) => void} [check] throws on a wrong answer (ends the run)
 * @returns {Promise<{ rate: number, p50: number, p99: number }[]>}
 */
export async function closedLoop(call, { inflight, warmupMs, windowMs, windows }, check) {
  let stop = false;
  let latencies = [];
  let failure;
  const worker = async () => {
    while (!stop) {
      const t0 = performance.now();
      try {
        const result = await call();
        if (check) check(result);
      } catch (err) {
        failure ??= err;
        stop = true;
        return;
      }
      latencies.push(performance.now() - t0);
      completed++;
    }
  };
  const workers = Array.from({ length: inflight }, worker);
  await sleep(warmupMs);
  const out = [];
  for (let w = 0; w < windows && !stop; w++) {
    latencies = [];
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    await sleep(windowMs);
    const elapsed = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const done = latencies;
    latencies = [];
    done.sort((a, b) => a - b);
    out.push({
      rate: (done.length * 1000) / elapsed,
      p50: percentile(done, 50),
      p99: percentile(done, 99),
      // this process's CPU time per call: comparable even when the machine is busy
      cpuUs: (cpu.user + cpu.system) / done.length,
    });
  }
  stop = true;
  await Promise.all(workers);
  if (failure) throw failure;
  return out;
}

/** Reads the client config the runner passes as one JSON argument. */
export function clientConfig() {
  const raw = process.argv[2];
  if (!raw)
    throw new Error(
      'expected one JSON argument: { address, inflight, warmupMs, windowMs, windows }',
    );
  return JSON.parse(raw);
}

/** Prints the result line the runner reads, then exits. */
export function report(result) {
  process.stdout.write(`${JSON.stringify({ ...result, calls: completed })}\n`);
  process.exit(0);
}
