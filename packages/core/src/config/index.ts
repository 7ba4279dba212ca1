export { ConfigReader, readYaml } from './load.js';
export { substituteEnv } from './substitute.js';
export { ConfigView } from './view.js';
export { loadExport, setModuleImporter, type ModuleImporter } from './modules.js';
export {
  DEFAULT_BACKENDS,
  loadInstanceConfig,
  parseInstanceConfig,
  type DebugConfig,
  type InstanceConfig,
  type InterfaceConfig,
} from './instance.js';
