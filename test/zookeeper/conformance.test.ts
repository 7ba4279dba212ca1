import { afterAll, beforeAll } from 'vitest';
import { createRegistry } from '@svc/core';
import { describeRegistry } from '@svc/core/testing/conformance';
import {
  closeClient,
  context,
  ensureZooKeeper,
  rawClient,
  removeTree,
  uniqueRoot,
} from './helpers.js';

const root = uniqueRoot();

beforeAll(() => ensureZooKeeper());
afterAll(async () => {
  const client = await rawClient('127.0.0.1:2181');
  await removeTree(client, root);
  await closeClient(client);
});

describeRegistry('zookeeper', {
  create: () => createRegistry(`zookeeper://127.0.0.1:2181${root}`, context()),
});
