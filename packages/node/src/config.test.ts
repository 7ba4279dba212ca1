import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '@svc/core';
import { loadConfig, parseConfig } from './config.js';

const dir = mkdtempSync(join(tmpdir(), 'svc-config-'));
mkdirSync(join(dir, 'web'));
const file = join(dir, '.svc.yml');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function error(text: string, env: NodeJS.ProcessEnv = {}): string {
  try {
    parseConfig(text, file, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as ConfigError).message;
    expect(message.startsWith(`${file}: `)).toBe(true);
    expect(message).not.toContain('\n');
    return message.slice(file.length + 2);
  }
  throw new Error('expected a ConfigError');
}

describe('parseConfig', () => {
  it('reads instances with defaults and sockets keyed by instance name', () => {
    const config = parseConfig(
      `instances:
  Web: { command: svc instance --config=conf/web.yml, numprocesses: 2, cwd: web }
  Greeting:
    command: node greet.js
    env: { GREETING: hi, COUNT: 3 }
sockets:
  Web: { port: 4080 }
`,
      file,
      {},
    );
    expect(config.instances).toEqual([
      {
        name: 'Web',
        command: 'svc instance --config=conf/web.yml',
        parsed: { kind: 'argv', file: 'svc', args: ['instance', '--config=conf/web.yml'] },
        numprocesses: 2,
        env: {},
        cwd: join(dir, 'web'),
      },
      {
        name: 'Greeting',
        command: 'node greet.js',
        parsed: { kind: 'argv', file: 'node', args: ['greet.js'] },
        numprocesses: 1,
        env: { GREETING: 'hi', COUNT: '3' },
        cwd: dir,
      },
    ]);
    expect(config.sockets).toEqual([{ name: 'Web', port: 4080, host: '127.0.0.1' }]);
  });

  it('substitutes ${VAR} and ${VAR:-default} in string values', () => {
    const config = parseConfig(
      `instances:
  A: { command: "node \${SCRIPT}", numprocesses: "\${PROCS:-3}", env: { X: "\${MISSING:-fallback}", Y: "$\${KEEP}" } }
`,
      file,
      { SCRIPT: 'a.js' },
    );
    const a = config.instances[0];
    expect(a?.command).toBe('node a.js');
    expect(a?.numprocesses).toBe(3);
    expect(a?.env).toEqual({ X: 'fallback', Y: '${KEEP}' });
  });

  it('names the file, the key path and what was expected', () => {
    expect(error('instances:\n  A: { command: x, numprocesses: 0 }\n')).toBe(
      'instances.A.numprocesses: expected an integer from 1 to 1024, got 0',
    );
    expect(error('instances:\n  A: { command: x, replicas: 2 }\n')).toBe(
      'instances.A.replicas: unknown key (expected one of: command, numprocesses, env, cwd)',
    );
    expect(error('instances:\n  A: { numprocesses: 2 }\n')).toBe(
      'instances.A.command: missing: expected the command line to run',
    );
    expect(error('instances:\n  A: { command: [x] }\n')).toBe(
      'instances.A.command: expected a string, got a list',
    );
    expect(error('instances:\n  A: { command: "x \'y" }\n')).toBe(
      'instances.A.command: expected a command line (unterminated single quote)',
    );
    expect(error('instances:\n  A: { command: x, env: { K: [1] } }\n')).toBe(
      'instances.A.env.K: expected a string, got a list',
    );
    expect(error('instances:\n  A: { command: x, cwd: nowhere }\n')).toBe(
      `instances.A.cwd: expected an existing folder (relative to ${dir}), got "nowhere"`,
    );
    expect(error('instances:\n  A: { command: x }\nsockets:\n  B: { port: 1 }\n')).toBe(
      'sockets.B: expected the name of an instance (A)',
    );
    expect(error('instances:\n  A: { command: x }\nsockets:\n  A: { port: 70000 }\n')).toBe(
      'sockets.A.port: expected an integer from 0 to 65535, got 70000',
    );
    expect(
      error('instances:\n  A: { command: x }\nsockets:\n  A: { port: 1, host: localhost }\n'),
    ).toBe('sockets.A.host: expected an IP address (127.0.0.1, 0.0.0.0, ::1), got "localhost"');
    expect(error('instance:\n  A: { command: x }\n')).toBe(
      'instance: unknown key (expected one of: instances, sockets, metrics)',
    );
    expect(error('instances:\n  A: { command: x }\nmetrics: { host: 0.0.0.0 }\n')).toBe(
      'metrics.port: missing: expected a TCP port',
    );
    expect(error('instances:\n  A: { command: x }\nmetrics: { port: 1, path: /m }\n')).toBe(
      'metrics.path: unknown key (expected one of: port, host)',
    );
    expect(error('instances: {}\n')).toBe('instances: expected at least one instance');
    expect(error('- a\n- b\n')).toBe('(top level): expected a mapping with "instances:"');
    expect(error('instances:\n  A: { command: "node ${NOPE}" }\n')).toBe(
      'instances.A.command: environment variable NOPE is not set (write ${NOPE:-default})',
    );
  });

  it('reads the metrics port of the cluster, on 127.0.0.1 unless told otherwise', () => {
    const text = 'instances:\n  A: { command: x }\nmetrics:\n  port: ${PORT:-9464}\n';
    expect(parseConfig(text, file, {}).metrics).toEqual({ port: 9464, host: '127.0.0.1' });
    expect(parseConfig(text, file, { PORT: '9500' }).metrics?.port).toBe(9500);
    expect(parseConfig('instances:\n  A: { command: x }\n', file, {}).metrics).toBeUndefined();
  });

  it('reports YAML syntax errors with their line', () => {
    expect(error('instances:\n  A: { command: x\n')).toMatch(
      /^invalid YAML: .* at line \d+, column \d+$/,
    );
  });

  it('reports a missing file as a ConfigError naming it', () => {
    const missing = join(dir, 'missing.yml');
    expect(() => loadConfig(missing)).toThrow(`${missing}: cannot read the file (ENOENT)`);
  });

  it('loads a file from disk', () => {
    writeFileSync(file, 'instances:\n  A: { command: node a.js }\n');
    expect(loadConfig(file, {}).instances[0]?.cwd).toBe(dir);
  });
});
