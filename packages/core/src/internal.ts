// @svc/core/internal: what svc's own packages (cli, node, tail) and its
// tests share with core and users do not need. No promise of stability:
// anything here may change with any release.

export { advertiseHostOf, isWildcard, resolveAdvertise, withHost } from './advertise.js';
export { Backoff, type BackoffOptions } from './backoff.js';
export { schemeOf } from './backends.js';
export { setModuleImporter, type ModuleImporter } from './config/modules.js';
export { runInContext } from './context.js';
export { colorFor, isLogLevel, levelRank, safeJson } from './log/index.js';
export { escapeControl } from './log/pretty.js';
export { LocalRegistry, type LocalRegistryOptions } from './registry/local.js';
export { localRegistryDir } from './registry/local-files.js';
export { deathOf, processStartTime, STAT_RECHECK_MS } from './registry/liveness.js';
export { localSocketPath } from './rpc/net-local.js';
export { RefusedPeers, connectTls, pskOf, tlsServerOptions } from './rpc/net-tls.js';
export { parseJsonSafe } from './serializers/json.js';
export { defaultSecretFile, loadSecret, type SecretSource } from './security/secret.js';
export { acceptHandshake, connectHandshake, handshakeKey } from './security/handshake.js';
export {
  DEFAULT_EVAL_TIMEOUT,
  MAX_EVAL_CODE,
  MAX_EVAL_TIMEOUT,
  type EvalAnswer,
} from './debug/eval.js';
export { formatResult } from './debug/format.js';
export type { InspectorAddress } from './debug/inspector.js';
export { Metrics } from './metrics.js';
export {
  LATENCY_BOUNDS_MS,
  histogramQuantile,
  isHistogramData,
  mergeHistograms,
  subtractHistograms,
} from './metrics/histogram.js';
export {
  PROMETHEUS_CONTENT_TYPE,
  escapeLabelValue,
  renderPrometheus,
  type PrometheusSource,
} from './metrics/prometheus.js';
export { MetricsServer, type MetricsEndpoints } from './metrics/server.js';
export { parseZooKeeperUrl } from './zookeeper/config.js';
export { DeadNodeReaper, type DeadNode } from './zookeeper/reaper.js';
export { ZooKeeperSession } from './zookeeper/session.js';
