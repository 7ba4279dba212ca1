import { HttpError, Service, http, type HttpRequest } from '@svc/core';
// A type-only import: Web gets Greeting's types, none of its code.
import type { Greeting } from './greeting.js';

export class Web extends Service<{ Greeting: Greeting }> {
  static override readonly serviceName = 'Web';

  /** handles /greet?name=<name> */
  @http('GET', '/greet') async greet(request: HttpRequest) {
    const name = request.query['name'];
    if (!name) throw new HttpError(400, 'query parameter "name" is required');
    this.log.info(`About to greet ${name}`);
    return await this.rpc.Greeting.greet({ name });
  }
}
