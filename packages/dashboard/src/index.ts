export { startDashboard, DEFAULT_PORT, type Dashboard, type DashboardOptions } from './server.js';
export {
  ClusterView,
  type ClusterSnapshot,
  type InstanceView,
  type MetricsPoint,
  type NodeView,
} from './cluster.js';
export { buildTrace, TraceIndex, type Span, type Trace, type TraceSummary } from './traces.js';
export { checkRequest, hasToken, newToken, type Refusal } from './guard.js';
export type { CallOutcome, LogRecordView, ServiceDetail, TraceAnswer } from './wire.js';
