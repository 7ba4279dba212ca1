// Raw baseline: a plain node:http server whose every request makes one RPC
// through the raw net client (to raw-net-server) and returns its result as JSON.
import '../lib/child.mjs';
import http from 'node:http';
import net from 'node:net';
import process from 'node:process';
import { readFrames, writeFrame } from '../lib/frames.mjs';

const rpcPort = Number(process.argv[2]);
const socket = net.connect({ host: '127.0.0.1', port: rpcPort, noDelay: true });
await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
const pending = new Map();
let nextId = 0;
readFrames(socket, ([id, result]) => {
  const resolve = pending.get(id);
  pending.delete(id);
  resolve(result);
});
const greet = (name) =>
  new Promise((resolve) => {
    const id = ++nextId;
    pending.set(id, resolve);
    writeFrame(socket, [id, { name }]);
  });

const server = http.createServer(async (req, res) => {
  const result = await greet('bench');
  const body = JSON.stringify(result);
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(
    `${JSON.stringify({ address: `http://127.0.0.1:${server.address().port}/greet` })}\n`,
  );
});
