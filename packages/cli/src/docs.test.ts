import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { extractDocs } from './docs.js';

const read = (text: string, path = '/p/services/a.ts') => extractDocs(ts, [{ path, text }]);

describe('doc comments read by the TypeScript parser', () => {
  it("gives each method its own doc, never the code around it (Counter's incr showed source code)", () => {
    const docs = read(`
      /** Counts things in Redis. */
      export class Counter extends Service {
        cache = inject(new RedisProvider('cache_client'));

        /** Adds one to a counter and returns its new value */
        @rpc({ params: { key: t.string('counter name') } })
        async incr({ key }: { key: string }) {
          const value = await this.cache.incr(key);
          if (ttl(value) > 0) await this.cache.expire(key, ttl(value));
          return value;
        }

        /**
         * The current value of a counter
         * (0 when it was never incremented)
         */
        @rpc({ params: { key: t.string('counter name') } }) async get({ key }: { key: string }) {
          return Number((await this.cache.get(key)) ?? 0);
        }

        helper() {}
      }
    `);
    expect(docs['Counter']).toEqual({
      doc: 'Counts things in Redis.',
      methods: {
        incr: {
          doc: 'Adds one to a counter and returns its new value',
          params: [{ name: 'key', type: 'string' }],
        },
        get: {
          doc: 'The current value of a counter\n(0 when it was never incremented)',
          params: [{ name: 'key', type: 'string' }],
        },
        helper: { params: [] },
      },
    });
  });

  it('reads a doc whose decorator has nested calls (greet_all had none)', () => {
    const docs = read(`
      export class Greeter {
        /** Greets every name at once (all calls first) */
        @rpc({ params: { names: t.array(t.string()) } })
        async greet_all({ names }: { names: string[] }) {}
      }
    `);
    expect(docs['Greeter']!.methods['greet_all']).toEqual({
      doc: 'Greets every name at once (all calls first)',
      params: [{ name: 'names', type: 'string[]' }],
    });
  });

  it('documents parameters from @param tags and from the comments on the parameter type', () => {
    const docs = read(`
      interface FindParams {
        /** the user's id */
        id: number;
        /** include deleted users */
        deleted?: boolean;
      }
      export class Users {
        /**
         * Finds users
         * @param name - the name to look for
         * @param params.limit at most this many
         */
        @rpc() find({ name, limit = 10, all: everything }: {
          name: string;
          limit?: number;
          /** every field, not only the public ones */
          all: boolean;
        }) {}

        /** One user */
        @rpc() get(this: Users, p: FindParams) {}
      }
    `);
    expect(docs['Users']!.methods).toEqual({
      find: {
        doc: 'Finds users',
        params: [
          { name: 'name', type: 'string', doc: 'the name to look for' },
          { name: 'limit', type: 'number', optional: true, doc: 'at most this many' },
          { name: 'all', type: 'boolean', doc: 'every field, not only the public ones' },
        ],
      },
      get: {
        doc: 'One user',
        params: [
          { name: 'id', type: 'number', doc: "the user's id" },
          { name: 'deleted', type: 'boolean', optional: true, doc: 'include deleted users' },
        ],
      },
    });
  });

  it('keeps the class of the first file given when two files declare one name', () => {
    const docs = extractDocs(ts, [
      { path: '/p/entry.ts', text: "/** the entry's */ export class A {}" },
      { path: '/p/other.ts', text: "/** the other's */ export class A {}" },
    ]);
    expect(docs['A']).toEqual({ doc: "the entry's", methods: {} });
  });

  it('reads what it can of a file that does not compile', () => {
    const docs = read('/** half */ export class A { /** m */ m() { return (; } ');
    expect(docs['A']?.doc).toBe('half');
  });
});
