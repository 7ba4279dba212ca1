import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Socket } from 'node:net';

// The handshake every TCP listener of a cluster runs before it reads a
// single request byte. Both sides prove that they know the cluster's
// secret, each over a nonce the other chose, so that no proof can be
// replayed on another connection and neither side learns anything it could
// use with a third party:
//
//   client → server  HELLO  "SVCA" 0x01 clientNonce(32)                 37 bytes
//   server → client  PROOF  "SVCA" 0x01 serverNonce(32) serverMac(32)   69 bytes
//   client → server  PROOF  clientMac(32)                               32 bytes
//
//   serverMac = HMAC-SHA256(key, "svc server" | clientNonce | serverNonce)
//   clientMac = HMAC-SHA256(key, "svc client" | clientNonce | serverNonce)
//   key       = HMAC-SHA256(secret, "svc handshake v1")
//
// The labels keep a server's proof from being reflected as a client's.
// The client checks the server's proof before it sends anything else (a
// process that took over a dead instance's port learns nothing); it may
// send its first frames right behind its proof. Every message has a fixed
// size, so neither side ever buffers more than 69 bytes of a peer it has
// not authenticated; what arrives behind the last message is handed on
// untouched, never decoded here.

const MAGIC = Buffer.from('SVCA', 'latin1');
const VERSION = 1;
const NONCE_BYTES = 32;
const MAC_BYTES = 32;
export const HELLO_BYTES = MAGIC.length + 1 + NONCE_BYTES;
export const SERVER_PROOF_BYTES = MAGIC.length + 1 + NONCE_BYTES + MAC_BYTES;
export const CLIENT_PROOF_BYTES = MAC_BYTES;

/** How long a peer has to finish the handshake by default, ms. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 5000;

/** The key the handshake uses, derived from the cluster secret. */
export function handshakeKey(secret: Buffer): Buffer {
  return createHmac('sha256', secret).update('svc handshake v1').digest();
}

function mac(key: Buffer, label: string, clientNonce: Buffer, serverNonce: Buffer): Buffer {
  return createHmac('sha256', key).update(label).update(clientNonce).update(serverNonce).digest();
}

function sameMac(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** What a handshake reports when it ends. */
export interface HandshakeCallbacks {
  /**
   * The peer proved it knows the secret. `rest` is what it sent after the
   * handshake (possibly empty), not yet read by anyone. Called from the
   * read that brought the handshake's last bytes (the socket's own `data`
   * event, or its owner's `onread` callback), so that no byte can arrive in
   * between: attach the next reader synchronously.
   */
  ready(rest: Buffer): void;
  /** The peer failed (the socket is destroyed already); `reason` says how. */
  failed(reason: string): void;
}

/**
 * Where a handshake reads its peer's bytes: subscribes `onData` to them and
 * returns what unsubscribes it. Each chunk must stay as it is after the
 * call (a message split across reads is kept until it is whole): a
 * socket's `data` chunks do; a socket read through `onread` into a reused
 * buffer hands on copies.
 */
export type PeerBytes = (onData: (bytes: Buffer) => void) => () => void;

/** A socket's `data` events, the default {@link PeerBytes}. */
function socketData(socket: Socket): PeerBytes {
  return (onData) => {
    socket.on('data', onData);
    return () => socket.off('data', onData);
  };
}

/**
 * Accumulates exactly `size` bytes from `read`, then hands them and the
 * rest over; a handshake is its steps chained. The reader is unsubscribed
 * before `done` runs.
 */
function readExactly(read: PeerBytes, size: number, done: (bytes: Buffer, rest: Buffer) => void) {
  const chunks: Buffer[] = [];
  let have = 0;
  const onData = (bytes: Buffer) => {
    chunks.push(bytes);
    have += bytes.length;
    if (have < size) return;
    stop();
    const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, have);
    done(all.subarray(0, size), all.subarray(size));
  };
  const stop = read(onData);
  return stop;
}

/**
 * Guards one side of a connection with a deadline: `fail` destroys the
 * socket and reports once; `settle` ends the guard.
 */
function guard(socket: Socket, timeoutMs: number, callbacks: HandshakeCallbacks) {
  let settled = false;
  let stopReading: (() => void) | undefined;
  const timer = setTimeout(
    () => fail(`did not finish the handshake within ${timeoutMs} ms`),
    timeoutMs,
  );
  timer.unref?.();
  const onClose = () => fail('closed the connection during the handshake');
  const onError = (err: Error) => fail(`connection failed during the handshake (${err.message})`);
  socket.once('close', onClose);
  socket.on('error', onError);
  const end = () => {
    settled = true;
    clearTimeout(timer);
    stopReading?.();
    socket.off('close', onClose);
    socket.off('error', onError);
  };
  function fail(reason: string): void {
    if (settled) return;
    end();
    socket.destroy();
    callbacks.failed(reason);
  }
  return {
    fail,
    reading(stop: () => void) {
      stopReading = stop;
    },
    succeed(rest: Buffer) {
      if (settled) return;
      end();
      callbacks.ready(rest);
    },
  };
}

/** Runs the server's side of the handshake on a freshly accepted socket. */
export function acceptHandshake(
  socket: Socket,
  key: Buffer,
  timeoutMs: number,
  callbacks: HandshakeCallbacks,
): void {
  const g = guard(socket, timeoutMs, callbacks);
  const read = socketData(socket);
  g.reading(
    readExactly(read, HELLO_BYTES, (hello, rest) => {
      if (!hello.subarray(0, MAGIC.length).equals(MAGIC)) {
        return g.fail('sent no handshake (not an svc peer, or one without the cluster secret)');
      }
      if (hello[MAGIC.length] !== VERSION) {
        return g.fail(`speaks handshake version ${hello[MAGIC.length]}, not ${VERSION}`);
      }
      const clientNonce = Buffer.from(hello.subarray(MAGIC.length + 1));
      const serverNonce = randomBytes(NONCE_BYTES);
      socket.write(
        Buffer.concat([
          MAGIC,
          Buffer.of(VERSION),
          serverNonce,
          mac(key, 'svc server', clientNonce, serverNonce),
        ]),
      );
      const expected = mac(key, 'svc client', clientNonce, serverNonce);
      const onProof = (proof: Buffer, after: Buffer) => {
        if (!sameMac(proof, expected)) {
          return g.fail('does not know the cluster secret (wrong handshake proof)');
        }
        g.succeed(after);
      };
      // A client cannot have seen our nonce yet: nothing of it can follow its hello.
      if (rest.length > 0) return g.fail('sent bytes before it could have read our proof');
      g.reading(readExactly(read, CLIENT_PROOF_BYTES, onProof));
    }),
  );
}

/**
 * Runs the client's side of the handshake on a socket just created by
 * `net.connect` (writes before the connect are buffered by the socket).
 * Nothing else may be written to the socket before `ready`. `read` is
 * where the server's bytes come from: the socket's `data` events unless
 * the socket is read through `onread` (then its owner hands them on, and
 * `ready` is called from its read callback).
 */
export function connectHandshake(
  socket: Socket,
  key: Buffer,
  timeoutMs: number,
  callbacks: HandshakeCallbacks,
  read: PeerBytes = socketData(socket),
): void {
  const g = guard(socket, timeoutMs, callbacks);
  const clientNonce = randomBytes(NONCE_BYTES);
  socket.write(Buffer.concat([MAGIC, Buffer.of(VERSION), clientNonce]));
  g.reading(
    readExactly(read, SERVER_PROOF_BYTES, (proof, rest) => {
      if (!proof.subarray(0, MAGIC.length).equals(MAGIC) || proof[MAGIC.length] !== VERSION) {
        return g.fail('the peer does not speak the svc handshake');
      }
      const serverNonce = proof.subarray(MAGIC.length + 1, MAGIC.length + 1 + NONCE_BYTES);
      const serverMac = proof.subarray(MAGIC.length + 1 + NONCE_BYTES);
      if (!sameMac(serverMac, mac(key, 'svc server', clientNonce, serverNonce))) {
        return g.fail(
          'the peer does not know this cluster secret (its handshake proof is wrong): is it another cluster, or is the secret different there?',
        );
      }
      socket.write(mac(key, 'svc client', clientNonce, serverNonce));
      g.succeed(rest);
    }),
  );
}
