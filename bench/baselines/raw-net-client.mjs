// Raw baseline client: one connection, calls multiplexed by id, closed loop.
import { clientConfig, closedLoop, report } from '../lib/loop.mjs';
import { rawGreeter } from '../lib/frames.mjs';

const config = clientConfig();
const greet = await rawGreeter(config.address);
// config.payload: the name's length in bytes (the payload-size curve), else 'bench'.
const name = config.payload ? 'x'.repeat(config.payload) : 'bench';
report({ windows: await closedLoop(() => greet(name), config) });
