import { Service, rpc, t } from '@svc/core';

export class Greeting extends Service {
  static override serviceName = 'Greeting';

  /** Returns a greeting for a provided name */
  @rpc({ params: { name: t.string() } }) greet({ name }: { name: string }) {
    this.log.info(`Saying hi to ${name}`);
    void this.emit('greeted', { name });
    return `Hi, ${name}!`;
  }
}
