#!/usr/bin/env node
import { main } from '../dist/main.js';

await main(process.argv);
// What a pipe did not take yet (`svc discover --json | jq` past 64 KiB) is
// queued in the stream; process.exit() would drop it.
for (const stream of [process.stdout, process.stderr]) {
  if (stream.writableLength > 0 && !stream.destroyed) {
    await new Promise((resolve) => {
      stream.once('drain', resolve);
      stream.once('error', resolve);
    });
  }
}
// Long-running commands resolve only when they are done; whatever a library
// left open (sockets, timers) must not keep a finished command alive.
process.exit(process.exitCode ?? 0);
