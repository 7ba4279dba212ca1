import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { UsageError } from '@svc/core';
import { findTsconfig } from '@svc/node';
import type * as TS from 'typescript';

/** What one type check found. */
export interface CheckResult {
  /** the tsconfig.json checked */
  config: string;
  /** one line per error: `file:line:col: error TS2345: message` */
  errors: string[];
  /** files of the program, the project's own (not declaration files) */
  files: number;
}

/**
 * The project's own TypeScript, resolved from the folder of its
 * tsconfig.json: the compiler its editor and its build use, so that
 * `svc check` reports what they report.
 */
function projectTypeScript(config: string): typeof TS {
  const require = createRequire(join(dirname(config), 'noop.js'));
  try {
    return require('typescript') as typeof TS;
  } catch {
    throw new UsageError(
      `typescript is not installed for ${dirname(config)}: svc check uses the project's own TypeScript (npm install --save-dev typescript)`,
    );
  }
}

/**
 * Type-checks the project of `project` (a tsconfig.json, or a folder in
 * it) with the project's own TypeScript, emitting nothing. Paths in the
 * errors are relative to `cwd`. Throws a UsageError when there is no
 * tsconfig.json or no TypeScript to check with.
 */
export function typeCheck(project: string, cwd = process.cwd()): CheckResult {
  const config = findTsconfig(project);
  if (!config) {
    throw new UsageError(`no tsconfig.json in ${resolve(project)} or above it: nothing to check`);
  }
  const ts = projectTypeScript(config);
  const errors: string[] = [];
  const format = (d: TS.Diagnostic) => formatDiagnostic(ts, d, cwd);
  const parsed = ts.getParsedCommandLineOfConfigFile(
    config,
    { noEmit: true },
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => void errors.push(format(d)),
    },
  );
  if (!parsed) return { config, errors, files: 0 };
  for (const d of parsed.errors) errors.push(format(d));
  const program = ts.createProgram({
    rootNames: parsed.fileNames,
    options: { ...parsed.options, noEmit: true },
    ...(parsed.projectReferences ? { projectReferences: parsed.projectReferences } : {}),
  });
  for (const d of ts.getPreEmitDiagnostics(program)) {
    if (d.category === ts.DiagnosticCategory.Error) errors.push(format(d));
  }
  const files = program.getSourceFiles().filter((f) => !f.isDeclarationFile).length;
  return { config, errors, files };
}

/** `file:line:col: error TS2345: message`, on one line. */
function formatDiagnostic(ts: typeof TS, d: TS.Diagnostic, cwd: string): string {
  const message = ts.flattenDiagnosticMessageText(d.messageText, ' ').replace(/\s+/g, ' ').trim();
  const what = `error TS${d.code}: ${message}`;
  if (!d.file || d.start === undefined) return what;
  const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
  return `${relative(cwd, d.file.fileName)}:${line + 1}:${character + 1}: ${what}`;
}
