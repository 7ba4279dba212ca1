// Standard Schema V1 parameters as a user meets them: a service whose
// methods take a zod, a valibot and an arktype schema, run by `svc instance`;
// each validates the calls of `svc request` and of a typed client, and
// `svc inspect` describes each from the library's own JSON Schema.
import { join } from 'node:path';
import { ValidationError, type ClusterClient } from '@svc/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Shop } from '../fixtures/schemas/services.js';
import { FIXTURES, TestEnv, ownInterface, requireBuild } from '../support/svc.js';

const DIR = join(FIXTURES, 'schemas');
const env = new TestEnv();
let client: ClusterClient<{ Shop: Shop }>;

const svc = (args: string[]) => env.run(args, { cwd: DIR });

beforeAll(async () => {
  requireBuild();
  await env.instance('schemas.yml', { cwd: DIR });
  client = await env.client<{ Shop: Shop }>();
});

afterAll(async () => {
  await client?.close();
  await env.stop();
});

describe('params from Standard Schema libraries, under svc instance', () => {
  it('describes zod, valibot and arktype schemas in svc inspect, with their JSON Schema', async () => {
    const text = await svc(['inspect', 'Shop']);
    expect(text.code, text.stderr).toBe(0);
    expect(ownInterface(text.stdout)).toEqual([
      'RPC interface of Shop',
      '',
      'rpc Shop.order(item: string, qty?: integer)',
      '    Orders an item (a zod schema)',
      '    - item: what to order',
      'rpc Shop.refund(id: string)',
      '    Refunds an order (a valibot schema)',
      '    - id: the order id',
      'rpc Shop.ship(to: string, express?: boolean)',
      '    Ships an order (an arktype schema)',
      '    - to: the address',
    ]);
    const json = await svc(['inspect', 'Shop', '--json']);
    const described = JSON.parse(json.stdout) as {
      rpc: Array<{ name: string; schema?: { type?: string; required?: string[] } }>;
    };
    const schemaOf = (name: string) => described.rpc.find((m) => m.name === name)?.schema;
    expect(schemaOf('order')).toMatchObject({ type: 'object', required: ['item'] });
    expect(schemaOf('refund')).toMatchObject({ type: 'object', required: ['id'] });
    expect(schemaOf('ship')).toMatchObject({ type: 'object', required: ['to'] });
  });

  it('validates each call with its schema, from svc request and from a typed client', async () => {
    // The schema's output is what the method gets: zod's default fills qty.
    expect(await svc(['request', 'Shop.order', '{"item": "tea"}'])).toMatchObject({
      code: 0,
      stdout: "'1 x tea'\n",
    });
    expect(await client.rpc.Shop.refund({ id: 'A-17' })).toBe('refunded A-17');
    expect(await client.rpc.Shop.ship({ to: 'Oslo', express: true })).toBe('express to Oslo');

    const bad = await svc(['request', 'Shop.ship', '{"to": 5}']);
    // A caller's mistake: one line, exit 2, with arktype's own words.
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(
      'svc: invalid parameters for Shop.ship: to: to must be the address (was a number)\n',
    );
    await expect(client.rpc.Shop.refund({ id: 'ab' })).rejects.toThrow(ValidationError);
    const order = await client.call('Shop', 'order', { item: 3 }).catch((e: unknown) => e);
    expect(order).toBeInstanceOf(ValidationError);
    expect((order as Error).message).toMatch(/^invalid parameters for Shop\.order: item: /);
  });
});
