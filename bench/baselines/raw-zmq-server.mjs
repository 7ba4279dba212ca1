// Raw baseline: a zeromq.js ROUTER answering [id, { name }] with [id, "Hi, <name>!"] (msgpackr).
import '../lib/child.mjs';
import process from 'node:process';
import { Router } from 'zeromq';
import { packr } from '../lib/frames.mjs';

const router = new Router();
await router.bind('tcp://127.0.0.1:*');
process.stdout.write(`${JSON.stringify({ address: router.lastEndpoint })}\n`);
for await (const [peer, msg] of router) {
  const [id, params] = packr.unpack(msg);
  await router.send([peer, packr.pack([id, `Hi, ${params.name}!`])]);
}
