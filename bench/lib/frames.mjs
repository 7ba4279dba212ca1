// Length-prefixed MessagePack frames for the raw `net` baseline: the
// smallest correct framing, with writes corked for one tick.
import net from 'node:net';
import { Packr } from 'msgpackr';

export const packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });

/** Calls onMessage for each decoded frame of the stream read from `socket`. */
export function readFrames(socket, onMessage) {
  let pending = null;
  socket.on('data', (chunk) => {
    let buf = pending ? Buffer.concat([pending, chunk]) : chunk;
    pending = null;
    let off = 0;
    while (buf.length - off >= 4) {
      const size = buf.readUInt32BE(off);
      if (buf.length - off - 4 < size) break;
      onMessage(packr.unpack(buf.subarray(off + 4, off + 4 + size)));
      off += 4 + size;
    }
    if (off < buf.length) pending = buf.subarray(off);
  });
}

/** Writes one frame; frames written in the same tick leave in one writev. */
export function writeFrame(socket, value) {
  const body = packr.pack(value);
  const header = Buffer.allocUnsafe(4);
  header.writeUInt32BE(body.length);
  if (!socket.writableCorked) {
    socket.cork();
    process.nextTick(() => socket.uncork());
  }
  socket.write(header);
  socket.write(body);
}

/**
 * The raw baseline's client: one connection to 127.0.0.1:`port`, calls
 * multiplexed by id. Resolves with `greet(name)`, which resolves with the reply.
 */
export async function rawGreeter(port) {
  const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const pending = new Map();
  let nextId = 0;
  readFrames(socket, ([id, result]) => {
    const resolve = pending.get(id);
    pending.delete(id);
    resolve(result);
  });
  return (name) =>
    new Promise((resolve) => {
      const id = ++nextId;
      pending.set(id, resolve);
      writeFrame(socket, [id, { name }]);
    });
}
