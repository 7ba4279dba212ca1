import { Service, rpc } from '@svc/core';

export class Greeting extends Service {
  static override serviceName = 'Greeting';

  /** Returns a greeting for a name, and emits a `greeted` event. */
  @rpc() async greet({ name }: { name: string }): Promise<string> {
    this.log.info(`Saying hi to ${name}`);
    await this.emit('greeted', { name });
    return `Hi, ${name}!`;
  }
}
