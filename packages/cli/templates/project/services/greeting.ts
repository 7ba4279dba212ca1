import { RPC, Service, rpc } from '@svc/core';

export class Greeting extends Service {
  static override readonly serviceName = 'Greeting';
  /** What other services may call (a type only, read by the compiler). */
  declare [RPC]: 'greet';

  /** Returns a greeting for a name, and emits a `greeted` event. */
  @rpc() async greet({ name }: { name: string }): Promise<string> {
    this.log.info(`Saying hi to ${name}`);
    await this.emit('greeted', { name });
    return `Hi, ${name}!`;
  }
}
