import { RPC, Service, rpc, t } from '@svc/core';

export class Greeting extends Service {
  static override readonly serviceName = 'Greeting';
  /** what other services may call: a type only, read by the compiler */
  declare [RPC]: 'greet';

  /**
   * Returns a greeting for a provided name
   * @param name - who to greet
   */
  @rpc({ params: { name: t.string() } }) greet({ name }: { name: string }) {
    this.log.info(`Saying hi to ${name}`);
    void this.emit('greeted', { name });
    return `Hi, ${name}!`;
  }
}
