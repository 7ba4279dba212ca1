// What the dashboard's server sends its page: the one description both sides use. The page
// imports these types only, so this file imports nothing (no Node.js types reach the browser
// build); where a shape mirrors one of core, tail or node, the server assigns theirs to it,
// which keeps the two in step at compile time.

/** One log record, as instances write it. */
export interface LogRecordView {
  /** epoch ms */
  time: number;
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  service?: string;
  instance?: string;
  traceId?: string;
  [field: string]: unknown;
}

/** An error as it crossed the wire: stable code, type, message, data. */
export interface WireErrorView {
  code: string;
  type: string;
  message: string;
  data?: unknown;
}

/** An instance's latest figures (from `svc.get_metrics`, as `svc top` reads them). */
export interface Figures {
  /** seconds */
  uptime: number;
  /** % of one core */
  cpu: number;
  /** bytes */
  rss: number;
  /** ms */
  loopLag: number;
  callsPerSec?: number | undefined;
  errorsPerSec?: number | undefined;
  p50: number;
  p99: number;
}

export interface SubscriptionView {
  type: string;
  source?: string;
  mode: string;
  handler: string;
}

/** One instance as the services view shows it: the registry's record and its latest figures. */
export interface InstanceView {
  id: string;
  services: string[];
  host: string;
  pid: number;
  startedAt: number;
  endpoints: Record<string, string>;
  subscriptions: SubscriptionView[];
  /** absent until the instance has answered `svc.get_metrics` */
  figures?: Figures;
  /** why it did not answer the last reading */
  unreachable?: string;
}

/** An entrypoint over every instance that reports it. */
export interface EntrypointRowView {
  name: string;
  kind: string;
  instances: number;
  callsPerSec?: number | undefined;
  errorsPerSec?: number | undefined;
  calls: number;
  errors: number;
  p50: number;
  p99: number;
}

/** One process of a `svc node`. */
export interface ProcessStatusView {
  name: string;
  index: number;
  pid: number | null;
  state: string;
  restarts: number;
  uptimeMs: number | null;
  /** why a held process is held: how it ended, its last stderr line, what to do; only when held */
  reason?: string;
}

export interface NodeView {
  /** the `.svc.yml` whose supervisor is asked */
  config: string;
  running: boolean;
  /** why it could not be asked (none runs for that file, say) */
  error?: string;
  status?: {
    config: string;
    pid: number;
    startedAt: number;
    sockets: Array<{ name: string; host: string; port: number }>;
    processes: ProcessStatusView[];
  };
}

/** What every page gets on connecting and after every reading. */
export interface ClusterSnapshot {
  cluster: string;
  time: number;
  /** every service, by name, with its instances' ids */
  services: Array<{ name: string; instances: string[] }>;
  instances: InstanceView[];
  entrypoints: EntrypointRowView[];
  node?: NodeView;
}

/** One point of the metrics charts: per entrypoint [calls/s, errors/s, p50, p99], per instance [cpu %, rss]. */
export interface MetricsPoint {
  time: number;
  entrypoints: Record<string, [number, number, number, number]>;
  instances: Record<string, [number, number]>;
}

/**
 * One step of a trace: an HTTP request, an RPC, an event handler or a timer
 * run in one instance, read from the instances' log records. A worker's
 * records carry its span's W3C id (`spanId`, the id its OTLP export has)
 * and its outcome record the id of the span that caused it
 * (`parentSpanId`): where that span is among the trace's steps the parent
 * is taken as reported; where it is not (with OTLP export on, a caller's
 * client span and an emitter's producer span go only to OTLP), it is guessed from timing and
 * `inferred` is true.
 */
export interface Span {
  id: string;
  /** the span this one ran inside or was caused by; absent for a root */
  parentId?: string;
  traceId: string;
  service: string;
  instance?: string;
  /** `http`, `rpc`, `event`, `timer` */
  kind: string;
  /** `Greeting.greet`, or `GET /greet 200` for an HTTP request */
  name: string;
  /** epoch ms */
  start: number;
  /** ms */
  duration: number;
  status: 'ok' | 'error';
  error?: string;
  /** the W3C span id its records carry (the worker's; an HTTP request's access record shares its handler's) */
  spanId?: string;
  /** the span's own log records (those with its span id, else those of its instance made while it ran), time order */
  logs: LogRecordView[];
  /** whether `parentId` was guessed from timing rather than reported */
  inferred: boolean;
}

export interface Trace {
  traceId: string;
  /** epoch ms of the first span or record */
  start: number;
  /** ms from `start` to the end of the last span or record */
  duration: number;
  /** depth-first: every span follows its parent */
  spans: Span[];
  /** records of the trace that belong to no span */
  logs: LogRecordView[];
  services: string[];
}

/** `GET /api/traces/ID`: the trace, and the instances that could not be asked for it. */
export interface TraceAnswer extends Trace {
  unreachable: Array<{ service: string; instance: string; error: string }>;
  /** steps and records of a big trace that the answer leaves out (`svc tail --trace` prints them) */
  omitted?: { spans: number; records: number };
}

/** What the list of recent traces shows of one trace. */
export interface TraceSummary {
  traceId: string;
  /** the first span's service and name (the edge: an HTTP request, a call from a tool) */
  root: string;
  start: number;
  /** ms; grows while later records arrive */
  duration: number;
  services: string[];
  spans: number;
  errors: number;
  records: number;
}

export interface ParamDescriptionView {
  name: string;
  type?: string;
  optional?: boolean;
  doc?: string;
}

export interface MethodDescriptionView {
  name: string;
  params: ParamDescriptionView[];
  doc?: string;
}

/** A service's interface, from `svc.inspect`. */
export interface ServiceDescriptionView {
  service: string;
  rpc: MethodDescriptionView[];
  builtins: MethodDescriptionView[];
  events: Array<{ type: string; source?: string; mode: string; handler: string; doc?: string }>;
  timers: Array<{ handler: string; interval: number; eager: boolean }>;
  http: Array<{ method: string; path: string; handler: string; doc?: string }>;
}

/** An instance's `svc.status`, or why it did not answer. */
export interface InstanceStatusView {
  state?: string;
  services?: Array<{ service: string; activeWorkers: number; queuedWorkers: number }>;
  error?: string;
}

/** `GET /api/services/NAME`. */
export interface ServiceDetail {
  description: ServiceDescriptionView;
  /** by instance id */
  statuses: Record<string, InstanceStatusView>;
}

/** The answer to a call or emit made from the explorer: its result or error, how long it took, its trace. */
export type CallOutcome = {
  traceId: string;
  durationMs: number;
} & ({ ok: true; result: unknown } | { ok: false; error: WireErrorView });

/**
 * `POST /api/debug` `{ instance, close? }`: the instance's Node.js
 * inspector, opened (its URLs) or closed, and the command of the shell
 * inside it.
 */
export type DebugAnswer = {
  instance: string;
  /** `svc shell --instance ID`, to copy into a terminal */
  shell: string;
} & (
  { url: string; devtools: string; pid: number; opened: boolean } | { closed: boolean; pid: number }
);
