import * as v from 'valibot';
import * as z from 'zod';
import { describe, expect, it } from 'vitest';
import { rpc } from './decorators.js';
import { IncorrectSignatureError, ValidationError } from './errors.js';
import { Instance } from './instance.js';
import { compileParams, describeJsonSchema, type StandardSchema } from './params.js';
import type { RpcAnswer, RpcRequest } from './rpc/transport.js';
import { t } from './schema.js';
import { Service, type ServiceClass } from './service.js';
import { MemoryHub, testConfig } from './testing/index.js';
import { RPC } from './typed.js';

/** A Standard Schema of `{ n: number }` that counts how it is used. */
function countingSchema(options: { async?: boolean } = {}) {
  // built: reads of the schema's `~standard` (what compiling it does)
  const counts = { built: 0, validated: 0 };
  const validate = (value: unknown) => {
    counts.validated++;
    const n = (value as { n?: unknown }).n;
    const result =
      typeof n === 'number'
        ? { value: { n } }
        : { issues: [{ message: 'must be a number', path: ['n'] }] };
    return options.async ? Promise.resolve(result) : result;
  };
  const schema = {
    get '~standard'() {
      counts.built++;
      return { version: 1 as const, vendor: 'test', validate };
    },
  } as StandardSchema<{ n: number }>;
  return { schema, counts };
}

/** One instance on a memory hub, its container, and a way to send it raw requests. */
async function serve(cls: ServiceClass) {
  const instance = new Instance({
    config: testConfig([cls]),
    backends: new MemoryHub().connect(),
    classes: { [cls.serviceName]: cls },
    sinks: [],
    // What the CLI would have read from the classes' source.
    docs: (_file, className) =>
      className === 'Named' || className === 'Described'
        ? {
            methods: {
              greet: { params: [{ name: 'name' }, { name: 'punctuation', doc: 'how to end' }] },
            },
          }
        : undefined,
  });
  await instance.start();
  const container = instance.containers[0]!;
  const request = (
    method: string,
    params: Record<string, unknown>,
    args?: unknown[],
  ): RpcRequest => ({
    service: container.name,
    method,
    params,
    ...(args ? { args } : {}),
    headers: { traceId: 't', callIdStack: [], data: {} },
  });
  return { instance, container, request };
}

const resultOf = async (r: RpcAnswer | Promise<RpcAnswer>) => {
  const response = await r;
  if (response.ok === 'stream') throw new Error('a stream answer');
  if (!response.ok) throw new Error(`${response.error.code}: ${response.error.message}`);
  return response.result;
};

describe('params schemas', () => {
  it('are built once, when the class is defined, and validate every call', async () => {
    const { schema, counts } = countingSchema();
    class Counted extends Service {
      static override readonly serviceName = 'Counted';
      declare [RPC]: 'm';
      @rpc({ params: schema }) m({ n }: { n: number }) {
        return n + 1;
      }
    }
    const atDefinition = counts.built;
    expect(atDefinition).toBeGreaterThan(0);
    const { instance, container, request } = await serve(Counted);
    try {
      for (let i = 0; i < 3; i++) await resultOf(container.handleRpc(request('m', { n: i })));
      // Each call validates; none goes back to the schema object.
      expect(counts).toEqual({ built: atDefinition, validated: 3 });
    } finally {
      await instance.stop({ graceMs: 0 });
    }
  });

  it('keep the call synchronous with a synchronous schema, and wait for an asynchronous one', async () => {
    const sync = countingSchema().schema;
    const async_ = countingSchema({ async: true }).schema;
    class Both extends Service {
      static override readonly serviceName = 'Both';
      declare [RPC]: 'plain' | 'shaped' | 'zodded' | 'standard' | 'later';
      @rpc() plain() {
        return 1;
      }
      @rpc({ params: { n: t.number() } }) shaped({ n }: { n: number }) {
        return n;
      }
      @rpc({ params: z.object({ n: z.number() }) }) zodded({ n }: { n: number }) {
        return n;
      }
      @rpc({ params: sync }) standard({ n }: { n: number }) {
        return n;
      }
      @rpc({ params: async_ }) later({ n }: { n: number }) {
        return n;
      }
    }
    const { instance, container, request } = await serve(Both);
    try {
      for (const method of ['plain', 'shaped', 'zodded', 'standard']) {
        const response = container.handleRpc(request(method, method === 'plain' ? {} : { n: 2 }));
        expect(response, method).not.toBeInstanceOf(Promise);
      }
      const later = container.handleRpc(request('later', { n: 5 }));
      expect(later).toBeInstanceOf(Promise);
      expect(await resultOf(later)).toBe(5);
      const bad = await container.handleRpc(request('later', { n: 'x' }));
      expect(bad).toMatchObject({
        ok: false,
        error: {
          code: ValidationError.code,
          message: 'invalid parameters for Both.later: n: must be a number',
        },
      });
    } finally {
      await instance.stop({ graceMs: 0 });
    }
  });

  it("map a Nameko peer's positional arguments by the names the schema or the source gives", async () => {
    class Named extends Service {
      static override readonly serviceName = 'Named';
      declare [RPC]: 'greet' | 'shout' | 'nameless';
      // No schema: the names come from the docs the CLI read from the source.
      @rpc() greet({ name, punctuation = '!' }: { name: string; punctuation?: string }) {
        return `Hi, ${name}${punctuation}`;
      }
      @rpc({ params: z.object({ word: z.string(), times: z.number().default(2) }) })
      shout({ word, times }: { word: string; times: number }) {
        return word.repeat(times);
      }
      @rpc({ params: { a: t.integer(), b: t.integer() } }) nameless({
        a,
        b,
      }: {
        a: number;
        b: number;
      }) {
        return a + b;
      }
    }
    const { instance, container, request } = await serve(Named);
    try {
      expect(await resultOf(container.handleRpc(request('greet', {}, ['Ada', '?'])))).toBe(
        'Hi, Ada?',
      );
      expect(await resultOf(container.handleRpc(request('shout', {}, ['ho'])))).toBe('hoho');
      expect(await resultOf(container.handleRpc(request('nameless', { b: 2 }, [1])))).toBe(3);
      const tooMany = await container.handleRpc(request('nameless', {}, [1, 2, 3]));
      expect(tooMany).toMatchObject({
        ok: false,
        error: {
          code: IncorrectSignatureError.code,
          message: 'nameless() takes 2 positional arguments but 3 were given',
        },
      });
    } finally {
      await instance.stop({ graceMs: 0 });
    }
  });

  it('never show a sensitive value in a validation error, whichever schema finds it', async () => {
    class Vault extends Service {
      static override readonly serviceName = 'Vault';
      declare [RPC]: 'own' | 'valibot' | 'zod';
      @rpc({
        sensitive: ['pin', 'card.number', 'cards.cvc'],
        params: {
          user: t.integer(),
          pin: t.integer(),
          card: t.object({ number: t.integer() }),
          cards: t.array(t.object({ cvc: t.integer() })),
        },
      })
      own(_p: { user: number; pin: number; card: { number: number }; cards: { cvc: number }[] }) {
        return 'ok';
      }
      @rpc({
        sensitive: ['pin'],
        params: v.object({ user: v.number(), pin: v.number() }),
      })
      valibot(_p: { user: number; pin: number }) {
        return 'ok';
      }
      @rpc({ sensitive: ['pin'], params: z.object({ user: z.number(), pin: z.number() }) })
      zod(_p: { user: number; pin: number }) {
        return 'ok';
      }
    }
    const { instance, container, request } = await serve(Vault);
    const problem = async (method: string, params: Record<string, unknown>) => {
      const answer = await container.handleRpc(request(method, params));
      if (answer.ok !== false) throw new Error(`${method} did not fail`);
      expect(answer.error.code).toBe(ValidationError.code);
      return answer.error.message + JSON.stringify(answer.error);
    };
    try {
      const own = await problem('own', {
        user: 'flynn',
        pin: 'hunter2',
        card: 'SECRET-CARD',
        cards: [{ cvc: 'SECRET-CVC' }],
      });
      // What is not sensitive is still shown, what is reads ********.
      expect(own).toContain('user must be an integer, got the string "flynn"');
      expect(own).toContain('pin must be an integer, got ********');
      expect(own).toContain('card must be an object, got ********');
      expect(own).toContain('cards[0].cvc must be an integer, got ********');
      expect(own).not.toMatch(/hunter2|SECRET/);

      // valibot's own message quotes the value it got.
      const vb = await problem('valibot', { user: 'flynn', pin: 'hunter2' });
      expect(vb).toContain('flynn');
      expect(vb).toContain('pin: invalid (********');
      expect(vb).not.toContain('hunter2');
      const zd = await problem('zod', { user: 1, pin: 'hunter2' });
      expect(zd).toContain('pin: invalid (********');
      expect(zd).not.toContain('hunter2');
    } finally {
      await instance.stop({ graceMs: 0 });
    }
  });

  it('refuse positional arguments when no parameter names are known', async () => {
    class Unnamed extends Service {
      static override readonly serviceName = 'Unnamed';
      declare [RPC]: 'm';
      @rpc() m({ x }: { x: number }) {
        return x;
      }
    }
    const { instance, container, request } = await serve(Unnamed);
    try {
      const response = await container.handleRpc(request('m', {}, [1]));
      expect(response.ok).toBe(false);
      const error = (response as Extract<RpcAnswer, { ok: false }>).error;
      expect(error.code).toBe(IncorrectSignatureError.code);
      expect(error.message).toContain(
        'm() got positional arguments, but the names of its parameters are unknown',
      );
    } finally {
      await instance.stop({ graceMs: 0 });
    }
  });

  it('describe a Standard Schema by its JSON Schema, and take parameter docs from the source', async () => {
    class Described extends Service {
      static override readonly serviceName = 'Named';
      declare [RPC]: 'greet';
      @rpc({
        params: z.object({
          name: z.string().describe('who to greet'),
          punctuation: z.enum(['!', '?']).optional(),
        }),
      })
      greet({ name, punctuation = '!' }: { name: string; punctuation?: '!' | '?' | undefined }) {
        return name + punctuation;
      }
    }
    const { instance, container } = await serve(Described);
    try {
      const greet = container.describe().rpc[0]!;
      expect(greet.params).toEqual([
        { name: 'name', type: 'string', doc: 'who to greet' },
        { name: 'punctuation', type: '"!" | "?"', optional: true, doc: 'how to end' },
      ]);
      expect(greet.schema).toMatchObject({ type: 'object', required: ['name'] });
    } finally {
      await instance.stop({ graceMs: 0 });
    }
  });

  it("describe a schema without JSON Schema (plain valibot) by the source's parameters", async () => {
    class Named extends Service {
      static override readonly serviceName = 'Named';
      declare [RPC]: 'greet';
      @rpc({ params: v.object({ name: v.string(), punctuation: v.optional(v.string()) }) })
      greet({ name, punctuation = '!' }: { name: string; punctuation?: string | undefined }) {
        return name + punctuation;
      }
    }
    const { instance, container } = await serve(Named);
    try {
      expect(container.describe().rpc[0]).toEqual({
        name: 'greet',
        params: [{ name: 'name' }, { name: 'punctuation', doc: 'how to end' }],
      });
    } finally {
      await instance.stop({ graceMs: 0 });
    }
  });
});

describe('JSON Schema as parameters', () => {
  it('gives each property a short type', () => {
    expect(
      describeJsonSchema({
        type: 'object',
        properties: {
          tags: { type: 'array', items: { type: 'string' } },
          either: { anyOf: [{ type: 'string' }, { type: 'null' }] },
          many: { type: ['integer', 'null'] },
          grid: { type: 'array', items: { type: 'array', items: { type: 'number' } } },
          mixed: { type: 'array', items: { anyOf: [{ type: 'string' }, { type: 'number' }] } },
          what: {},
        },
        required: ['tags'],
      }),
    ).toEqual([
      { name: 'tags', type: 'string[]' },
      { name: 'either', type: 'string | null', optional: true },
      { name: 'many', type: 'integer | null', optional: true },
      { name: 'grid', type: 'number[][]', optional: true },
      { name: 'mixed', type: '(string | number)[]', optional: true },
      { name: 'what', type: 'any', optional: true },
    ]);
  });

  it('leaves a schema that is not an object without parameters, and a t shape as it is', () => {
    expect(describeJsonSchema({ type: 'string' })).toEqual([]);
    expect(compileParams({ a: t.string('the a') }).describe()).toEqual({
      params: [{ name: 'a', type: 'string', doc: 'the a' }],
    });
  });
});
