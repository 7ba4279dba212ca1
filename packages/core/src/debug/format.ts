import { inspect } from 'node:util';

/** A value as `svc shell -c` prints it: JSON when it is plain data, else as Node inspects it. */
export function formatResult(value: unknown, color = false): string | undefined {
  if (value === undefined) return undefined;
  if (isPlainData(value, 0)) return JSON.stringify(value, null, 2);
  return inspect(value, { depth: 6, colors: color });
}

function isPlainData(value: unknown, depth: number): boolean {
  if (depth > 50) return false;
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.every((v) => isPlainData(v, depth + 1));
  if (typeof value === 'object') {
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return false;
    return Object.values(value).every((v) => isPlainData(v, depth + 1));
  }
  return false;
}
