import { RPC, Service, rpc, t } from '@svc/core';

/** Nameko's example 2: the helloworld service. */
export class HelloWorld extends Service {
  static override readonly serviceName = 'helloworld';
  declare [RPC]: 'hello';

  /** Says hello to a name */
  @rpc({ params: { name: t.string('who to greet') } })
  hello({ name }: { name: string }) {
    return `Hello, ${name}!`;
  }
}

/**
 * A second service that calls helloworld over RPC, as Nameko's RpcProxy
 * does. In its own file it would import HelloWorld's type only:
 * `import type { HelloWorld } from './helloworld.js'`.
 */
export class Greeter extends Service<{ helloworld: HelloWorld }> {
  static override readonly serviceName = 'greeter';
  declare [RPC]: 'greet' | 'greet_all';

  /** Greets one name through helloworld */
  @rpc({ params: { name: t.string('who to greet') } })
  async greet({ name }: { name: string }) {
    const greeting = await this.rpc.helloworld.hello({ name });
    this.log.info(`helloworld answered: ${greeting}`);
    return greeting;
  }

  /** Greets every name at once: all calls start first (Nameko's call_async), then their replies are collected */
  @rpc({ params: { names: t.array(t.string(), 'everybody to greet') } })
  async greet_all({ names }: { names: string[] }) {
    const pending = names.map((name) => this.rpc.helloworld.hello.defer({ name }));
    return await Promise.all(pending.map((call) => call.result()));
  }
}
