import type { Router } from 'zeromq';
import type { ClusterAuth } from '../security/auth.js';
import type { ZmqModule } from './link.js';

// ZAP (ZeroMQ RFC 27): libzmq asks the socket bound at this inproc address,
// in the same context, whether to accept each peer that completed a CURVE
// handshake. One handler per process serves every listener; it accepts the
// caller keys of the clusters whose listeners are open.

const ZAP_ENDPOINT = 'inproc://zeromq.zap.01';

interface Allowed {
  refs: number;
}

let router: Router | undefined;
const allowed = new Map<string, Allowed>();

/**
 * Makes sure the ZAP handler runs and accepts `auth`'s callers; returns the
 * function that gives that up (the handler closes with the last one).
 */
export async function acquireZap(zmq: ZmqModule, auth: ClusterAuth): Promise<() => void> {
  const key = auth.curve().clientPublicRaw.toString('hex');
  const entry = allowed.get(key);
  if (entry) entry.refs++;
  else allowed.set(key, { refs: 1 });
  if (!router) {
    const r = new zmq.Router({ linger: 0 });
    router = r;
    try {
      await bindZap(r);
    } catch (err) {
      if (router === r) router = undefined;
      r.close();
      const e = allowed.get(key);
      if (e && --e.refs === 0) allowed.delete(key);
      throw err;
    }
    void serve(r);
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const e = allowed.get(key);
    if (e && --e.refs === 0) allowed.delete(key);
    if (allowed.size === 0 && router) {
      router.close();
      router = undefined;
    }
  };
}

/**
 * Binds the handler's inproc address. A handler closed a moment ago (the
 * last listener of a process stopped, the next one starts) frees the
 * address only once libzmq has closed it, off this thread: until then the
 * bind fails as in use, so it is tried again for a while.
 */
async function bindZap(r: Router): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await r.bind(ZAP_ENDPOINT);
      return;
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'EADDRINUSE' || attempt >= 40) throw err;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}

async function serve(r: Router): Promise<void> {
  try {
    for await (const frames of r) {
      // [routing id, "", version, request id, domain, address, identity, mechanism, credentials...]
      const [rid, delimiter, version, requestId, , , , mechanism, key] = frames;
      if (!rid || !delimiter || !requestId) continue;
      const mech = mechanism?.toString() ?? '';
      const entry = mech === 'CURVE' && key ? allowed.get(key.toString('hex')) : undefined;
      const ok = entry !== undefined && version?.toString() === '1.0';
      // A refusal is counted and logged by the listener, from its handshake events.
      await r.send([
        rid,
        delimiter,
        '1.0',
        requestId,
        ok ? '200' : '400',
        ok ? 'OK' : 'not a member of the cluster',
        ok ? 'svc' : '',
        '',
      ]);
    }
  } catch {
    // Closed.
  }
}
