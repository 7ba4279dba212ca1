export { LogStream, createLogStream, type LogStreamOptions } from './stream.js';
export { LineDecoder, toRecord, MAX_LINE_BYTES } from './records.js';
export { makeFilter, type FilterOptions, type RecordFilter } from './filter.js';
export { renderRecord, clean, TRACE_CHARS, type RenderOptions } from './render.js';
export { LogFollower, parseTcpEndpoint, type FollowOptions, type LogSource } from './follow.js';
export { traceHistory, recordKey, type History, type HistoryOptions } from './history.js';
export { runTail, type TailOptions } from './tail.js';
export {
  MetricsCollector,
  buildSample,
  type Sample,
  type InstanceRow,
  type EntrypointRow,
} from './top/collect.js';
export {
  INSTANCE_COLUMNS,
  ENTRYPOINT_COLUMNS,
  renderTable,
  renderOnce,
  sortRows,
  formatBytes,
  formatUptime,
  type Column,
  type SortState,
  type ViewName,
} from './top/table.js';
export { sampleOnce } from './top/once.js';
export { runTop, type TopOptions } from './top/screen.js';
export { runShell, evaluate, formatResult, shellScope, type ShellOptions } from './shell/shell.js';
export { completeRpc, clusterCompletion, type CompletionSource } from './shell/complete.js';
export {
  findInstance,
  evalInInstance,
  instanceInspector,
  isElsewhere,
  runRemoteShell,
  type InstanceTarget,
  type RemoteEvalOptions,
  type RemoteShellOptions,
} from './shell/remote.js';
