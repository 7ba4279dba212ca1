// Raw baseline client: one connection, calls multiplexed by id, closed loop.
import { clientConfig, closedLoop, report } from '../lib/loop.mjs';
import { rawGreeter } from '../lib/frames.mjs';

const config = clientConfig();
const greet = await rawGreeter(config.address);
report({ windows: await closedLoop(() => greet('bench'), config) });
