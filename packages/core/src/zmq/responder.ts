import type { Router } from 'zeromq';
import {
  BackendError,
  ConfigError,
  ContainerStoppedError,
  DecodeError,
  MalformedRequestError,
  toWireError,
} from '../errors.js';
import { addressProblem } from '../listen.js';
import type { Logger } from '../log/logger.js';
import type { Serializer } from '../serializers/serializer.js';
import { isObject } from './wire-check.js';
import {
  HEARTBEAT,
  SendQueue,
  ZMQ_MAX_MESSAGE,
  isId,
  type BadFrames,
  type ZmqModule,
} from './link.js';

export interface ResponderOptions {
  serializer: Serializer;
  log: Logger;
  bad: BadFrames;
  /** what the socket serves, for log messages (`rpc`, `events`) */
  label: string;
}

/**
 * What a request handler returns to the responder. Throwing a DecodeError
 * or MalformedRequestError marks the request as a bad frame (counted and
 * logged) and tells the caller why.
 */
export type RequestHandler = (body: unknown, source: string) => Promise<unknown>;

/**
 * The serving side: a ROUTER bound on `tcp://<host>:*` that hands each
 * well-formed request to the handler and sends back its reply. Bad frames
 * are counted, logged once per source and dropped.
 */
export class ZmqResponder {
  readonly endpoint: string;
  readonly #router: Router;
  readonly #queue: SendQueue;
  readonly #options: ResponderOptions;
  readonly #inflight = new Set<Promise<void>>();
  #handler: RequestHandler;
  #closed = false;

  private constructor(
    router: Router,
    endpoint: string,
    handler: RequestHandler,
    options: ResponderOptions,
  ) {
    this.#router = router;
    this.endpoint = endpoint;
    this.#handler = handler;
    this.#options = options;
    this.#queue = new SendQueue(router);
    void this.#receive();
  }

  static async bind(
    zmq: ZmqModule,
    host: string,
    handler: RequestHandler,
    options: ResponderOptions,
  ): Promise<ZmqResponder> {
    const ipv6 = host.includes(':');
    const router = new zmq.Router({
      linger: 1000,
      maxMessageSize: ZMQ_MAX_MESSAGE,
      ipv6,
      ...HEARTBEAT,
    });
    try {
      await router.bind(`tcp://${ipv6 ? `[${host}]` : host}:*`);
    } catch (err) {
      router.close();
      const where = `cannot bind the ${options.label} socket on ${host}`;
      // An address this host does not have (a bind host from the config) is the config's fault.
      const problem = addressProblem(err);
      if (problem) throw new ConfigError(`${where}: ${problem}`, { cause: err });
      throw new BackendError(`${where}: ${(err as Error).message}`, { cause: err });
    }
    return new ZmqResponder(router, advertised(router.lastEndpoint ?? ''), handler, options);
  }

  setHandler(handler: RequestHandler): void {
    this.#handler = handler;
  }

  /** Stops reading, lets in-flight handlers reply (up to `drainMs`), then closes. */
  async close(drainMs = 1000): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const drained = Promise.allSettled([...this.#inflight]);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([drained, new Promise((r) => (timer = setTimeout(r, drainMs)))]);
    clearTimeout(timer);
    for (let i = 0; i < 50 && !this.#queue.idle; i++) await new Promise((r) => setTimeout(r, 10));
    this.#router.close();
  }

  async #receive(): Promise<void> {
    try {
      for await (const frames of this.#router) this.#onRequest(frames);
    } catch (err) {
      if (!this.#closed) {
        this.#options.log.error(`the ${this.#options.label} socket stopped receiving`, {
          endpoint: this.endpoint,
          error: (err as Error).message,
        });
      }
    }
  }

  #onRequest(frames: Buffer[]): void {
    const { bad, serializer, label } = this.#options;
    const [routingId, ...rest] = frames;
    if (!routingId) return;
    const source = `${label} peer ${routingId.toString('hex')} on ${this.endpoint}`;
    if (rest.length !== 1) return bad.add(source, `${rest.length} frames, expected 1`);
    let msg: unknown;
    try {
      msg = serializer.decode(rest[0]!);
    } catch (err) {
      return bad.add(source, (err as Error).message);
    }
    if (!isObject(msg) || !isId(msg['i']) || !('q' in msg)) {
      return bad.add(source, 'not a request envelope');
    }
    const id = msg['i'];
    // While stopping, refuse rather than ignore: the caller retries on another instance.
    const handled = this.#closed
      ? Promise.reject(new ContainerStoppedError('this instance is stopping'))
      : this.#handler(msg['q'], source);
    const run = handled.then(
      (body) => ({ i: id, r: body }),
      (err: unknown) => {
        if (err instanceof DecodeError || err instanceof MalformedRequestError) {
          bad.add(source, err.message);
        }
        return { i: id, e: toWireError(err) };
      },
    );
    const task = run
      .then((reply) => {
        let bytes: Buffer;
        try {
          bytes = serializer.encode(reply);
        } catch (err) {
          bytes = serializer.encode({ i: id, e: toWireError(err) });
        }
        return this.#queue.send([routingId, bytes]);
      })
      .catch((err: unknown) => {
        this.#options.log.debug('could not send a reply', { source, err });
      });
    this.#inflight.add(task);
    void task.finally(() => this.#inflight.delete(task));
  }
}

/** The endpoint peers should connect to: a wildcard bind is advertised as the loopback address. */
function advertised(lastEndpoint: string): string {
  return lastEndpoint.replace(/^tcp:\/\/(0\.0\.0\.0|\[::\]|\*):/, 'tcp://127.0.0.1:');
}
