import { isScalar, parseDocument, visit, type Document } from 'yaml';
import { ConfigError } from '../errors.js';

const VAR = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;
const WHOLE = /^\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}$/;
const NULL = /^(?:~|null|Null|NULL)$/;

/**
 * A plain (unquoted) YAML scalar that is wholly one `${VAR}` or
 * `${VAR:-default}`. Once substituted, its text is read again as a YAML
 * scalar, as Nameko reads it: `size: ${N:-3}` is the number 3 and
 * `flag: ${F:-true}` the boolean true, where a quoted `"${N:-3}"` stays text.
 */
class WholeSubstitution {
  constructor(readonly text: string) {}

  /** A mapping key is never substituted: it keeps its text. */
  toString(): string {
    return this.text;
  }
}

/** Marks the plain scalars of `doc` (values, not keys) that are wholly one substitution. */
export function markWholeSubstitutions(doc: Document): void {
  visit(doc, {
    Scalar(key, node) {
      if (key === 'key' || node.type !== 'PLAIN') return;
      if (typeof node.value === 'string' && WHOLE.test(node.value)) {
        node.value = new WholeSubstitution(node.value);
      }
    },
  });
}

/**
 * Replaces `${VAR}` and `${VAR:-default}` in every string of a parsed YAML
 * document. Substitution happens on parsed values, never on the text, so
 * an environment value can not change the document's structure: a scalar
 * marked by `markWholeSubstitutions` becomes a number, a boolean or null when
 * its substituted text reads as one, and stays text otherwise (a mapping or a
 * list never comes out of the environment).
 */
export function substituteEnv(
  value: unknown,
  env: NodeJS.ProcessEnv,
  where: { file: string; path: string } = { file: '<config>', path: '' },
): unknown {
  if (typeof value === 'string') return substituteText(value, env, where);
  if (value instanceof WholeSubstitution) {
    return asYamlScalar(substituteText(value.text, env, where));
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

function substituteText(
  text: string,
  env: NodeJS.ProcessEnv,
  where: { file: string; path: string },
): string {
  return text.replace(VAR, (_m, name: string, fallback: string | undefined) => {
    const v = env[name];
    if (v !== undefined && v !== '') return v;
    if (fallback !== undefined) return fallback;
    throw new ConfigError(
      `${where.file}: ${where.path || '(top level)'}: environment variable ${name} is not set ` +
        `(write \${${name}:-default} to give a default)`,
    );
  });
}

/**
 * `text` as the number, boolean or null it spells in YAML (1.2 core schema),
 * or `text` itself: anything else (a string, a mapping, a list, a comment, bad
 * YAML) and integers too large to hold exactly stay as they were written.
 */
function asYamlScalar(text: string): unknown {
  const doc = parseDocument(text);
  if (doc.errors.length > 0 || !isScalar(doc.contents)) return text;
  const v = doc.contents.value;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isInteger(v) && !Number.isSafeInteger(v) ? text : v;
  if (v === null && NULL.test(text.trim())) return null;
  return text;
}
