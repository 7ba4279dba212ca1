export * from './errors.js';
export * from './serializers/index.js';
export * from './registry/index.js';
export * from './transports/index.js';
export * from './events/index.js';
export * from './backends.js';
export type { CallHeaders } from './context-headers.js';
export type { LogLevel, LogRecord, Logger } from './log/logger.js';
export { LOG_LEVELS, isLogLevel, levelRank } from './log/logger.js';
