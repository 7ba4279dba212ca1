import { RPC, Service, rpc, t } from '@svc/core';

export class Greeting extends Service {
  static override readonly serviceName = 'Greeting';
  /** What other services may call (a type only, read by the compiler). */
  declare [RPC]: 'greet';

  // The schema checks every call's parameters before the method runs: a caller the compiler
  // does not check (`svc request`, a Nameko service) may send anything, and then gets a
  // ValidationError that says what is wrong. It must agree with the signature, or this
  // does not compile.
  /** Returns a greeting for a name, and emits a `greeted` event. */
  @rpc({ params: { name: t.string('who to greet') } })
  async greet({ name }: { name: string }): Promise<string> {
    this.log.info(`Saying hi to ${name}`);
    await this.emit('greeted', { name });
    return `Hi, ${name}!`;
  }
}
