import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fstatSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { ConfigError } from '../errors.js';
import { localRegistryDir } from '../registry/local-files.js';

/** Shortest secret accepted from config or the environment, in characters. */
export const MIN_SECRET_CHARS = 16;
/** Largest secret file read. */
const MAX_SECRET_FILE_BYTES = 4096;

/** Where a cluster's secret comes from (config's `security:` section, else the environment). */
export interface SecretSource {
  cluster: string;
  /** the secret itself (`security.secret`; `SVC_SECRET`) */
  secret?: string;
  /** a file holding it (`security.secret_file`; `SVC_SECRET_FILE`) */
  secretFile?: string;
}

/**
 * The file that holds a cluster's secret on this machine when neither
 * config nor the environment gives one: beside the cluster's local
 * registry directory (`<base>/svc-<uid>/<cluster>.secret`), so it lives in
 * the same per-user 0700 folder and every process of the user finds it.
 */
export function defaultSecretFile(cluster: string, env: NodeJS.ProcessEnv = process.env): string {
  const dir = localRegistryDir(cluster, env);
  return join(dirname(dir), `${cluster}.secret`);
}

/**
 * The cluster's secret, as key bytes: from `source.secret`, else
 * `source.secretFile`, else `SVC_SECRET`, else `SVC_SECRET_FILE`, else
 * the default file, which is created (32 random bytes, hex, mode 0600)
 * when missing. A file that other users could read is refused: a secret
 * they can read proves nothing.
 */
export function loadSecret(source: SecretSource, env: NodeJS.ProcessEnv = process.env): Buffer {
  const literal = source.secret ?? env['SVC_SECRET'];
  if (source.secret === undefined && source.secretFile !== undefined) {
    return readSecretFile(source.secretFile, false);
  }
  if (literal !== undefined && literal !== '') return fromText(literal, 'the cluster secret');
  const file = env['SVC_SECRET_FILE'];
  if (file) return readSecretFile(file, false);
  return readOrCreateDefault(defaultSecretFile(source.cluster, env));
}

function fromText(text: string, what: string): Buffer {
  const trimmed = text.trim();
  if (trimmed.length < MIN_SECRET_CHARS) {
    throw new ConfigError(
      `${what} is too short: use at least ${MIN_SECRET_CHARS} characters (e.g. \`openssl rand -hex 32\`)`,
    );
  }
  return Buffer.from(trimmed, 'utf8');
}

/** Reads a secret file, refusing one that others can read (or, `own`, that another user owns). */
function readSecretFile(file: string, own: boolean): Buffer {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw new ConfigError(`cannot read the cluster secret ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new ConfigError(`the cluster secret ${file} is not a file`);
    if ((st.mode & 0o077) !== 0) {
      throw new ConfigError(
        `the cluster secret ${file} can be read by other users (mode ${(st.mode & 0o777).toString(8)}): run \`chmod 600 ${file}\``,
      );
    }
    const uid = process.getuid?.();
    if (own && uid !== undefined && st.uid !== uid) {
      throw new ConfigError(`the cluster secret ${file} belongs to another user: remove it`);
    }
    if (st.size > MAX_SECRET_FILE_BYTES) {
      throw new ConfigError(`the cluster secret ${file} is over ${MAX_SECRET_FILE_BYTES} bytes`);
    }
    return fromText(readFileSync(fd, 'utf8'), `the cluster secret in ${file}`);
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads the default secret file, creating it first when missing. Made as a
 * temp file then hard-linked into place, so that two processes starting at
 * once agree on one secret and nobody reads a half-written file.
 */
function readOrCreateDefault(file: string): Buffer {
  const dir = dirname(file);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  const uid = process.getuid?.();
  if (!st.isDirectory() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o077) !== 0) {
    throw new ConfigError(
      `${dir} is not a private directory of this user: remove it, or set SVC_LOCAL_REGISTRY_DIR`,
    );
  }
  try {
    return readSecretFile(file, true);
  } catch (err) {
    if ((err as { cause?: NodeJS.ErrnoException }).cause?.code !== 'ENOENT') throw err;
  }
  const temp = join(dir, `.tmp-secret-${randomBytes(6).toString('hex')}`);
  writeFileSync(temp, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(temp, file);
  } catch (err) {
    // Another process made it first: use theirs.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    unlinkSync(temp);
  }
  return readSecretFile(file, true);
}
