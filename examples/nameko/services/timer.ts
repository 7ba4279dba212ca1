import { Service, timer } from '@svc/core';

/** Nameko's example 4: something to do every second, forever. */
export class Ticker extends Service {
  static override readonly serviceName = 'ticker';

  /** Runs at start, then every second; counts its runs in the `ticks` metric */
  @timer(1000, { eager: true })
  ping() {
    this.metrics.increment('ticks');
    this.log.info('tick');
  }
}
