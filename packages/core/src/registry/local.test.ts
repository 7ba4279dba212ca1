import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { BackendContext } from '../backends.js';
import { ConfigError } from '../errors.js';
import { CaptureLogger } from '../testing/capture-log.js';
import { describeRegistry, makeRecord, uniqueName } from '../testing/conformance/index.js';
import { createRegistry } from '../backends.js';
import { localRegistryDir } from './local-files.js';
import { LocalRegistry } from './local.js';

const base = mkdtempSync(join(tmpdir(), 'svc-local-registry-test-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

function context(log = new CaptureLogger()): BackendContext {
  return { cluster: 'test', bindHost: '127.0.0.1', log, clientName: 'test' };
}

const clusterDir = join(base, 'conformance');
describeRegistry('local', { create: () => LocalRegistry.open(context(), { dir: clusterDir }) });

describe('LocalRegistry', () => {
  const open: LocalRegistry[] = [];
  afterEach(async () => {
    await Promise.allSettled(open.splice(0).map((r) => r.close()));
  });
  const client = async (dir: string, log?: CaptureLogger) => {
    const r = await LocalRegistry.open(context(log), { dir });
    open.push(r);
    return r;
  };

  it('keeps one directory per user and cluster, whatever the working directory', () => {
    const env = { SVC_LOCAL_REGISTRY_DIR: '/run/x' };
    const dir = localRegistryDir('blue', env);
    expect(dir).toMatch(/^\/run\/x\/svc-[^/]+\/blue$/);
    expect(localRegistryDir('green', env)).not.toBe(dir);
    expect(localRegistryDir('blue', { XDG_RUNTIME_DIR: '/run/user/7' })).toMatch(
      /^\/run\/user\/7\/svc-[^/]+\/blue$/,
    );
  });

  it('refuses a cluster name that would leave its directory', () => {
    expect(() => localRegistryDir('../etc')).toThrow(/invalid cluster name/);
    expect(() => localRegistryDir('..')).toThrow(/invalid cluster name/);
  });

  it('is what createRegistry("local") opens, under SVC_LOCAL_REGISTRY_DIR', async () => {
    const saved = process.env['SVC_LOCAL_REGISTRY_DIR'];
    process.env['SVC_LOCAL_REGISTRY_DIR'] = join(base, 'factory');
    try {
      const r = await createRegistry('local', context());
      open.push(r as LocalRegistry);
      expect(r.kind).toBe('local');
      expect((r as LocalRegistry).dir).toBe(localRegistryDir('test'));
    } finally {
      if (saved === undefined) delete process.env['SVC_LOCAL_REGISTRY_DIR'];
      else process.env['SVC_LOCAL_REGISTRY_DIR'] = saved;
    }
  });

  it('ignores corrupt files, warning once, and still lists the good entries', async () => {
    const dir = join(base, uniqueName('corrupt'));
    const log = new CaptureLogger();
    const r = await client(dir, log);
    const service = uniqueName('Svc');
    const record = makeRecord(service);
    await r.register(record);
    await writeFile(join(dir, `${service}+garbage.json`), '{"svcLocalRegistry": 1, "rec');
    await writeFile(join(dir, `${service}+wrong.json`), JSON.stringify({ record: { id: 3 } }));
    await writeFile(join(dir, `${service}+proto.json`), '{"__proto__": {"polluted": true}}');
    expect(await r.lookup(service)).toEqual([record]);
    expect((await r.list()).map((x) => x.id)).toEqual([record.id]);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(log.find('warn', 'corrupt')).toHaveLength(3);
  });

  it("tells a watcher of a record another client replaced, and of one whose process died, after the first scan's reads are cached", async () => {
    const dir = join(base, uniqueName('cached'));
    const watcher = await client(dir);
    const other = await client(dir);
    const service = uniqueName('Svc');
    const record = makeRecord(service);
    await other.register(record);
    let seen: Array<{ id: string; endpoints: Record<string, string> }> = [];
    watcher.watch(service, (instances) => (seen = instances));
    await expect.poll(() => seen.map((r) => r.id)).toEqual([record.id]);
    // Same file name, new content: only a notification says it must be read again.
    await other.register({ ...record, endpoints: { rpc: 'tcp://127.0.0.1:2' } });
    await expect.poll(() => seen[0]?.endpoints['rpc']).toBe('tcp://127.0.0.1:2');
    // A record of a dead process, written by hand: the file appears, its pid is gone.
    const dead = makeRecord(service, { pid: 4_194_305 });
    await other.register(dead);
    await expect.poll(() => seen.map((r) => r.id)).toEqual([record.id]);
  });

  it('ignores and deletes the entry of a dead process', async () => {
    const dir = join(base, uniqueName('dead'));
    const r = await client(dir);
    const service = uniqueName('Svc');
    // Pid 2^22 + 1 is above Linux's maximum pid, so no process has it.
    await r.register(makeRecord(service, { pid: 4_194_305 }));
    const live = makeRecord(service);
    await r.register(live);
    expect(await r.lookup(service)).toEqual([live]);
    expect((await readdir(dir)).filter((n) => n.endsWith('.json'))).toHaveLength(1);
  });

  it('treats a live pid with another start time as a reused pid, hence dead', async () => {
    const dir = join(base, uniqueName('reuse'));
    const r = await client(dir);
    const service = uniqueName('Svc');
    const record = makeRecord(service);
    await writeFile(
      join(dir, `${service}+${record.id}.json`),
      JSON.stringify({ svcLocalRegistry: 1, host: record.host, pidStart: '1', record }),
    );
    expect(await r.lookup(service)).toEqual([]);
  });

  it('refuses a registry path that is a symlink or a file, with a clear error', async () => {
    const target = join(base, uniqueName('target'));
    await mkdir(target);
    const link = join(base, uniqueName('link'));
    await symlink(target, link);
    await expect(LocalRegistry.open(context(), { dir: link })).rejects.toBeInstanceOf(ConfigError);
    const file = join(base, uniqueName('file'));
    await writeFile(file, 'x');
    await expect(LocalRegistry.open(context(), { dir: file })).rejects.toBeInstanceOf(ConfigError);
  });

  it('registers again after its directory was removed under it', async () => {
    const dir = join(base, uniqueName('removed'));
    const r = await client(dir);
    await rm(dir, { recursive: true });
    const record = makeRecord(uniqueName('Svc'));
    await r.register(record);
    expect(await r.lookup(record.service)).toEqual([record]);
  });
});
