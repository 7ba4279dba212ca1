// Loads each native module svc depends on and uses it once, under the Node.js
// that runs this script: zeromq and msgpackr-extract (N-API prebuilds, loaded
// into the process) and esbuild (a binary of its own). msgpackr falls back to
// plain JavaScript when msgpackr-extract does not load, so no test would
// notice; this does. Prints one line; exits 1 naming what failed.
import { createRequire } from 'node:module';

const core = createRequire(new URL('../packages/core/package.json', import.meta.url));
const cli = createRequire(new URL('../packages/cli/package.json', import.meta.url));
const failed = [];

async function check(name, use) {
  try {
    await use();
  } catch (err) {
    failed.push(`${name}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

await check('zeromq', async () => {
  const { Router } = core('zeromq');
  const socket = new Router();
  await socket.bind('tcp://127.0.0.1:*');
  socket.close();
});
await check('msgpackr-extract', () => {
  const extract = createRequire(core.resolve('msgpackr'))('msgpackr-extract');
  if (typeof extract.extractStrings !== 'function') throw new Error('no extractStrings');
});
await check('esbuild', async () => {
  const { code } = await cli('esbuild').transform('const a: number = 1', { loader: 'ts' });
  if (!code.includes('const a = 1')) throw new Error(`unexpected output ${code}`);
});

if (failed.length > 0) {
  console.error(`native modules on Node ${process.version}: ${failed.join('; ')}`);
  process.exit(1);
}
console.log(`native modules on Node ${process.version}: zeromq, msgpackr-extract, esbuild load`);
