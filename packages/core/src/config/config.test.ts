import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { loadInstanceConfig, type DebugConfig, type InstanceConfig } from './instance.js';
import { readYaml } from './load.js';
import { ConfigView } from './view.js';

function file(text: string, name = 'conf.yml'): string {
  const dir = mkdtempSync(join(tmpdir(), 'svc-config-'));
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('instance config', () => {
  it('keeps the ways into the process off unless debug: turns them on, from the environment too', () => {
    const off = loadInstanceConfig(file('interfaces:\n  A:\n    class: ./a.ts#A\n'));
    expect(off.debug).toEqual({ shell: false, inspector: false });
    expectTypeOf<InstanceConfig['debug']>().toEqualTypeOf<DebugConfig>();
    expectTypeOf<DebugConfig>().toEqualTypeOf<{ shell: boolean; inspector: boolean }>();
    const on = loadInstanceConfig(
      file(
        'debug:\n  shell: ${SHELL_ON:-false}\n  inspector: true\ninterfaces:\n  A:\n    class: ./a.ts#A\n',
      ),
      { SHELL_ON: 'true' },
    );
    expect(on.debug).toEqual({ shell: true, inspector: true });
    expect(() =>
      loadInstanceConfig(
        file('debug:\n  shell: yes please\ninterfaces:\n  A:\n    class: ./a.ts#A\n'),
      ),
    ).toThrow(/debug\.shell/);
    expect(() =>
      loadInstanceConfig(
        file('debug:\n  backdoor: true\ninterfaces:\n  A:\n    class: ./a.ts#A\n'),
      ),
    ).toThrow(/backdoor/);
  });

  it('substitutes ${VAR} and ${VAR:-default} in values', () => {
    const path = file(
      `registry: \${MY_REGISTRY:-local}\nevents: \${MY_EVENTS}\ninterfaces:\n  Greeting:\n    class: ./g.ts#Greeting\n    greeting: "Hi \${WHO:-there}"\n`,
    );
    const cfg = loadInstanceConfig(path, { MY_EVENTS: 'amqp://guest:guest@127.0.0.1:5672/' });
    expect(cfg.registry).toBe('local');
    expect(cfg.events).toBe('amqp://guest:guest@127.0.0.1:5672/');
    expect(cfg.interfaces[0]!.options['greeting']).toBe('Hi there');
    expect(cfg.rpc).toBe('net');
    expect(cfg.http).toEqual({ host: '127.0.0.1', trustTraceHeader: false });
    expect(cfg.metrics).toEqual({ host: '127.0.0.1' });
  });

  it('reads the metrics port from metrics.port, else from SVC_METRICS_PORT', () => {
    const plain = file('interfaces:\n  A:\n    class: ./a.ts#A\n');
    expect(loadInstanceConfig(plain, { SVC_METRICS_PORT: '9464' }).metrics).toEqual({
      port: 9464,
      host: '127.0.0.1',
    });
    const own = file(
      'metrics: { port: 9100, host: 0.0.0.0 }\ninterfaces:\n  A:\n    class: ./a.ts#A\n',
    );
    expect(loadInstanceConfig(own, { SVC_METRICS_PORT: '9464' }).metrics).toEqual({
      port: 9100,
      host: '0.0.0.0',
    });
    expect(() => loadInstanceConfig(plain, { SVC_METRICS_PORT: 'x' })).toThrow(
      /SVC_METRICS_PORT: expected an integer/,
    );
    const bad = file('metrics: { port: 1, path: /m }\ninterfaces:\n  A:\n    class: ./a.ts#A\n');
    expect(() => loadInstanceConfig(bad, {})).toThrow(/metrics\.path: unknown key/);
  });

  it('reads an unquoted value that is wholly one substitution again as YAML, as Nameko does', () => {
    const path = file(
      [
        'size: ${N:-3}',
        'ratio: ${RATIO:-0.5}',
        'flag: ${FLAG:-true}',
        'off: ${OFF}',
        'nothing: ${NOTHING:-null}',
        'quoted: "${N:-3}"',
        "single: '${FLAG:-true}'",
        'text: ${TEXT:-hello}',
        'mixed: ${N:-3} items',
        'list:',
        '  - ${N:-3}',
        '  - "${N:-3}"',
        // what the environment holds never becomes structure, a comment or an inexact number
        'mapping: ${MAPPING}',
        'sequence: ${SEQUENCE}',
        'comment: ${COMMENT}',
        'prefix: ${PREFIX:-app:counter:}',
        'big: ${BIG}',
        'empty: ${EMPTY:-}',
        '${N}: key',
        '',
      ].join('\n'),
    );
    expect(
      readYaml(path, {
        OFF: 'false',
        MAPPING: '{ a: 1 }',
        SEQUENCE: '[1, 2]',
        COMMENT: '# not a comment',
        BIG: '12345678901234567890',
      }),
    ).toEqual({
      size: 3,
      ratio: 0.5,
      flag: true,
      off: false,
      nothing: null,
      quoted: '3',
      single: 'true',
      text: 'hello',
      mixed: '3 items',
      list: [3, '3'],
      mapping: '{ a: 1 }',
      sequence: '[1, 2]',
      comment: '# not a comment',
      prefix: 'app:counter:',
      big: '12345678901234567890',
      empty: '',
      '${N}': 'key',
    });
  });

  it('names the file and key of an unset variable', () => {
    const path = file('registry: ${NOPE_NOT_SET}\ninterfaces: { A: { class: ./a.ts#A } }\n');
    expect(() => loadInstanceConfig(path, {})).toThrow(
      new ConfigError(
        `${path}: registry: environment variable NOPE_NOT_SET is not set (write \${NOPE_NOT_SET:-default} to give a default)`,
      ),
    );
  });

  it('names the file, the key and what was expected for bad values and unknown keys', () => {
    expect(() =>
      loadInstanceConfig(
        file('http: { port: 99999 }\ninterfaces: { A: { class: ./a.ts#A } }\n'),
        {},
      ),
    ).toThrow(/conf\.yml: http\.port: expected an integer from 0 to 65535, got number 99999$/);
    expect(() =>
      loadInstanceConfig(file('registy: local\ninterfaces: { A: { class: ./a.ts#A } }\n'), {}),
    ).toThrow(/conf\.yml: registy: unknown key \(expected one of: cluster, registry/);
    expect(() => loadInstanceConfig(file('interfaces: { A: { class: nohash } }\n'), {})).toThrow(
      /interfaces\.A\.class: expected a "module#Export" reference, got string "nohash"/,
    );
    expect(() => loadInstanceConfig(file('interfaces: {}\n'), {})).toThrow(
      /interfaces: expected at least one service/,
    );
  });

  it('takes a misspelled max_workers for what it is, not for a setting of the service', () => {
    for (const key of ['maxWorkers', 'max_worker', 'max-workers', 'max_workres', 'MAX_WORKERS'])
      expect(() =>
        loadInstanceConfig(file(`interfaces:\n  A:\n    class: ./a.ts#A\n    ${key}: 4\n`), {}),
      ).toThrow(
        `interfaces.A.${key}: did you mean max_workers? (the section's other keys are the service's own settings, so this one would change nothing)`,
      );
    // The service's own settings, even those that start alike, stay its own.
    const config = loadInstanceConfig(
      file(
        'interfaces:\n  A:\n    class: ./a.ts#A\n    max_workers: 4\n    max_items: 9\n    workers: 2\n',
      ),
      {},
    );
    expect(config.interfaces[0]).toMatchObject({
      maxWorkers: 4,
      options: { max_items: 9, workers: 2 },
    });
  });

  it('says a missing class is missing, and what its section holds instead (a misspelled key)', () => {
    expect(() =>
      loadInstanceConfig(file('interfaces:\n  A:\n    clas: ./a.ts#A\n    ttl: 3\n'), {}),
    ).toThrow(
      /conf\.yml: interfaces\.A\.class: missing: the service's class, as "module#Export" \(like \.\.\/services\/greeting\.ts#Greeting\); the section has clas, ttl, read as the service's own settings$/,
    );
    expect(() => loadInstanceConfig(file('interfaces:\n  A: {}\n'), {})).toThrow(
      /conf\.yml: interfaces\.A\.class: missing: the service's class, as "module#Export" \(like \.\.\/services\/greeting\.ts#Greeting\)$/,
    );
  });

  it('reads tracing.otlp and tracing.protocol, and names a bad value', () => {
    const iface = 'interfaces: { A: { class: ./a.ts#A } }\n';
    expect(loadInstanceConfig(file(iface), {}).tracing).toEqual({});
    expect(
      loadInstanceConfig(
        file(`tracing: { otlp: 'http://127.0.0.1:4318', protocol: http/json }\n${iface}`),
        {},
      ).tracing,
    ).toEqual({ otlp: 'http://127.0.0.1:4318', protocol: 'http/json' });
    expect(loadInstanceConfig(file(`tracing: { otlp: true }\n${iface}`), {}).tracing).toEqual({
      otlp: true,
    });
    expect(() => loadInstanceConfig(file(`tracing: { otlp: jaeger }\n${iface}`), {})).toThrow(
      /tracing\.otlp: expected an http\(s\) URL of an OTLP\/HTTP endpoint, or true\/false, got string "jaeger"/,
    );
    expect(() => loadInstanceConfig(file(`tracing: { protocol: grpc }\n${iface}`), {})).toThrow(
      /tracing\.protocol: expected http\/protobuf or http\/json/,
    );
    expect(() => loadInstanceConfig(file(`tracing: { otpl: true }\n${iface}`), {})).toThrow(
      /tracing\.otpl: unknown key/,
    );
  });

  it('reports a missing file and broken YAML in one line', () => {
    expect(() => loadInstanceConfig('/nowhere/conf.yml', {})).toThrow(
      'config file /nowhere/conf.yml does not exist',
    );
    expect(() => loadInstanceConfig(file('interfaces: [unclosed\n'), {})).toThrow(/invalid YAML/);
  });
});

describe('ConfigView', () => {
  it('builds objects from "class: module#Export" plus options, resolved from the config folder', async () => {
    const path = file('unused: true\n');
    const dir = join(path, '..');
    writeFileSync(
      join(dir, 'client.mjs'),
      'export class Client { constructor(options) { this.options = options; } }\n',
    );
    const view = new ConfigView({
      file: path,
      dir,
      section: { cache_client: { class: './client.mjs#Client', host: '127.0.0.1', port: 6379 } },
      root: {},
      sectionPath: 'interfaces.Svc',
    });
    const client = await view.getInstance<{ options: unknown }>('cache_client');
    expect(client.options).toEqual({ host: '127.0.0.1', port: 6379 });
    await expect(view.getInstance('missing')).rejects.toThrow(/missing: expected a mapping/);
    const bad = new ConfigView({
      file: path,
      dir,
      section: { c: { class: './client.mjs#Nope' } },
      root: {},
      sectionPath: 'interfaces.Svc',
    });
    await expect(bad.getInstance('c')).rejects.toThrow(
      /has no export "Nope" \(it exports: Client\)/,
    );
  });

  it('reads values from the service section first, then the whole document', () => {
    const view = new ConfigView({
      file: 'f',
      dir: '.',
      section: { a: { b: 1 } },
      root: { a: { b: 2 }, c: 3 },
      sectionPath: 'interfaces.S',
    });
    expect(view.get('a.b')).toBe(1);
    expect(view.get('c')).toBe(3);
    expect(view.get('d', 'x')).toBe('x');
    expect(view.get('__proto__')).toBeUndefined();
  });
});
