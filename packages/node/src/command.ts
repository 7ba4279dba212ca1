/** How a `command:` string from `.svc.yml` is run. */
export type ParsedCommand =
  { kind: 'argv'; file: string; args: string[] } | { kind: 'shell'; script: string };

// Characters that only a shell gives meaning to; a command using any of them
// unquoted runs through `sh -c` so that it behaves as typed in a terminal.
const SHELL_SPECIAL = new Set([...'|&;<>()$`*?[]~#{}!']);

/**
 * Splits a shell-like command line into a program and its arguments
 * (whitespace separates words; '...' is literal; "..." and backslash escape).
 * A command that needs a shell (pipes, variables, globs, `VAR=x cmd`) comes
 * back as `{ kind: 'shell' }`, to be run with `sh -c`. Throws a plain Error
 * with a short reason on unterminated quotes or an empty command.
 */
export function parseCommand(line: string): ParsedCommand {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let needsShell = false;
  let i = 0;
  while (i < line.length) {
    const c = line[i] as string;
    if (c === ' ' || c === '\t' || c === '\n') {
      if (c === '\n') needsShell = true;
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i++;
      continue;
    }
    inWord = true;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error('unterminated single quote');
      word += line.slice(i + 1, end);
      i = end + 1;
    } else if (c === '"') {
      i++;
      let closed = false;
      while (i < line.length) {
        const d = line[i] as string;
        if (d === '"') {
          closed = true;
          i++;
          break;
        }
        if (d === '$' || d === '`') needsShell = true;
        if (d === '\\' && i + 1 < line.length && '"\\$`'.includes(line[i + 1] as string)) {
          word += line[i + 1];
          i += 2;
          continue;
        }
        word += d;
        i++;
      }
      if (!closed) throw new Error('unterminated double quote');
    } else if (c === '\\') {
      if (i + 1 >= line.length) throw new Error('trailing backslash');
      word += line[i + 1];
      i += 2;
    } else {
      if (SHELL_SPECIAL.has(c)) needsShell = true;
      if (c === '=' && words.length === 0 && /^[A-Za-z_][A-Za-z0-9_]*$/.test(word)) {
        needsShell = true;
      }
      word += c;
      i++;
    }
  }
  if (inWord) words.push(word);
  if (words.length === 0) throw new Error('empty command');
  if (needsShell) return { kind: 'shell', script: line };
  const [file, ...args] = words as [string, ...string[]];
  return { kind: 'argv', file, args };
}
