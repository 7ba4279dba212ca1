// Raw baseline client: a zeromq.js DEALER, calls multiplexed by id. zeromq.js
// allows one pending send per socket, so sends queue behind each other.
import { Dealer } from 'zeromq';
import { clientConfig, closedLoop, report } from '../lib/loop.mjs';
import { packr } from '../lib/frames.mjs';

const config = clientConfig();
// config.payload: the name's length in bytes (the payload-size curve), else 'bench'.
const name = config.payload ? 'x'.repeat(config.payload) : 'bench';
const dealer = new Dealer();
dealer.connect(config.address);
const pending = new Map();
let nextId = 0;
const queue = [];
let sending = false;
async function pump() {
  sending = true;
  while (queue.length > 0) await dealer.send(queue.shift());
  sending = false;
}
void (async () => {
  for await (const [msg] of dealer) {
    const [id, result] = packr.unpack(msg);
    const resolve = pending.get(id);
    pending.delete(id);
    resolve?.(result);
  }
})();
const call = () =>
  new Promise((resolve) => {
    const id = ++nextId;
    pending.set(id, resolve);
    queue.push(packr.pack([id, { name }]));
    if (!sending) void pump();
  });
const windows = await closedLoop(call, config);
dealer.close();
report({ windows });
