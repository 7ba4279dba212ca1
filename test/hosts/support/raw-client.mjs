// A raw `net` client with no secret, run on another "host": connects to
// HOST:PORT, sends one plaintext request frame (Greeting.greet), and prints
// as JSON what came back within 3 s and whether the server closed on it.
import { connect } from 'node:net';

const [host, port, name] = process.argv.slice(2);
const str = (s) => Buffer.concat([Buffer.from([0xa0 | s.length]), Buffer.from(s)]);
// [REQUEST=0, id=1, 'Greeting', 'greet', {name}, {traceId, callIdStack: [], data: {}}, 5000] in MessagePack
const body = Buffer.concat([
  Buffer.from([0x97, 0x00, 0x01]),
  str('Greeting'),
  str('greet'),
  Buffer.from([0x81]),
  str('name'),
  str(name),
  Buffer.from([0x83]),
  str('traceId'),
  str('0123456789abcdef'),
  str('callIdStack'),
  Buffer.from([0x90]),
  str('data'),
  Buffer.from([0x80]),
  Buffer.from([0xcd, 0x13, 0x88]),
]);
const frame = Buffer.alloc(4 + body.length);
frame.writeUInt32BE(body.length, 0);
body.copy(frame, 4);

const received = [];
let closed = false;
const socket = connect({ host, port: Number(port) });
socket.on('data', (d) => received.push(d));
socket.on('error', () => {});
socket.on('close', () => {
  closed = true;
  done();
});
socket.on('connect', () => socket.write(frame));
const timer = setTimeout(done, 3000);
function done() {
  clearTimeout(timer);
  const bytes = Buffer.concat(received);
  process.stdout.write(
    `${JSON.stringify({ closed, bytes: bytes.toString('hex'), text: bytes.toString('latin1') })}\n`,
  );
  process.exit(0);
}
