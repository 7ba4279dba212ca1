import { createRegistry, type Logger, type Registry } from '@svc/core';
import type zookeeper from 'node-zookeeper-client';
import { afterAll, afterEach, beforeAll } from 'vitest';
import {
  closeClient,
  context,
  ensureZooKeeper,
  memoryLogger,
  rawClient,
  removeTree,
  uniqueRoot,
} from './helpers.js';

// Apart from helpers.ts, which test files that run ZooKeepers of their own import too.

/**
 * For a test file on the shared ZooKeeper (127.0.0.1:2181, started when it is not running): a
 * root of its own (`url` names it), a raw client (opened before the file's tests, removing the
 * root and closing after them), and the registries the tests open with `registry()`, closed
 * after each test.
 */
export function useSharedZooKeeper(): {
  readonly root: string;
  readonly url: string;
  readonly raw: zookeeper.Client;
  registry: (registryUrl?: string, log?: Logger) => Promise<Registry>;
} {
  const root = uniqueRoot();
  const url = `zookeeper://127.0.0.1:2181${root}`;
  const open: Registry[] = [];
  let raw: zookeeper.Client | undefined;
  beforeAll(async () => {
    ensureZooKeeper();
    raw = await rawClient('127.0.0.1:2181');
  });
  afterEach(async () => {
    await Promise.allSettled(open.splice(0).map((r) => r.close()));
  });
  afterAll(async () => {
    if (!raw) return;
    await removeTree(raw, root);
    await closeClient(raw);
  });
  return {
    root,
    url,
    get raw() {
      if (!raw) throw new Error('the raw ZooKeeper client opens in beforeAll');
      return raw;
    },
    registry: async (registryUrl = url, log = memoryLogger()) => {
      const r = await createRegistry(registryUrl, context(log));
      open.push(r);
      return r;
    },
  };
}
