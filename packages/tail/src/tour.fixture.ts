// In-process services for this package's tests: the lymph tour, each instance publishing its log stream.
import {
  RPC,
  HttpError,
  Instance,
  Service,
  event,
  http,
  rpc,
  type ClusterAuth,
  type HttpRequest,
} from '@svc/core';
import { MemoryHub, testConfig } from '@svc/core/testing';
import { createLogStream } from './stream.js';

export class Greeting extends Service {
  static override readonly serviceName = 'Greeting';
  declare [RPC]: 'greet' | 'fail';

  /** Returns a greeting for a provided name */
  @rpc() greet({ name }: { name: string }) {
    this.log.info(`Saying hi to ${name}`);
    void this.emit('greeted', { name });
    return `Hi, ${name}!`;
  }

  /** Always fails */
  @rpc() fail() {
    throw new Error('boom');
  }
}

export class Listen extends Service {
  static override readonly serviceName = 'Listen';

  @event('greeted') onGreeted(body: { name: string }) {
    this.log.info(`Somebody greeted ${body.name}`);
  }
}

export class Web extends Service<{ Greeting: Greeting }> {
  static override readonly serviceName = 'Web';

  @http('GET', '/greet') async greet(request: HttpRequest) {
    const name = request.query['name'];
    if (!name) throw new HttpError(400, 'query parameter "name" is required');
    this.log.info(`About to greet ${name}`);
    return await this.rpc.Greeting.greet({ name });
  }
}

export interface Tour extends AsyncDisposable {
  hub: MemoryHub;
  instances: Instance[];
  /** the secret of the tour's cluster: what a reader of its log streams shows */
  auth: ClusterAuth;
  /** starts one more instance of a service on the hub */
  add(cls: typeof Greeting | typeof Listen | typeof Web): Promise<Instance>;
  webUrl(): string;
}

/** The tour on one memory hub, every instance with a log stream (and no terminal output). */
export async function startTour(): Promise<Tour> {
  const hub = new MemoryHub();
  const instances: Instance[] = [];
  const add = async (cls: typeof Greeting | typeof Listen | typeof Web) => {
    const logs = createLogStream();
    const instance = new Instance({
      config: testConfig([cls]),
      backends: hub.connect(),
      classes: { [cls.serviceName]: cls },
      sinks: [logs],
      extensions: [logs],
    });
    instances.push(instance);
    await instance.start();
    return instance;
  };
  try {
    await add(Greeting);
    await add(Listen);
    await add(Web);
  } catch (err) {
    await Promise.allSettled(instances.map((i) => i.kill()));
    throw err;
  }
  return {
    hub,
    instances,
    auth: instances[0]!.auth,
    add,
    webUrl: () => instances.find((i) => i.httpUrl)!.httpUrl!,
    async [Symbol.asyncDispose]() {
      await Promise.allSettled(instances.map((i) => i.stop({ graceMs: 0 })));
    },
  };
}
