// Raw baseline: a node:net server answering [id, { name }] with [id, "Hi, <name>!"].
import '../lib/child.mjs';
import net from 'node:net';
import process from 'node:process';
import { readFrames, writeFrame } from '../lib/frames.mjs';

const server = net.createServer({ noDelay: true }, (socket) => {
  socket.on('error', () => socket.destroy());
  readFrames(socket, ([id, params]) => writeFrame(socket, [id, `Hi, ${params.name}!`]));
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ address: server.address().port })}\n`);
});
