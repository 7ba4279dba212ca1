// TypeScript service files under `svc instance`: compiled one file per module
// into node_modules/.cache/svc, imported as plain ESM (no loader thread).
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, TestEnv, requireBuild } from '../support/svc.js';

const env = new TestEnv();
const project = mkdtempSync(join(tmpdir(), 'svc-ts-'));
const cache = join(project, 'node_modules/.cache/svc');

function write(path: string, text: string): void {
  mkdirSync(join(project, path, '..'), { recursive: true });
  writeFileSync(join(project, path), text);
}

const shapes = (factor: number) => `
import { RPC, Service, rpc } from '@svc/core';
import { Circle } from './lib/geometry.js';
import { seen } from './lib/seen.ts';
import { double } from './lib/plain.mjs';
import { fileURLToPath } from 'node:url';

export class Shapes extends Service {
  static override readonly serviceName = 'Shapes';
  declare [RPC]: 'area' | 'where' | 'mark' | 'stack';
  @rpc() area({ r }: { r: number }): number {
    return double(new Circle(r).area() * ${factor}) / 2;
  }
  @rpc() where(): { file: string; dir: string } {
    return { file: fileURLToPath(import.meta.url), dir: import.meta.dirname };
  }
  @rpc() mark(): number {
    seen.add(Date.now() + Math.random());
    return seen.size;
  }
  @rpc() stack(): string {
    return new Error('here').stack ?? '';
  }
}
`;

beforeAll(() => {
  requireBuild();
  mkdirSync(join(project, 'node_modules/@svc'), { recursive: true });
  symlinkSync(join(REPO, 'packages/core'), join(project, 'node_modules/@svc/core'));
  write('package.json', '{ "type": "module" }');
  write(
    'conf/shapes.yml',
    'interfaces:\n  Shapes:\n    class: ../services/shapes.ts#Shapes\n  Tally:\n    class: ../services/tally.ts#Tally\n',
  );
  write('services/shapes.ts', shapes(1));
  write(
    'services/tally.ts',
    `import { Service, rpc } from '@svc/core';
import { seen } from './lib/seen.js';
export class Tally extends Service {
  static override readonly serviceName = 'Tally';
  declare [RPC]: 'count';
  @rpc() count(): number { return seen.size; }
}
`,
  );
  write(
    'services/lib/geometry.ts',
    'export class Circle {\n  constructor(private readonly r: number) {}\n  area(): number { return Math.PI * this.r ** 2; }\n}\n',
  );
  write('services/lib/seen.ts', 'export const seen: Set<number> = new Set();\n');
  write('services/lib/plain.mjs', 'export const double = (x) => x * 2;\n');
});
afterAll(async () => {
  await env.stop();
  rmSync(project, { recursive: true, force: true });
});

async function call<T>(method: string, args: Record<string, unknown> = {}): Promise<T> {
  const client = await env.client();
  try {
    const [service, name] = method.split('.') as [string, string];
    return (await client.call(service, name, args)) as T;
  } finally {
    await client.close();
  }
}

describe('svc instance with TypeScript services', () => {
  it('serves them, with imports resolved as TypeScript does, and one module shared by two services', async () => {
    const proc = await env.instance('conf/shapes.yml', { cwd: project });
    try {
      expect(await call<number>('Shapes.area', { r: 2 })).toBeCloseTo(Math.PI * 4);
      // seen.ts is reached as ./lib/seen.ts by one service and ./lib/seen.js by the other
      expect(await call<number>('Shapes.mark')).toBe(1);
      expect(await call<number>('Shapes.mark')).toBe(2);
      expect(await call<number>('Tally.count')).toBe(2);
      // import.meta names the source file, and stack traces point into it
      const where = await call<{ file: string; dir: string }>('Shapes.where');
      expect(where).toEqual({
        file: join(project, 'services/shapes.ts'),
        dir: join(project, 'services'),
      });
      expect(await call<string>('Shapes.stack')).toContain(
        `${join(project, 'services/shapes.ts')}:`,
      );
      // one compiled file per TypeScript module, the plain .mjs imported where it is
      const compiled = readdirSync(cache).filter((f) => f.endsWith('.mjs'));
      expect(compiled.map((f) => f.replace(/-[0-9a-f]{12}\.mjs$/, '')).sort()).toEqual([
        'geometry',
        'seen',
        'shapes',
        'tally',
      ]);
    } finally {
      proc.child.kill('SIGTERM');
      await proc.exited;
    }
  });

  it('reuses the compiled files while the sources are unchanged, and compiles again when one changes or a compiled file is gone', async () => {
    // a compile stamps the entry's manifest; a start from the cache leaves it alone
    const compiledAt = () => {
      const manifest = readdirSync(cache).find(
        (f) => f.startsWith('shapes-') && f.endsWith('.mjs.json'),
      )!;
      return (JSON.parse(readFileSync(join(cache, manifest), 'utf8')) as { compiledAt: string })
        .compiledAt;
    };
    const before = compiledAt();
    let proc = await env.instance('conf/shapes.yml', { cwd: project });
    proc.child.kill('SIGTERM');
    await proc.exited;
    expect(compiledAt()).toBe(before);

    write('services/shapes.ts', shapes(10));
    // and a compiled file of the graph gone from the cache is made again
    const geometry = readdirSync(cache).find(
      (f) => f.startsWith('geometry-') && f.endsWith('.mjs'),
    )!;
    rmSync(join(cache, geometry));
    proc = await env.instance('conf/shapes.yml', { cwd: project });
    try {
      expect(await call<number>('Shapes.area', { r: 1 })).toBeCloseTo(Math.PI * 10);
    } finally {
      proc.child.kill('SIGTERM');
      await proc.exited;
    }
    expect(compiledAt()).not.toBe(before);
  });

  it('loads the sources through tsx when the cache cannot be written', async () => {
    const other = mkdtempSync(join(tmpdir(), 'svc-ts-ro-'));
    try {
      mkdirSync(join(other, 'node_modules/@svc'), { recursive: true });
      symlinkSync(join(REPO, 'packages/core'), join(other, 'node_modules/@svc/core'));
      // a file where the cache folder would go
      writeFileSync(join(other, 'node_modules/.cache'), 'not a folder');
      writeFileSync(join(other, 'package.json'), '{ "type": "module" }');
      mkdirSync(join(other, 'services'));
      writeFileSync(
        join(other, 'services/solo.ts'),
        `import { Service, rpc } from '@svc/core';
export class Solo extends Service {
  static override readonly serviceName = 'Solo';
  declare [RPC]: 'twice';
  @rpc() twice({ n }: { n: number }): number { return n * 2; }
}
`,
      );
      writeFileSync(
        join(other, 'solo.yml'),
        'interfaces:\n  Solo:\n    class: ./services/solo.ts#Solo\n',
      );
      const proc = await env.instance('solo.yml', { cwd: other });
      try {
        expect(await call<number>('Solo.twice', { n: 21 })).toBe(42);
      } finally {
        proc.child.kill('SIGTERM');
        await proc.exited;
      }
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('refuses a file that does not compile with the file, line and what is wrong, and exits 2 (a config error)', async () => {
    write('conf/broken.yml', 'interfaces:\n  Broken:\n    class: ../services/broken.ts#Broken\n');
    write('services/broken.ts', 'export class Broken {\n  method( {\n}\n');
    const { code, stderr } = await env.run(['instance', '--config', 'conf/broken.yml'], {
      cwd: project,
    });
    expect(code).toBe(2);
    expect(stderr).toContain('services/broken.ts:4:1: Expected ")" but found end of file');
    expect(stderr).toContain('TypeScript does not compile');
  });
});
