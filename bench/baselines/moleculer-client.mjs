// Moleculer 0.14 TCP transporter client: broker.call('greeter.hello'), closed loop.
import { ServiceBroker } from 'moleculer';
import { clientConfig, closedLoop, report } from '../lib/loop.mjs';

const config = clientConfig();
const broker = new ServiceBroker({
  nodeID: 'client',
  logger: false,
  transporter: {
    type: 'TCP',
    options: {
      udpDiscovery: false,
      port: config.peerPort,
      urls: [`127.0.0.1:${config.address}/server`],
    },
  },
});
await broker.start();
await broker.waitForServices('greeter', 10_000);
const call = () => broker.call('greeter.hello', { name: 'bench' });
const windows = await closedLoop(call, config);
await broker.stop();
report({ windows });
