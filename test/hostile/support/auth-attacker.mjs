// What another local user can try against a running cluster: run (as that
// user) with one JSON argument naming the targets, prints one JSON object
// of what each attempt got. Every attempt sends a well-formed request, so
// that a refusal is the listener's doing, not a parse error.
//
//   node auth-attacker.mjs '{"rpc":"tcp://…","logs":"tcp://…","events":"tcp://…","control":"/…sock"}'
//
// With "keys" (the cluster's CURVE keys) the zmq attempt is made as a
// member would: the test's control that the same event is otherwise taken.
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { connect } from 'node:net';

// The packages come from packages/core, or from the folder named by a second
// argument (a copy every user can read: see auth-user.ts).
const require = createRequire(
  process.argv[3] ?? new URL('../../../packages/core/package.json', import.meta.url),
);
const { Packr } = require('msgpackr');
const zmq = require('zeromq');

const targets = JSON.parse(process.argv[2]);
const packr = new Packr({ useRecords: false, mapsAsObjects: true });
const headers = { traceId: 'attacker-trace', callIdStack: [], data: {} };

function frame(message) {
  const body = packr.pack(message);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(body.length);
  return Buffer.concat([header, body]);
}

function parse(endpoint) {
  const m = /^tcp:\/\/([^:]+):(\d+)$/.exec(endpoint);
  return { host: m[1], port: Number(m[2]) };
}

/** Connects, sends `first` (and `then` once `thenAfter` bytes came back), reports what came back. */
function exchange(options, first, then, thenAfter = 0, waitMs = 2500) {
  return new Promise((resolve) => {
    const socket = connect(options);
    const chunks = [];
    let received = 0;
    let sentThen = false;
    const finish = (how, error) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({
        how,
        error,
        received,
        text: Buffer.concat(chunks).toString('latin1').slice(0, 300),
      });
    };
    const timer = setTimeout(() => finish('still open'), waitMs);
    socket.on('connect', () => socket.write(first));
    socket.on('data', (d) => {
      chunks.push(d);
      received += d.length;
      if (then && !sentThen && received >= thenAfter) {
        sentThen = true;
        socket.write(then);
      }
    });
    socket.on('error', (err) => finish('error', err.code ?? err.message));
    socket.on('close', () => finish('closed'));
  });
}

const out = {};
if (targets.rpc) {
  const at = parse(targets.rpc);
  const greet = frame([0, 1, 'Greeting', 'greet', { name: 'Mallory' }, headers, 5000]);
  const recent = frame([0, 2, 'Greeting', 'svc.recent_logs', {}, headers, 5000]);
  out.rpcGreet = await exchange(at, greet);
  out.rpcRecentLogs = await exchange(at, recent);
  // Speaks the handshake, but can only guess the proof.
  const hello = Buffer.concat([Buffer.from('SVCA'), Buffer.of(1), randomBytes(32)]);
  out.rpcGuessedProof = await exchange(at, hello, Buffer.concat([randomBytes(32), greet]), 69);
}
if (targets.logs) {
  out.logStream = await exchange(
    parse(targets.logs),
    Buffer.from('{"op":"recent_logs","id":1}\n{"op":"metrics","id":2}\n'),
  );
}
if (targets.events) {
  const keys = targets.keys;
  const dealer = new zmq.Dealer({
    linger: 0,
    ...(keys
      ? {
          curveServerKey: keys.serverPublic,
          curvePublicKey: keys.clientPublic,
          curveSecretKey: keys.clientSecret,
        }
      : {}),
  });
  dealer.connect(targets.events);
  const name = targets.name ?? 'INJECTED';
  const delivery = {
    event: {
      id: randomBytes(8).toString('hex'),
      type: 'greeted',
      source: 'Greeting',
      body: { name },
      headers,
    },
    targets: [{ service: 'Listen', handler: 'onGreeted' }],
    delay: 0,
  };
  const sent = await Promise.race([
    // With no peer that completed the CURVE handshake there is nowhere to send: ZeroMQ says EAGAIN.
    dealer.send(packr.pack({ i: 1, q: delivery })).then(
      () => 'sent',
      (err) => `not sent (${err.code ?? err.message})`,
    ),
    new Promise((r) => setTimeout(() => r('not sent'), 2000)),
  ]);
  const reply = await Promise.race([
    dealer.receive().then(([m]) => JSON.stringify(packr.unpack(m))),
    new Promise((r) => setTimeout(() => r(undefined), 2500)),
  ]);
  dealer.close();
  out.zmqEvent = { sent, reply };
}
if (targets.rpcLocal) {
  out.rpcLocal = await exchange(targets.rpcLocal, Buffer.from('SVCA'));
}
if (targets.control) {
  out.control = await exchange(targets.control, Buffer.from('{"cmd":"status"}\n'));
}
process.stdout.write(`${JSON.stringify(out)}\n`);
process.exit(0);
