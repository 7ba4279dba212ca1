// A real Prometheus server (Debian's package, installed by
// scripts/prometheus.sh when missing) scrapes the lymph tour every second:
// the whole cluster on `svc node`'s metrics port, one more Greeting
// instance on its own, and a Shop instance with metrics of its own. The
// rates come back through Prometheus' HTTP query API, and `promtool check
// metrics` accepts every page.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, until } from '../node/helpers.js';
import { FIXTURES, REPO, TOUR, TestEnv, requireBuild, type Proc } from '../support/svc.js';

const env = new TestEnv();
const dir = mkdtempSync(join(tmpdir(), 'svc-prometheus-'));
let prometheus: ChildProcess | undefined;
let promLog = '';
let promUrl = '';
let nodeMetrics = '';
let instanceMetrics = '';
let shopMetrics = '';
let webUrl = '';
let node: Proc;

function hasPrometheus(): boolean {
  return ['prometheus', 'promtool'].every(
    (bin) => spawnSync(bin, ['--version'], { stdio: 'ignore' }).status === 0,
  );
}

beforeAll(async () => {
  requireBuild();
  if (!hasPrometheus()) {
    const install = spawnSync('bash', [join(REPO, 'scripts/prometheus.sh')], {
      encoding: 'utf8',
      timeout: 280_000,
    });
    if (install.status !== 0 || !hasPrometheus())
      throw new Error(
        `Prometheus is not installed and could not be: ${install.stdout}${install.stderr}`,
      );
  }
  const [webPort, nodePort, instancePort, shopPort, promPort] = await Promise.all(
    [0, 1, 2, 3, 4].map(() => freePort()),
  );
  webUrl = `http://127.0.0.1:${webPort}`;
  nodeMetrics = `http://127.0.0.1:${nodePort}/metrics`;
  instanceMetrics = `http://127.0.0.1:${instancePort}/metrics`;
  shopMetrics = `http://127.0.0.1:${shopPort}/metrics`;
  promUrl = `http://127.0.0.1:${promPort}`;

  writeFileSync(
    join(dir, 'svc.yml'),
    `instances:
  Web: { command: svc instance --config=conf/web.yml, cwd: ${TOUR} }
  Greeting: { command: svc instance --config=conf/greeting.yml, numprocesses: 2, cwd: ${TOUR} }
  Listen: { command: svc instance --config=conf/listen.yml, cwd: ${TOUR} }
sockets:
  Web: { port: ${webPort} }
metrics: { port: ${nodePort} }
`,
  );
  node = env.spawn(['node', '--config', join(dir, 'svc.yml')]);
  // One more Greeting with a metrics port of its own, outside the node.
  await env.instance('conf/greeting.yml', { env: { SVC_METRICS_PORT: String(instancePort) } });
  // A service with a counter, a gauge and a histogram of its own.
  await env.instance('metrics.yml', {
    cwd: join(FIXTURES, 'metrics'),
    env: { SVC_METRICS_PORT: String(shopPort) },
  });

  writeFileSync(
    join(dir, 'prometheus.yml'),
    `global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: svc-node
    static_configs:
      - targets: ['127.0.0.1:${nodePort}']
  - job_name: svc-instance
    static_configs:
      - targets: ['127.0.0.1:${instancePort}']
  - job_name: svc-shop
    static_configs:
      - targets: ['127.0.0.1:${shopPort}']
`,
  );
  prometheus = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  prometheus.stdout!.setEncoding('utf8').on('data', (d: string) => (promLog += d));
  prometheus.stderr!.setEncoding('utf8').on('data', (d: string) => (promLog += d));

  await until(
    'svc node to serve the tour',
    async () => (await fetch(`${webUrl}/greet?name=x`).catch(() => undefined))?.ok,
    30_000,
  );
  await until(
    'Prometheus to be ready',
    async () => {
      if (prometheus!.exitCode !== null) throw new Error(`Prometheus exited:\n${promLog}`);
      return (await fetch(`${promUrl}/-/ready`).catch(() => undefined))?.ok;
    },
    30_000,
  );
}, 300_000);

afterAll(async () => {
  if (prometheus && prometheus.exitCode === null) {
    const exited = new Promise((r) => prometheus!.once('exit', r));
    prometheus.kill('SIGTERM');
    const timer = setTimeout(() => prometheus!.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
  await env.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** One number from Prometheus' query API, or undefined while the result is empty. */
async function query(promql: string): Promise<number | undefined> {
  const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await res.json()) as {
    status: string;
    error?: string;
    data?: { result: Array<{ value: [number, string] }> };
  };
  if (body.status !== 'success') throw new Error(`${promql}: ${body.error}`);
  const first = body.data?.result[0];
  return first ? Number(first.value[1]) : undefined;
}

describe('Prometheus', () => {
  it('scrapes the tour and reads back a call rate of Greeting.greet and a cluster percentile', async () => {
    // Prometheus finds its targets a few seconds after it starts; a rate
    // needs calls between scrapes, so the calls wait for the first ones.
    await until(
      'Prometheus to scrape both targets',
      async () => (await query('sum(up)')) === 3,
      30_000,
    );
    // Calls for a few seconds, so that several scrapes see them grow.
    const until_ = Date.now() + 4000;
    let n = 0;
    while (Date.now() < until_) {
      const res = await fetch(`${webUrl}/greet?name=p${n++}`);
      expect(await res.text()).toBe(`Hi, p${n - 1}!`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const rate = await until('a rate of Greeting.greet calls', async () => {
      const v = await query(
        'sum(rate(svc_calls_total{job="svc-node",entrypoint="Greeting.greet"}[15s]))',
      );
      return v !== undefined && v > 0 ? v : undefined;
    });
    expect(rate).toBeGreaterThan(0);
    // The instance outside the node is scraped too (round-robin gives it calls).
    expect(await query('up{job="svc-instance"}')).toBe(1);
    expect(await query('up{job="svc-node"}')).toBe(1);
    // Two Greeting processes' histograms add up bucket by bucket into one percentile.
    const p50 = await query(
      'histogram_quantile(0.5, sum by (le) (rate(svc_call_duration_seconds_bucket{entrypoint="Greeting.greet"}[15s])))',
    );
    expect(p50).toBeGreaterThan(0);
    expect(p50).toBeLessThan(5);
    expect(await query('sum(svc_node_processes{state="running"})')).toBe(4);
    expect(node.child.exitCode).toBeNull();
  });

  it("labels each process on svc node's page and says the node is ready", async () => {
    const text = await (await fetch(nodeMetrics)).text();
    expect(text).toMatch(
      /^svc_calls_total\{node_instance="Greeting",node_index="[01]",service="Greeting",entrypoint="Greeting.greet",kind="rpc"\} \d+$/m,
    );
    expect(text).toMatch(/^svc_node_processes\{node_instance="Greeting",state="running"\} 2$/m);
    expect(text).toMatch(/^svc_node_instances_read 4$/m);
    const ready = await fetch(nodeMetrics.replace('/metrics', '/readyz'));
    expect([ready.status, await ready.text()]).toEqual([200, 'ready\n']);
    expect((await fetch(nodeMetrics.replace('/metrics', '/healthz'))).status).toBe(200);
  });

  it("reads a service's own counter, gauge and histogram, and its process figures, back", async () => {
    await until('Prometheus to scrape Shop', async () => (await query('up{job="svc-shop"}')) === 1);
    const client = await env.client();
    try {
      const until_ = Date.now() + 4000;
      let n = 0;
      while (Date.now() < until_) {
        const status = n % 4 === 0 ? 'refused' : 'paid';
        expect(await client.call('Shop', 'order', { status, items: 1 + (n++ % 3) })).toBe('taken');
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      await client.close();
    }
    const paid = await until('a rate of paid orders', async () => {
      const v = await query('rate(shop_orders_total{job="svc-shop",status="paid"}[15s])');
      return v !== undefined && v > 0 ? v : undefined;
    });
    const refused = await query('rate(shop_orders_total{job="svc-shop",status="refused"}[15s])');
    // Three paid orders to one refused.
    expect(paid).toBeGreaterThan(refused!);
    expect(refused).toBeGreaterThan(0);
    expect([1, 2, 3]).toContain(await query('shop_waiting{job="svc-shop"}'));
    const items = await query(
      'histogram_quantile(0.5, sum by (le) (rate(shop_order_items_bucket{job="svc-shop"}[15s])))',
    );
    expect(items).toBeGreaterThan(0);
    expect(items).toBeLessThanOrEqual(5);
    expect(await query('process_resident_memory_bytes{job="svc-shop"}')).toBeGreaterThan(1e6);
    expect(await query('process_cpu_seconds_total{job="svc-shop"}')).toBeGreaterThan(0);
    expect(
      await query('svc_calls_total{job="svc-shop",entrypoint="Shop.order",kind="rpc"}'),
    ).toBeGreaterThan(0);
  });

  it('serves pages that promtool check metrics accepts', async () => {
    for (const url of [nodeMetrics, instanceMetrics, shopMetrics]) {
      const res = await fetch(url);
      expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      const text = await res.text();
      expect(text).toContain('# TYPE svc_call_duration_seconds histogram');
      const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
      expect({ url, status: check.status, out: check.stdout + check.stderr }).toEqual({
        url,
        status: 0,
        out: '',
      });
    }
  });
});
