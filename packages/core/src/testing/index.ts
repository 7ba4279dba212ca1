export { MemoryHub } from './hub.js';
