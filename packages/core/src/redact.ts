/** What a redacted value reads as (Nameko's REDACTED). */
export const REDACTED = '********';

/**
 * A copy of `value` with the values at `paths` replaced by `********`.
 * A path is dotted (`card.number`); a numeric part picks a list's item
 * (`cards.0.number`), any other part applied to a list applies to each of
 * its items (`cards.number`). Paths that lead nowhere change nothing; the
 * original is never modified.
 */
export function redact(value: unknown, paths: readonly string[]): unknown {
  let out = value;
  for (const path of paths) out = redactPath(out, path.split('.'), 0);
  return out;
}

function redactPath(value: unknown, parts: readonly string[], at: number): unknown {
  if (typeof value !== 'object' || value === null) return value;
  const part = parts[at]!;
  const last = at === parts.length - 1;
  if (Array.isArray(value)) {
    const list = value as unknown[];
    if (/^\d+$/.test(part)) {
      const i = Number(part);
      if (i >= list.length) return list;
      const copy = [...list];
      copy[i] = last ? REDACTED : redactPath(list[i], parts, at + 1);
      return copy;
    }
    return list.map((item) => redactPath(item, parts, at));
  }
  if (!Object.hasOwn(value, part)) return value;
  const record = value as Record<string, unknown>;
  return { ...record, [part]: last ? REDACTED : redactPath(record[part], parts, at + 1) };
}

/**
 * Whether the value at `path` (its parts; list indexes as numbers or
 * digits) holds a sensitive value: it is at or under one of `paths`, or
 * above one (a value there that is not an object may be the secret itself).
 * Paths match as {@link redact} walks them.
 */
export function touchesSensitive(
  path: readonly (string | number)[],
  paths: readonly string[],
): boolean {
  const parts = path.map(String);
  return paths.some((p) => touches(parts, 0, p.split('.'), 0));
}

function touches(path: readonly string[], i: number, sens: readonly string[], j: number): boolean {
  if (j === sens.length || i === path.length) return true;
  if (path[i] === sens[j]) return touches(path, i + 1, sens, j + 1);
  // An index the sensitive path does not name: it applies to every item.
  if (/^\d+$/.test(path[i]!) && !/^\d+$/.test(sens[j]!)) return touches(path, i + 1, sens, j);
  return false;
}
