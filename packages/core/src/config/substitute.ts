import { ConfigError } from '../errors.js';

const VAR = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replaces `${VAR}` and `${VAR:-default}` in every string of a parsed YAML
 * document. Substitution happens on parsed values, never on the text, so
 * an environment value can not change the document's structure.
 */
export function substituteEnv(
  value: unknown,
  env: NodeJS.ProcessEnv,
  where: { file: string; path: string } = { file: '<config>', path: '' },
): unknown {
  if (typeof value === 'string') {
    return value.replace(VAR, (_m, name: string, fallback: string | undefined) => {
      const v = env[name];
      if (v !== undefined && v !== '') return v;
      if (fallback !== undefined) return fallback;
      throw new ConfigError(
        `${where.file}: ${where.path || '(top level)'}: environment variable ${name} is not set ` +
          `(write \${${name}:-default} to give a default)`,
      );
    });
  }
  if (Array.isArray(value)) {
    return value.map((v, i) =>
      substituteEnv(v, env, { file: where.file, path: `${where.path}[${i}]` }),
    );
  }
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (k === '__proto__') continue;
      out[k] = substituteEnv(v, env, {
        file: where.file,
        path: where.path ? `${where.path}.${k}` : k,
      });
    }
    return out;
  }
  return value;
}
