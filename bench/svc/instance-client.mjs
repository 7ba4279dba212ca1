// svc client as users write it: `connect()` (local registry, its defaults),
// `client.rpc.Greeter.hello({ name })`, closed loop.
import { connect } from '@svc/core';
import { clientConfig, closedLoop, report } from '../lib/loop.mjs';

const config = clientConfig();
const client = await connect({ name: 'bench', timeout: 10_000, sinks: [] });
const greeter = client.rpc.Greeter;
const call = () => greeter.hello({ name: 'bench' });
const check = (result) => {
  if (result !== 'Hi, bench!') throw new Error(`unexpected answer ${JSON.stringify(result)}`);
};
const windows = await closedLoop(call, config, check);
await client.close();
report({ windows });
