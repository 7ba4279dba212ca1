import { Script } from 'node:vm';

/** Whether code only lacks its end (an open bracket, string or template): the REPL then reads on. */
export function incomplete(code: string): boolean {
  for (const body of [`return (\n${code}\n);`, code]) {
    try {
      new Script(`(async function () {\n${body}\n})`);
      return false;
    } catch (err) {
      if (!(err instanceof SyntaxError)) return false;
      if (!/Unexpected end of input|Unterminated (template|string)/.test(err.message)) continue;
      if (body === code) return true;
    }
  }
  return false;
}
