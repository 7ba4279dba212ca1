import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RecordLogger } from '../log/index.js';
import { ClusterAuth } from './auth.js';
import { defaultSecretFile, loadSecret } from './secret.js';

const base = mkdtempSync(join(tmpdir(), 'svc-secret-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const env = { SVC_LOCAL_REGISTRY_DIR: base };

describe('the cluster secret', () => {
  it('is created once per user and cluster, mode 0600, beside the local registry', () => {
    const first = loadSecret({ cluster: 'alpha' }, env);
    const file = defaultSecretFile('alpha', env);
    expect(file.startsWith(base)).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8').trim()).toMatch(/^[0-9a-f]{64}$/);
    expect(loadSecret({ cluster: 'alpha' }, env).equals(first)).toBe(true);
    expect(loadSecret({ cluster: 'beta' }, env).equals(first)).toBe(false);
  });

  it('refuses a secret file that other users can read', () => {
    loadSecret({ cluster: 'gamma' }, env);
    const file = defaultSecretFile('gamma', env);
    chmodSync(file, 0o644);
    expect(() => loadSecret({ cluster: 'gamma' }, env)).toThrow(/can be read by other users/);
    chmodSync(file, 0o600);
  });

  it('comes from config or the environment across hosts, before any file', () => {
    const literal = 'x'.repeat(40);
    expect(loadSecret({ cluster: 'c', secret: literal }, env).toString()).toBe(literal);
    expect(loadSecret({ cluster: 'c' }, { ...env, SVC_SECRET: literal }).toString()).toBe(literal);
    const file = join(base, 'shared.secret');
    writeFileSync(file, `${'y'.repeat(40)}\n`, { mode: 0o600 });
    expect(loadSecret({ cluster: 'c', secretFile: file }, env).toString()).toBe('y'.repeat(40));
    expect(loadSecret({ cluster: 'c' }, { ...env, SVC_SECRET_FILE: file }).toString()).toBe(
      'y'.repeat(40),
    );
    expect(() => loadSecret({ cluster: 'c', secret: 'short' }, env)).toThrow(/too short/);
  });
});

describe('a cluster auth', () => {
  it('reads its secret where the environment said when it was made, though it reads it later', () => {
    const made = { SVC_LOCAL_REGISTRY_DIR: join(base, 'made') };
    const later = { SVC_LOCAL_REGISTRY_DIR: join(base, 'later') };
    const live: NodeJS.ProcessEnv = { ...made };
    const auth = new ClusterAuth({ cluster: 'delta' }, { env: live, log: new RecordLogger([]) });
    // The bench's clients were made while SVC_LOCAL_REGISTRY_DIR named a fresh cluster directory,
    // which was put back before their first call: they made a secret of their own elsewhere.
    live['SVC_LOCAL_REGISTRY_DIR'] = later.SVC_LOCAL_REGISTRY_DIR;
    expect(auth.secret().equals(loadSecret({ cluster: 'delta' }, made))).toBe(true);
    expect(existsSync(defaultSecretFile('delta', later))).toBe(false);
  });
});
