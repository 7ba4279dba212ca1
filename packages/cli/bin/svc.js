#!/usr/bin/env node
import { main } from '../dist/main.js';

await main(process.argv);
// Long-running commands resolve only when they are done; whatever a library
// left open (sockets, timers) must not keep a finished command alive.
process.exit(process.exitCode ?? 0);
