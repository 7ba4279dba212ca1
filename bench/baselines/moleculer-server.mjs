// Moleculer 0.14, TCP transporter (JSON), the peer to beat: greeter.hello.
import process from 'node:process';
import { ServiceBroker } from 'moleculer';

const [port, peerPort] = process.argv.slice(2).map(Number);
const broker = new ServiceBroker({
  nodeID: 'server',
  logger: false,
  transporter: {
    type: 'TCP',
    options: { udpDiscovery: false, port, urls: [`127.0.0.1:${peerPort}/client`] },
  },
});
broker.createService({
  name: 'greeter',
  actions: {
    hello(ctx) {
      return `Hi, ${ctx.params.name}!`;
    },
  },
});
await broker.start();
process.stdout.write(`${JSON.stringify({ address: port })}\n`);
