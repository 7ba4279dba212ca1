import { Service, event } from '@svc/core';

export class Listen extends Service {
  static override readonly serviceName = 'Listen';

  /** Prints the name of everybody who was greeted */
  @event('greeted') onGreeted(body: { name: string }) {
    this.log.info(`Somebody greeted ${body.name}`);
  }
}
