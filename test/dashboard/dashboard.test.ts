// `svc dashboard` on the lymph tour under `svc node`, driven through a real Chromium.
// With SVC_UPDATE_SCREENSHOTS=1 the screenshots it takes replace docs/images/dashboard-*.png.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INSTALL_TIMEOUT_MS, requireDebianPackage } from '../support/system.js';
import { freePort } from '../node/helpers.js';
import { REPO, TOUR, TestEnv, requireBuild, type Proc } from '../support/svc.js';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** The machine is shared and Chromium is slow under load: every wait is generous. */
const WAIT = 30_000;

const env = new TestEnv();
const update = process.env['SVC_UPDATE_SCREENSHOTS'] === '1';
const shots = update
  ? join(REPO, 'docs/images')
  : mkdtempSync(join(tmpdir(), 'svc-dashboard-shots-'));
const profile = mkdtempSync(join(tmpdir(), 'svc-dashboard-chromium-'));
let webPort: number;
let node: Proc;
let dashboard: Proc;
let url: string;
let port: number;
let token: string;
let browser: BrowserContext;
let page: Page;
/** a few requests a second from the explorer test to the metrics test, so the charts have lines */
let load: NodeJS.Timeout | undefined;

async function shot(name: string, fullPage = false): Promise<void> {
  // Let the next reading arrive so the figures are filled in.
  await page.waitForTimeout(1200);
  await page.screenshot({ path: join(shots, `dashboard-${name}.png`), fullPage });
}

async function go(hash: string): Promise<void> {
  // A change of fragment only: the page stays, with its token and its live feed.
  await page.goto(`http://127.0.0.1:${port}/${hash}`);
}

/** An attribute of every element a selector finds, in document order. */
async function attributes(selector: string, name: string): Promise<Array<string | null>> {
  const found = page.locator(selector);
  const out: Array<string | null> = [];
  for (let i = 0; i < (await found.count()); i++) out.push(await found.nth(i).getAttribute(name));
  return out;
}

// Installed when missing (Debian's package), before the page's own set-up and its timeout.
beforeAll(() => requireDebianPackage('chromium', CHROMIUM), INSTALL_TIMEOUT_MS);

beforeAll(async () => {
  requireBuild();
  if (!existsSync(join(REPO, 'packages/dashboard/dist/web/app.js')))
    throw new Error('the dashboard is not built: run `npx pnpm build` (npm test does it) first');
  mkdirSync(shots, { recursive: true });
  webPort = await freePort();
  const config = join(env.registryDir, 'svc.yml');
  // Beside the tour, one instance whose config has a misspelt key: it exits 2 at once and the
  // node holds it (the node view's held-process test), costing the others no wait.
  writeFileSync(join(env.registryDir, 'broken.yml'), 'registry: local\nintrfaces: {}\n');
  writeFileSync(
    config,
    `instances:
  Web: { command: svc instance --config=conf/web.yml, numprocesses: 2, cwd: ${TOUR} }
  Greeting: { command: svc instance --config=conf/greeting.yml, numprocesses: 3, cwd: ${TOUR} }
  Listen: { command: svc instance --config=conf/listen.yml, numprocesses: 4, cwd: ${TOUR} }
  Broken: { command: svc instance --config=broken.yml, cwd: ${env.registryDir} }
sockets:
  Web: { port: ${webPort} }
`,
  );
  node = env.spawn(['node', '--config', config]);
  dashboard = env.spawn(['dashboard', '--port', '0', '--node', config]);
  await dashboard.waitFor(
    (p) => /http:\/\/127\.0\.0\.1:\d+\/#token=\S+/.test(p.stdout),
    'the URL',
    WAIT,
  );
  url = /http:\/\/127\.0\.0\.1:\d+\/#token=\S+/.exec(dashboard.stdout)![0];
  port = Number(/:(\d+)\//.exec(url)![1]);
  token = url.split('#token=')[1]!;
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: { width: 1280, height: 800 },
  });
  page = browser.pages()[0] ?? (await browser.newPage());
  page.setDefaultTimeout(WAIT);
}, 90_000);

afterAll(async () => {
  clearInterval(load);
  await browser?.close();
  await env.stop();
  rmSync(profile, { recursive: true, force: true });
  if (!update) rmSync(shots, { recursive: true, force: true });
}, 30_000);

/** A request straight to the dashboard with the headers given (Host included), as curl sends them. */
function raw(
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('svc dashboard on the tour', () => {
  it('lists the three services with their instance counts, live', async () => {
    await page.goto(url);
    for (const [name, count] of [
      ['Greeting', 3],
      ['Listen', 4],
      ['Web', 2],
    ] as const)
      await page.waitForSelector(`[data-service="${name}"][data-count="${count}"]`, {
        timeout: 60_000,
      });
    // The token leaves the address bar once the page has it.
    expect(page.url()).not.toContain(token);
    await page.waitForSelector('[data-service="Listen"] tbody tr:nth-child(4) td.num');
    await shot('services');
  }, 90_000);

  it("shows a service's interface: methods with their docs", async () => {
    await page.click('[data-service="Greeting"] h2 a');
    await page.waitForSelector('[data-method="greet"]');
    expect(await page.textContent('[data-method="greet"]')).toContain(
      'Returns a greeting for a provided name',
    );
    await shot('service');
  });

  it("shows the command of a shell inside an instance; opening its inspector says the tour's config leaves it off", async () => {
    const into = page.locator('[data-into]').first();
    const id = (await into.getAttribute('data-into'))!;
    await into.click();
    expect(await page.textContent(`[data-debug="${id}"] [data-shell-command]`)).toBe(
      `svc shell --instance ${id}`,
    );
    await page.click(`[data-debug="${id}"] [data-open-inspector]`);
    await page.waitForSelector(`[data-debug="${id}"] [data-debug-error]`);
    expect(await page.textContent(`[data-debug="${id}"] [data-debug-error]`)).toContain(
      `svc.debug is off in instance ${id} (Greeting): set "debug: { inspector: true }"`,
    );
  });

  it('calls Greeting.greet from the explorer and shows the answer with its trace id', async () => {
    load = setInterval(() => {
      fetch(`http://127.0.0.1:${webPort}/greet?name=Load`).then(
        (r) => r.text(),
        () => undefined,
      );
    }, 300);
    await page.click('[data-method="greet"] a.button');
    await page.fill('[data-form="call"] input[name="name"]', 'Flynne');
    await page.click('[data-form="call"] button[type="submit"]');
    const outcome = page.locator('[data-outcome="ok"] .result');
    await outcome.waitFor();
    expect(await outcome.textContent()).toBe('"Hi, Flynne!"');
    expect(await page.getAttribute('[data-outcome="ok"] a[data-trace]', 'data-trace')).toMatch(
      /^[0-9a-f]{32}$/,
    );
    await shot('explorer');
  });

  let traceId: string;

  it('shows the trace of a request to /greet as a waterfall of Web, Greeting and Listen', async () => {
    const res = await fetch(`http://127.0.0.1:${webPort}/greet?name=Sam`);
    expect(await res.text()).toBe('Hi, Sam!');
    traceId = res.headers.get('x-trace-id')!;
    await go('#/traces');
    await page.waitForSelector(`tr[data-trace="${traceId}"]`);
    await shot('traces');
    await page.click(`tr[data-trace="${traceId}"] a`);
    // Listen handles the event after Web has answered: the view looks again as its records arrive.
    await page.waitForSelector('.span-row[data-service="Listen"]');
    const services = await attributes('.span-row', 'data-service');
    const kinds = await attributes('.span-row', 'data-kind');
    expect(services.map((s, i) => `${s} ${kinds[i]}`)).toEqual([
      'Web http',
      'Web http',
      'Greeting rpc',
      'Listen event',
    ]);
    const text = await page.textContent('.waterfall');
    expect(text).toContain('Greeting.greet');
    expect(text).toContain('Listen.onGreeted');
    expect(text).toContain('Saying hi to Sam');
    await shot('trace');
  });

  it('shows a log line of that trace in the logs view', async () => {
    await go(`#/logs?trace=${traceId}`);
    const line = page.locator('.log-box .log', { hasText: 'Somebody greeted Sam' });
    await line.waitFor();
    expect(await line.getAttribute('data-trace')).toBe(traceId);
    await page.locator('.log-box .log', { hasText: 'About to greet Sam' }).waitFor();
    await shot('logs');
  });

  it('charts calls per entrypoint and CPU and memory per instance', async () => {
    await go('#/metrics');
    // A line with points, in the page, not "visible": a flat series is a polyline of no
    // height, which Playwright counts as hidden.
    await page.waitForSelector('figure[data-chart="calls/s"] polyline[points*=","]', {
      state: 'attached',
    });
    await page.waitForSelector('tr[data-entrypoint="Greeting.greet"]');
    expect(await page.textContent('figure[data-chart="RSS"] .legend')).toMatch(/MiB/);
    await shot('metrics', true);
    clearInterval(load);
  });

  it("lists the tour's nine processes running and restarts Web's one at a time", async () => {
    await go('#/node');
    await page.waitForSelector('[data-node-instance="Listen"] tbody tr:nth-child(4)');
    expect(await page.locator('[data-node-instance] tbody tr[data-state="running"]').count()).toBe(
      9,
    );
    await shot('node', true);
    const webPids = await attributes('[data-node-instance="Web"] tbody tr', 'data-pid');
    await page.click('[data-node-instance="Web"] button');
    await page.locator('.notice', { hasText: 'restarted Web' }).waitFor({ timeout: 60_000 });
    // Both Web processes replaced, each counted once.
    await page
      .locator('[data-node-instance="Web"] tbody tr[data-state="running"] [data-restarts="1"]')
      .nth(1)
      .waitFor({ timeout: 60_000 });
    const after = await attributes(
      '[data-node-instance="Web"] tbody tr[data-state="running"]',
      'data-pid',
    );
    expect(after).toHaveLength(2);
    expect(after.filter((pid) => webPids.includes(pid))).toEqual([]);
    expect(node.child.exitCode).toBeNull();
  }, 90_000);

  it('shows why a process is held: its config error, and the command to run once it is fixed', async () => {
    await go('#/node');
    await page.waitForSelector('[data-node-instance="Broken"] tbody tr[data-state="held"]');
    const reason = page.locator('[data-node-instance="Broken"] [data-held-reason]');
    expect(await reason.textContent()).toMatch(
      /^held: exited with code 2 before it was ready \(a config or usage error\); it said: svc: \S+\/broken\.yml: intrfaces: unknown key \(expected one of: [a-z_, ]+\); fix the config, then run `svc node restart Broken`$/,
    );
    // One long line (a path, then every key the config takes): it wraps within its cell. (The
    // tests build without the DOM's types: the cell is typed by what is asked of it.)
    const fits = (td: { scrollWidth: number; clientWidth: number }) =>
      td.scrollWidth <= td.clientWidth;
    expect(await reason.evaluate(fits)).toBe(true);
  });

  it('refuses the API without the token, under another host name or from another site', async () => {
    // A new tab holds no token: the page says what to open instead.
    const bare = await browser.newPage();
    try {
      await bare.goto(`http://127.0.0.1:${port}/`);
      await bare.waitForSelector('[data-state="unauthorized"]', { timeout: WAIT });
      expect(await bare.textContent('main')).toContain('needs the token');
    } finally {
      await bare.close();
    }
    const host = `127.0.0.1:${port}`;
    const auth = `Bearer ${token}`;
    const call = JSON.stringify({ service: 'Greeting', method: 'greet', params: { name: 'X' } });
    const json = { 'content-type': 'application/json' };
    expect(await raw('GET', '/api/stream', { host })).toBe(401);
    expect(await raw('POST', '/api/call', { host, ...json }, call)).toBe(401);
    expect(
      await raw('POST', '/api/call', { host, authorization: 'Bearer wrong', ...json }, call),
    ).toBe(401);
    expect(await raw('GET', '/', { host: `rebound.example:${port}` })).toBe(403);
    expect(
      await raw(
        'POST',
        '/api/call',
        { host: 'rebound.example', authorization: auth, ...json },
        call,
      ),
    ).toBe(403);
    expect(
      await raw(
        'POST',
        '/api/call',
        { host, authorization: auth, origin: 'http://evil.example', ...json },
        call,
      ),
    ).toBe(403);
    // The same request with our own Host and the token is served.
    expect(await raw('POST', '/api/call', { host, authorization: auth, ...json }, call)).toBe(200);
  });
});
