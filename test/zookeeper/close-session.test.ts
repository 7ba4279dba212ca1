import { createServer, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { closeSessionOf } from './helpers.js';

/**
 * What ZooKeeper 3.8 does with one connect + close of a live session, as seen
 * on a busy machine. The real server gives these only in races (the owner's
 * client taking its session back at the same moment), so a scripted one plays
 * them in a chosen order.
 */
type Answer = 'cut off' | 'no answer' | 'closed' | 'gone' | `error ${number}`;

function connectResponse(timeoutMs: number): Buffer {
  // ConnectResponse { protocolVersion, timeOut, sessionId, passwd }, length-prefixed.
  const frame = Buffer.alloc(4 + 4 + 4 + 8 + 4 + 16);
  frame.writeInt32BE(frame.length - 4, 0);
  frame.writeInt32BE(timeoutMs, 8);
  frame.writeInt32BE(16, 20);
  return frame;
}

function closeReply(err: number): Buffer {
  // ReplyHeader { xid: 1, zxid, err }, length-prefixed.
  const frame = Buffer.alloc(4 + 16);
  frame.writeInt32BE(16, 0);
  frame.writeInt32BE(1, 4);
  frame.writeInt32BE(err, 16);
  return frame;
}

/** A server answering its nth connection with `answers[n]` (the last one over and over). */
async function scriptedZooKeeper(answers: Answer[]) {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const answer = answers[Math.min(connections++, answers.length - 1)] ?? 'no answer';
    socket.once('data', () => {
      if (answer === 'gone') return socket.end(connectResponse(0));
      const accepted = connectResponse(10_000);
      if (answer === 'cut off') return socket.end(accepted);
      if (answer === 'no answer') return socket.write(accepted);
      // The connect's answer in pieces, as TCP may deliver it.
      for (let i = 0; i < accepted.length; i += 5) socket.write(accepted.subarray(i, i + 5));
      socket.end(closeReply(answer === 'closed' ? 0 : Number(answer.slice('error '.length))));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    connections: () => connections,
    async [Symbol.asyncDispose]() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const session = Buffer.from('0102030405060708', 'hex');
const password = Buffer.alloc(16, 7);

describe('closeSessionOf', () => {
  it('tries again until ZooKeeper confirms the close when its owner took the session back or the close went unanswered', async () => {
    await using zk = await scriptedZooKeeper(['cut off', 'no answer', 'error -4', 'closed']);
    await closeSessionOf(zk.port, session, password, { timeoutMs: 10_000, attemptMs: 500 });
    expect(zk.connections()).toBe(4);
  });

  it('takes a session that ZooKeeper says is gone as closed', async () => {
    await using zk = await scriptedZooKeeper(['no answer', 'gone']);
    await closeSessionOf(zk.port, session, password, { timeoutMs: 10_000, attemptMs: 500 });
    expect(zk.connections()).toBe(2);
  });

  it('fails naming the session and what each attempt came to when ZooKeeper never closes it', async () => {
    await using zk = await scriptedZooKeeper(['cut off', 'no answer']);
    const started = Date.now();
    await expect(
      closeSessionOf(zk.port, session, password, { timeoutMs: 2000, attemptMs: 500 }),
    ).rejects.toThrow(
      /^ZooKeeper did not close session 0x0102030405060708 within 2000 ms: \d+ attempts \(cut off ×1, no answer ×\d+\)$/,
    );
    expect(Date.now() - started).toBeLessThan(4000);
  });
});
