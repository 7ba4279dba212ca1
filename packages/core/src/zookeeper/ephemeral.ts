import type * as Zk from 'node-zookeeper-client';
import { type ZkModule, type ZooKeeperSession, zkCode } from './session.js';

// Writing an ephemeral node of ours: the registry's one write, made so that
// the newest registration of an id wins.

/** Creates our ephemeral node, or replaces its data; parents are made as needed. */
export async function writeEphemeral(
  zk: ZkModule,
  session: ZooKeeperSession,
  acl: Zk.ACL[],
  path: string,
  data: Buffer,
): Promise<void> {
  const { CreateMode, Exception } = zk;
  const parent = path.slice(0, path.lastIndexOf('/'));
  for (let attempt = 0; ; attempt++) {
    await session.call<string>('mkdirp', (c, done) => c.mkdirp(parent, acl, (e, p) => done(e, p)));
    try {
      await session.call<string>('create', (c, done) =>
        c.create(path, data, acl, CreateMode.EPHEMERAL, (e, p) => done(e, p)),
      );
      return;
    } catch (error) {
      const code = zkCode(error);
      if (attempt >= 5 || (code !== Exception.NODE_EXISTS && code !== Exception.NO_NODE))
        throw error;
      if (code === Exception.NODE_EXISTS && (await replaceExisting(zk, session, path, data)))
        return;
    }
  }
}

/**
 * The node exists: ours (same session) gets the new data; another
 * session's (the same id registered elsewhere, or a leftover) is removed
 * so that the newest registration wins. Returns whether the data is in.
 */
async function replaceExisting(
  zk: ZkModule,
  session: ZooKeeperSession,
  path: string,
  data: Buffer,
): Promise<boolean> {
  const { Exception } = zk;
  const stat = await session.call<Zk.Stat | undefined>('exists', (c, done) =>
    c.exists(path, (e, s) => done(e, s ?? undefined)),
  );
  if (!stat) return false;
  try {
    if (stat.ephemeralOwner.equals(session.sessionId())) {
      await session.call<Zk.Stat>('setData', (c, done) =>
        c.setData(path, data, (e, s) => done(e, s)),
      );
      return true;
    }
    await session.call<void>('remove', (c, done) => c.remove(path, (e) => done(e)));
  } catch (error) {
    if (zkCode(error) !== Exception.NO_NODE) throw error;
  }
  return false;
}
