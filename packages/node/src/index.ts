export { loadConfig, parseConfig } from './config.js';
export type { InstanceConfig, NodeConfig, SocketConfig } from './config.js';
export { parseCommand } from './command.js';
export type { ParsedCommand } from './command.js';
export { bindSocket } from './socket.js';
export type { BoundSocket } from './socket.js';
