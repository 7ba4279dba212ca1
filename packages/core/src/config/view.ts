import { ConfigError } from '../errors.js';
import { loadExport } from './modules.js';

/**
 * What services and providers see of the config: the service's own
 * section (`interfaces.<Name>`) first, the whole document as a fallback,
 * and lymph's `get_instance`: objects built from `class:` plus options.
 */
export class ConfigView {
  readonly file: string;
  readonly dir: string;
  readonly section: Readonly<Record<string, unknown>>;
  readonly root: Readonly<Record<string, unknown>>;
  readonly #sectionPath: string;

  constructor(init: {
    file: string;
    dir: string;
    section: Record<string, unknown>;
    root: Record<string, unknown>;
    sectionPath: string;
  }) {
    this.file = init.file;
    this.dir = init.dir;
    this.section = init.section;
    this.root = init.root;
    this.#sectionPath = init.sectionPath;
  }

  /** A value by dotted path, looked up in the service's section, then in the whole document. */
  get<T = unknown>(path: string, fallback?: T): T {
    const found = lookup(this.section, path) ?? lookup(this.root, path);
    return (found === undefined ? fallback : found) as T;
  }

  /**
   * Builds the object configured at `key`: `{ class: 'module#Export', ...options }`
   * becomes `new Export(options)`. Modules resolve relative to the config file.
   */
  async getInstance<T = unknown>(key: string): Promise<T> {
    const inSection = lookup(this.section, key) !== undefined;
    const spec = this.get<unknown>(key);
    const where = `${this.file}: ${inSection ? `${this.#sectionPath}.${key}` : key}`;
    if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
      throw new ConfigError(`${where}: expected a mapping with "class: module#Export"`);
    }
    const { class: cls, ...options } = spec as Record<string, unknown>;
    if (typeof cls !== 'string' || !cls.includes('#')) {
      throw new ConfigError(
        `${where}.class: expected a "module#Export" reference, got ${JSON.stringify(cls)}`,
      );
    }
    const Ctor = await loadExport(cls, this.dir, `${where}.class`);
    if (typeof Ctor !== 'function') throw new ConfigError(`${where}.class: ${cls} is not a class`);
    return new (Ctor as new (options: Record<string, unknown>) => T)(options);
  }
}

function lookup(obj: Readonly<Record<string, unknown>>, path: string): unknown {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (typeof cur !== 'object' || cur === null || !Object.hasOwn(cur, part)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}
