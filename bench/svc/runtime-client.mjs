// svc client through the runtime's ClusterClient: `client.rpc.Greeter.hello({ name })`.
import { ClusterClient } from '@svc/core';
import { clientConfig, closedLoop, report } from '../lib/loop.mjs';
import { benchBackends } from './runtime.mjs';

const config = clientConfig();
const backends = await benchBackends(
  [{ service: 'Greeter', endpoints: { rpc: config.address } }],
  'bench',
);
const client = new ClusterClient(backends, { name: 'bench', timeout: 10_000 });
const greeter = client.rpc.Greeter;
const call = () => greeter.hello({ name: 'bench' });
const check = (result) => {
  if (result !== 'Hi, bench!') throw new Error(`unexpected answer ${JSON.stringify(result)}`);
};
const windows = await closedLoop(call, config, check);
report({ windows });
