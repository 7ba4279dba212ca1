/** Keys whose values are secrets wherever they appear in a config. */
const SECRET_KEY = /pass(word|wd)?$|secret|token|credential|api[_-]?key|private[_-]?key/i;
/** The password of a URL's user info: `amqp://guest:guest@host/`. */
const URL_PASSWORD = /(\/\/[^:@/\s]*):[^@/\s]*@/g;

export const MASK = '***';

/**
 * A copy of a config value with its secrets masked, for printing: every
 * value under a key that names a secret (password, secret, token...) and
 * the password of every URL (`amqp://user:***@host/`).
 */
export function maskSecrets(value: unknown, key = ''): unknown {
  if (key !== '' && SECRET_KEY.test(key) && value !== null && value !== undefined) {
    return typeof value === 'object' ? maskSecrets(value) : MASK;
  }
  if (typeof value === 'string') return value.replace(URL_PASSWORD, `$1:${MASK}@`);
  if (Array.isArray(value)) return value.map((v) => maskSecrets(v));
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = maskSecrets(v, k);
    return out;
  }
  return value;
}
