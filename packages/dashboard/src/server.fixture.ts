// What the dashboard server's tests share: a service, the cluster's secret,
// a folder of stand-in web files, and a wait.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClusterAuth, RecordLogger, RPC, Service, rpc } from '@svc/core';

export class Greeting extends Service {
  static override readonly serviceName = 'Greeting';
  declare [RPC]: 'greet';

  /** Returns a greeting for a provided name */
  @rpc() greet({ name }: { name: string }) {
    this.log.info(`Saying hi to ${name}`);
    void this.emit('greeted', { name });
    return `Hi, ${name}!`;
  }
}

/** the secret of the instances' cluster (`test`, as `testConfig` names it) */
export const testAuth = new ClusterAuth({ cluster: 'test' }, { log: new RecordLogger([], {}) });

/** A temporary folder with the files the dashboard serves, each a stand-in. */
export function webFiles(): string {
  const dir = mkdtempSync(join(tmpdir(), 'svc-dashboard-web-'));
  for (const [file, text] of [
    ['index.html', '<!doctype html><title>svc dashboard</title>'],
    ['app.js', 'export {};'],
    ['app.css', 'body{}'],
    ['favicon.svg', '<svg xmlns="http://www.w3.org/2000/svg"/>'],
  ] as const)
    writeFileSync(join(dir, file), text);
  return dir;
}

/** Polls `fn` every 25 ms until it answers something truthy; fails after `ms`. */
export async function until<T>(
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  ms = 10_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
