import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

// What users may import is what package.json's `exports` map lists. Every
// name each entry exports, values and types, is kept in public-api.txt: a
// change to the public surface fails here until that file is updated on
// purpose (`npx vitest run packages/core/src/public-api.test.ts -u`), so
// that it shows in review.

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  name: string;
  exports: Record<string, { source: string; types: string; default: string }>;
};
const entries = Object.entries(pkg.exports).map(([subpath, conditions]) => ({
  name: subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`,
  file: join(root, conditions.source),
}));

/** Each entry's exports as the compiler sees them: `Name` for a value, `Name (type)` for a type only. */
function declaredExports(): Map<string, string[]> {
  const program = ts.createProgram(
    entries.map((e) => e.file),
    {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2023,
      customConditions: ['source'],
      // Exports are found without any type checking: no lib, no @types.
      noLib: true,
      types: [],
      skipLibCheck: true,
      noEmit: true,
    },
  );
  const checker = program.getTypeChecker();
  const out = new Map<string, string[]>();
  for (const entry of entries) {
    const source = program.getSourceFile(entry.file);
    const module = source && checker.getSymbolAtLocation(source);
    if (!module) throw new Error(`${entry.file} is not a module`);
    const names = checker.getExportsOfModule(module).map((symbol) => {
      const target =
        symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
      const value = target.flags & ts.SymbolFlags.Value && !typeOnly(checker, symbol);
      return value ? symbol.name : `${symbol.name} (type)`;
    });
    out.set(entry.name, names.sort());
  }
  return out;
}

/** Whether an export reaches its declaration through an `export type` or `import type` on the way. */
function typeOnly(checker: ts.TypeChecker, symbol: ts.Symbol): boolean {
  for (let s: ts.Symbol | undefined = symbol; s && s.flags & ts.SymbolFlags.Alias;) {
    for (const d of s.declarations ?? []) {
      if ((ts.isExportSpecifier(d) || ts.isImportSpecifier(d)) && d.isTypeOnly) return true;
      if (ts.isExportSpecifier(d) && d.parent.parent.isTypeOnly) return true;
      if (ts.isImportSpecifier(d) && d.parent.parent.isTypeOnly) return true;
    }
    const next = checker.getImmediateAliasedSymbol(s);
    s = next === s ? undefined : next;
  }
  return false;
}

describe("@svc/core's public surface", () => {
  const declared = declaredExports();

  it('is the list in public-api.txt, entry by entry', async () => {
    const text = [...declared]
      .map(([entry, names]) => [entry, ...names.map((n) => `  ${n}`)].join('\n'))
      .join('\n\n');
    await expect(`${text}\n`).toMatchFileSnapshot('../public-api.txt');
  });

  it('exports at run time exactly the values the declarations name', async () => {
    for (const entry of entries) {
      const mod = (await import(pathToFileURL(entry.file).href)) as Record<string, unknown>;
      const values = declared.get(entry.name)!.filter((n) => !n.endsWith(' (type)'));
      expect(Object.keys(mod).sort(), entry.name).toEqual(values);
    }
  });

  it('is an explicit list in every entry file, never `export *`', () => {
    for (const entry of entries) {
      expect(readFileSync(entry.file, 'utf8'), entry.name).not.toMatch(/^export \*/m);
    }
  });
});
