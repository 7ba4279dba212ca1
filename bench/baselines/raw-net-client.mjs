// Raw baseline client: one connection, calls multiplexed by id, closed loop.
import net from 'node:net';
import { clientConfig, closedLoop, report } from '../lib/loop.mjs';
import { readFrames, writeFrame } from '../lib/frames.mjs';

const config = clientConfig();
const socket = net.connect({ host: '127.0.0.1', port: config.address, noDelay: true });
await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
const pending = new Map();
let nextId = 0;
readFrames(socket, ([id, result]) => {
  const resolve = pending.get(id);
  pending.delete(id);
  resolve(result);
});
const call = () =>
  new Promise((resolve) => {
    const id = ++nextId;
    pending.set(id, resolve);
    writeFrame(socket, [id, { name: 'bench' }]);
  });
report({ windows: await closedLoop(call, config) });
