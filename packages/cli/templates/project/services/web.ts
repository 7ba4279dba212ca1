import { HttpError, Service, event, http, type HttpRequest } from '@svc/core';
// A type-only import: Web knows Greeting's methods and types, and runs none of its code.
import type { Greeting } from './greeting.js';

export class Web extends Service<{ Greeting: Greeting }> {
  static override readonly serviceName = 'Web';

  /** GET /greet?name=<name>: the greeting of the Greeting service. */
  @http('GET', '/greet') async greet(request: HttpRequest) {
    const name = request.query['name'];
    if (!name) throw new HttpError(400, 'query parameter "name" is required');
    this.log.info(`About to greet ${name}`);
    // The call to another service: by RPC, to whichever Greeting instance is up; typed Promise<string>.
    return await this.rpc.Greeting.greet({ name });
  }

  /** Hears about every greeting made in the cluster. */
  @event('greeted') onGreeted(body: { name: string }): void {
    this.log.info(`Somebody greeted ${body.name}`);
  }
}
