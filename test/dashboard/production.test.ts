// `svc dashboard` on the production backends: the lymph tour under `svc node` with ZooKeeper
// for the registry and RabbitMQ for RPC and events (a virtual host of its own, so no other
// test's instances answer), driven through the same Chromium as on the embedded defaults.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INSTALL_TIMEOUT_MS, requireDebianPackage } from '../support/system.js';
import { freePort } from '../node/helpers.js';
import { REPO, TOUR, TestEnv, requireBuild } from '../support/svc.js';

const CHROMIUM = '/usr/bin/chromium';
const WAIT = 30_000;
const env = new TestEnv();
const vhost = `svc-test-${env.cluster}`;
const AMQP = `amqp://guest:guest@127.0.0.1:5672/${vhost}`;
const backends = {
  SVC_REGISTRY: `zookeeper://127.0.0.1:2181/svc-test-${env.cluster}`,
  SVC_RPC: AMQP,
  SVC_EVENTS: AMQP,
};
const profile = mkdtempSync(join(tmpdir(), 'svc-dashboard-chromium-'));
const rabbitmqctl = (...args: string[]) =>
  execFileSync('rabbitmqctl', ['-q', ...args], { encoding: 'utf8', timeout: 30_000 });
let vhostMade = false;
let webPort: number;
let port: number;
let token: string;
let browser: BrowserContext | undefined;
let page: Page;
/** the trace of the request to /greet */
let greetTrace: string;

/** A request to the dashboard's API with our Host and the token. */
async function api(path: string, body?: unknown): Promise<Response> {
  return fetch(`http://127.0.0.1:${port}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

// Installed when missing (Debian's package), before the page's own set-up and its timeout.
beforeAll(() => requireDebianPackage('chromium', CHROMIUM), INSTALL_TIMEOUT_MS);

beforeAll(async () => {
  requireBuild();
  execFileSync('bash', [`${REPO}/scripts/zookeeper.sh`], { stdio: 'inherit' });
  rabbitmqctl('add_vhost', vhost);
  vhostMade = true;
  rabbitmqctl('set_permissions', '-p', vhost, 'guest', '.*', '.*', '.*');
  webPort = await freePort();
  const config = join(env.registryDir, 'svc.yml');
  writeFileSync(
    config,
    `instances:
  Web: { command: svc instance --config=conf/web.yml, numprocesses: 2, cwd: ${TOUR} }
  Greeting: { command: svc instance --config=conf/greeting.yml, numprocesses: 3, cwd: ${TOUR} }
  Listen: { command: svc instance --config=conf/listen.yml, numprocesses: 4, cwd: ${TOUR} }
sockets:
  Web: { port: ${webPort} }
`,
  );
  env.spawn(['node', '--config', config], { env: backends });
  const dashboard = env.spawn(['dashboard', '--port', '0', '--node', config], { env: backends });
  const address = /http:\/\/127\.0\.0\.1:(\d+)\/#token=(\S+)/;
  await dashboard.waitFor((p) => address.test(p.stdout), 'the URL', WAIT);
  const [url, p, t] = address.exec(dashboard.stdout)!;
  port = Number(p);
  token = t!;
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
    viewport: { width: 1280, height: 800 },
  });
  page = browser.pages()[0] ?? (await browser.newPage());
  page.setDefaultTimeout(WAIT);
  await page.goto(url);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await env.stop();
  rmSync(profile, { recursive: true, force: true });
  if (vhostMade) rabbitmqctl('delete_vhost', vhost);
}, 60_000);

describe('svc dashboard on ZooKeeper and RabbitMQ', () => {
  it('lists the three services from ZooKeeper with their instance counts and figures', async () => {
    for (const [name, count] of [
      ['Greeting', 3],
      ['Listen', 4],
      ['Web', 2],
    ] as const)
      await page.waitForSelector(`[data-service="${name}"][data-count="${count}"]`, {
        timeout: 90_000,
      });
    // Figures from svc.get_metrics, read through RabbitMQ RPC or the log streams.
    await page.waitForSelector('[data-service="Listen"] tbody tr:nth-child(4) td.num');
    expect(await page.textContent('[data-service="Listen"] tbody')).toMatch(/MiB/);
  }, 120_000);

  it("shows Listen's event handler and how it is delivered", async () => {
    await page.click('[data-service="Listen"] h2 a');
    const listen = (await (await api('/api/services/Listen')).json()) as {
      description: { events: Array<{ type: string; mode: string; handler: string }> };
    };
    expect(listen.description.events).toEqual([
      expect.objectContaining({ type: 'greeted', mode: 'pool', handler: 'onGreeted' }),
    ]);
    await page.waitForSelector('text=onGreeted');
  });

  it('calls Greeting.greet over RabbitMQ from the explorer', async () => {
    await page.goto(`http://127.0.0.1:${port}/#/explorer/Greeting/greet`);
    await page.fill('[data-form="call"] input[name="name"]', 'Rabbit');
    await page.click('[data-form="call"] button[type="submit"]');
    const outcome = page.locator('[data-outcome="ok"] .result');
    await outcome.waitFor();
    expect(await outcome.textContent()).toBe('"Hi, Rabbit!"');
    // The error of a bad call comes back with its code and data.
    const bad = (await (
      await api('/api/call', { service: 'Greeting', method: 'greet', params: {} })
    ).json()) as { ok: boolean; error: { code: string; data: unknown } };
    expect(bad).toMatchObject({
      ok: false,
      error: { code: 'SVC_ERR_VALIDATION', data: { problems: ['name is required'] } },
    });
  });

  it('shows the trace of a request to /greet across Web, Greeting and Listen, and its log line', async () => {
    const res = await fetch(`http://127.0.0.1:${webPort}/greet?name=Zoo`);
    expect(await res.text()).toBe('Hi, Zoo!');
    const traceId = res.headers.get('x-trace-id')!;
    greetTrace = traceId;
    await page.goto(`http://127.0.0.1:${port}/#/traces/${traceId}`);
    await page.waitForSelector('.span-row[data-service="Listen"]');
    const rows = page.locator('.span-row');
    const services: Array<string | null> = [];
    for (let i = 0; i < (await rows.count()); i++)
      services.push(await rows.nth(i).getAttribute('data-service'));
    expect(new Set(services)).toEqual(new Set(['Web', 'Greeting', 'Listen']));
    // Each step's log lines, as their records arrive.
    await page.locator('.waterfall', { hasText: 'Saying hi to Zoo' }).waitFor();
    await page.locator('.waterfall', { hasText: 'Somebody greeted Zoo' }).waitFor();
    await page.goto(`http://127.0.0.1:${port}/#/logs?trace=${traceId}`);
    const line = page.locator('.log-box .log', { hasText: 'Saying hi to Zoo' });
    await line.waitFor();
    expect(await line.getAttribute('data-trace')).toBe(traceId);
  });

  it('emits an event from the explorer through RabbitMQ that one Listen handles', async () => {
    await page.goto(`http://127.0.0.1:${port}/#/explorer`);
    const form = page.locator('[data-form="emit"]');
    await form.locator('input[name="type"]').fill('greeted');
    await form.locator('textarea[name="body"]').fill('{"name": "Emitted"}');
    await form.locator('button[type="submit"]').click();
    const trace = form.locator('[data-outcome="ok"] a[data-trace]');
    await trace.waitFor();
    const traceId = (await trace.getAttribute('data-trace'))!;
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    await page.goto(`http://127.0.0.1:${port}/#/logs?trace=${traceId}`);
    await page.locator('.log-box .log', { hasText: 'Somebody greeted Emitted' }).waitFor();
    // Another trace's address while the logs view is open: its lines, not the last trace's.
    await page.goto(`http://127.0.0.1:${port}/#/logs?trace=${greetTrace}`);
    await page.locator('.log-box .log', { hasText: 'Saying hi to Zoo' }).waitFor();
    expect(await page.locator('.log-box .log', { hasText: 'Emitted' }).count()).toBe(0);
  });

  it("lists the node's processes, all running", async () => {
    await page.goto(`http://127.0.0.1:${port}/#/node`);
    await page.waitForSelector('[data-node-instance="Listen"] tbody tr:nth-child(4)');
    await expect
      .poll(() => page.locator('[data-node-instance] tbody tr[data-state="running"]').count())
      .toBe(9);
  });

  it('refuses the API without the token', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/api/call`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ service: 'Greeting', method: 'greet', params: { name: 'X' } }),
    });
    expect(res.status).toBe(401);
  });
});
