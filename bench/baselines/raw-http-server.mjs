// Raw baseline: a plain node:http server whose every request makes one RPC
// through the raw net client (to raw-net-server) and returns its result as JSON.
import '../lib/child.mjs';
import http from 'node:http';
import process from 'node:process';
import { rawGreeter } from '../lib/frames.mjs';

const greet = await rawGreeter(Number(process.argv[2]));

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
