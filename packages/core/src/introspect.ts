import { readFileSync } from 'node:fs';

/**
 * Parameter names of a method taking one destructured object,
 * `greet({ name, punctuation = '!' })` → ['name', 'punctuation'], read
 * from its source text. Used for inspect and for mapping Nameko's
 * positional args when no schema is declared.
 */
export function destructuredParams(fn: (...args: never[]) => unknown): string[] {
  const src = Function.prototype.toString.call(fn);
  const open = src.indexOf('(');
  if (open < 0) return [];
  let i = open + 1;
  while (i < src.length && /\s/.test(src[i]!)) i++;
  if (src[i] !== '{') return [];
  let depth = 0;
  let part = '';
  const parts: string[] = [];
  for (i = i + 1; i < src.length; i++) {
    const ch = src[i]!;
    if (ch === '{' || ch === '[' || ch === '(') depth++;
    else if (ch === ')' || ch === ']') depth--;
    else if (ch === '}') {
      if (depth === 0) break;
      depth--;
    }
    if (ch === ',' && depth === 0) {
      parts.push(part);
      part = '';
    } else part += ch;
  }
  parts.push(part);
  return parts
    .map((p) => /^\s*(?:\.\.\.)?([A-Za-z_$][\w$]*)/.exec(p)?.[1])
    .filter((n): n is string => Boolean(n));
}

const DOC_BEFORE_METHOD =
  /\/\*\*([\s\S]*?)\*\/\s*((?:@[\w.]+(?:\((?:[^()]|\([^()]*\))*\))?\s*)*)(?:public\s+|async\s+)*([A-Za-z_$][\w$]*)\s*\(/g;

/** Doc comments of a file's methods, by method name: `/** Returns a greeting *\/ @rpc() greet(...)`. */
export function methodDocs(file: string): Map<string, string> {
  const docs = new Map<string, string>();
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return docs;
  }
  for (const m of text.matchAll(DOC_BEFORE_METHOD)) {
    const doc = m[1]!
      .split('\n')
      .map((l) => l.replace(/^\s*\*?\s?/, '').trimEnd())
      .filter((l) => !l.startsWith('@'))
      .join('\n')
      .trim();
    if (doc && !docs.has(m[3]!)) docs.set(m[3]!, doc);
  }
  return docs;
}
