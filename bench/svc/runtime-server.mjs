// svc: an Instance serving one service (argv[2]: Greeter or Web) through the
// full runtime. argv[3]: JSON list of peer records `{ service, endpoints }`.
import '../lib/child.mjs';
import process from 'node:process';
import { Instance } from '@svc/core';
import { Greeter, Web, benchBackends, instanceConfig } from './runtime.mjs';

const name = process.argv[2];
const peers = JSON.parse(process.argv[3] ?? '[]');
const classes = { Greeter, Web };
// Workers per service: enough for 100 calls in flight (the default, 10, would queue them).
const instance = new Instance({
  config: instanceConfig(name, 200),
  backends: await benchBackends(peers, name),
  classes: { [name]: classes[name] },
  sinks: [],
});
await instance.start();
const address = name === 'Web' ? `${instance.httpUrl}/greet` : instance.endpoints.rpc;
process.stdout.write(`${JSON.stringify({ address, endpoints: instance.endpoints })}\n`);
