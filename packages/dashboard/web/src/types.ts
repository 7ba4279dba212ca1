// The shapes the server sends (see ../../src/cluster.ts, traces.ts, explorer.ts).

export interface Figures {
  uptime: number;
  cpu: number;
  rss: number;
  loopLag: number;
  callsPerSec?: number;
  errorsPerSec?: number;
  p50: number;
  p99: number;
}

export interface Subscription {
  type: string;
  source?: string;
  mode: string;
  handler: string;
}

export interface InstanceView {
  id: string;
  services: string[];
  host: string;
  pid: number;
  startedAt: number;
  endpoints: Record<string, string>;
  subscriptions: Subscription[];
  figures?: Figures;
  unreachable?: string;
}

export interface EntrypointRow {
  name: string;
  kind: string;
  instances: number;
  callsPerSec?: number;
  errorsPerSec?: number;
  calls: number;
  errors: number;
  p50: number;
  p99: number;
}

export interface ProcessStatus {
  name: string;
  index: number;
  pid: number | null;
  state: string;
  restarts: number;
  uptimeMs: number | null;
}

export interface NodeView {
  config: string;
  running: boolean;
  error?: string;
  status?: {
    config: string;
    pid: number;
    startedAt: number;
    sockets: { name: string; host: string; port: number }[];
    processes: ProcessStatus[];
  };
}

export interface ClusterSnapshot {
  cluster: string;
  time: number;
  services: Array<{ name: string; instances: string[] }>;
  instances: InstanceView[];
  entrypoints: EntrypointRow[];
  node?: NodeView;
}

export interface MetricsPoint {
  time: number;
  entrypoints: Record<string, [number, number, number, number]>;
  instances: Record<string, [number, number]>;
}

export interface TraceSummary {
  traceId: string;
  root: string;
  start: number;
  duration: number;
  services: string[];
  spans: number;
  errors: number;
  records: number;
}

export interface LogRecord {
  time: number;
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  service?: string;
  instance?: string;
  traceId?: string;
  [field: string]: unknown;
}

export interface Span {
  id: string;
  parentId?: string;
  traceId: string;
  service: string;
  instance?: string;
  kind: string;
  name: string;
  start: number;
  duration: number;
  status: 'ok' | 'error';
  error?: string;
  logs: LogRecord[];
  inferred: boolean;
}

export interface Trace {
  traceId: string;
  start: number;
  duration: number;
  spans: Span[];
  logs: LogRecord[];
  services: string[];
  unreachable: Array<{ service: string; instance: string; error: string }>;
}

export interface ParamDescription {
  name: string;
  type?: string;
  optional?: boolean;
  doc?: string;
}

export interface MethodDescription {
  name: string;
  params: ParamDescription[];
  doc?: string;
}

export interface ServiceDescription {
  service: string;
  rpc: MethodDescription[];
  builtins: MethodDescription[];
  events: Array<{ type: string; source?: string; mode: string; handler: string; doc?: string }>;
  timers: Array<{ handler: string; interval: number; eager: boolean }>;
  http: Array<{ method: string; path: string; handler: string; doc?: string }>;
}

export interface ServiceDetail {
  description: ServiceDescription;
  statuses: Record<
    string,
    {
      state?: string;
      services?: Array<{ activeWorkers: number; queuedWorkers: number }>;
      error?: string;
    }
  >;
}

export interface WireError {
  code: string;
  type: string;
  message: string;
  data?: unknown;
}

export type CallOutcome = { traceId: string; durationMs: number } & (
  { ok: true; result: unknown } | { ok: false; error: WireError }
);
