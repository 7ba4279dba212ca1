import type { ClassDocs, MethodDocs, ParamDescription } from '@svc/core';
import type * as TS from 'typescript';

/**
 * Doc comments and parameters of the service classes in TypeScript
 * sources, read with TypeScript's parser (no type checker, no program):
 * each class's and method's doc comment as written, and each method's
 * parameters in order, with the type as written and the doc of each (a
 * `@param name` tag, or the comment on the member of the parameter type,
 * inline or an interface or type alias of the same file).
 *
 * Classes are keyed by name; a name declared in several files keeps the
 * one of the file listed first.
 */
export function extractDocs(
  ts: typeof TS,
  sources: ReadonlyArray<{ path: string; text: string }>,
): Record<string, ClassDocs> {
  const classes: Record<string, ClassDocs> = {};
  for (const { path, text } of sources) {
    const kind = /\.[cm]?tsx$/.test(path) ? ts.ScriptKind.TSX : ts.ScriptKind.TS;
    const file = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true, kind);
    const reader = new Reader(ts, file);
    for (const [name, docs] of reader.classes()) {
      if (!Object.hasOwn(classes, name)) classes[name] = docs;
    }
  }
  return classes;
}

class Reader {
  readonly #ts: typeof TS;
  readonly #file: TS.SourceFile;
  /** the object types this file names: `interface P { ... }`, `type P = { ... }` */
  readonly #types = new Map<string, TS.NodeArray<TS.TypeElement>>();

  constructor(ts: typeof TS, file: TS.SourceFile) {
    this.#ts = ts;
    this.#file = file;
    const visit = (node: TS.Node): void => {
      if (ts.isInterfaceDeclaration(node)) this.#types.set(node.name.text, node.members);
      else if (ts.isTypeAliasDeclaration(node) && ts.isTypeLiteralNode(node.type)) {
        this.#types.set(node.name.text, node.type.members);
      }
      ts.forEachChild(node, visit);
    };
    visit(file);
  }

  classes(): Array<[string, ClassDocs]> {
    const ts = this.#ts;
    const found: Array<[string, ClassDocs]> = [];
    const visit = (node: TS.Node): void => {
      if (ts.isClassDeclaration(node) && node.name) found.push([node.name.text, this.#class(node)]);
      ts.forEachChild(node, visit);
    };
    visit(this.#file);
    return found;
  }

  #class(node: TS.ClassDeclaration): ClassDocs {
    const ts = this.#ts;
    const methods: Record<string, MethodDocs> = {};
    for (const member of node.members) {
      if (!ts.isMethodDeclaration(member)) continue;
      if (!ts.isIdentifier(member.name) && !ts.isStringLiteral(member.name)) continue;
      const doc = this.#doc(member);
      methods[member.name.text] = {
        ...(doc === undefined ? {} : { doc }),
        params: this.#params(member),
      };
    }
    const doc = this.#doc(node);
    return { ...(doc === undefined ? {} : { doc }), methods };
  }

  /** The text of the doc comment closest to `node`, tags left out. */
  #doc(node: TS.Node): string | undefined {
    const ts = this.#ts;
    const docs = ts.getJSDocCommentsAndTags(node).filter((d): d is TS.JSDoc => ts.isJSDoc(d));
    const last = docs.at(-1);
    const text = last ? ts.getTextOfJSDocComment(last.comment)?.trim() : undefined;
    return text ? text : undefined;
  }

  /** `@param name text` (or `@param params.name text`) of a method, by the name's last part. */
  #paramTags(method: TS.MethodDeclaration): Map<string, string> {
    const ts = this.#ts;
    const tags = new Map<string, string>();
    for (const tag of ts.getJSDocTags(method)) {
      if (!ts.isJSDocParameterTag(tag)) continue;
      const name = ts.isIdentifier(tag.name) ? tag.name.text : tag.name.right.text;
      const text = ts
        .getTextOfJSDocComment(tag.comment)
        ?.replace(/^\s*-\s+/, '')
        .trim();
      if (text) tags.set(name, text);
    }
    return tags;
  }

  #params(method: TS.MethodDeclaration): ParamDescription[] {
    const ts = this.#ts;
    const param = method.parameters.find(
      (p) => !(ts.isIdentifier(p.name) && p.name.text === 'this'),
    );
    if (!param) return [];
    const tags = this.#paramTags(method);
    const members = this.#members(param.type);
    const describe = (name: string, optional: boolean): ParamDescription => {
      const member = members.get(name);
      const doc = tags.get(name) ?? member?.doc;
      return {
        name,
        ...(member?.type === undefined ? {} : { type: member.type }),
        ...(optional || member?.optional ? { optional: true } : {}),
        ...(doc === undefined ? {} : { doc }),
      };
    };
    if (ts.isObjectBindingPattern(param.name)) {
      const out: ParamDescription[] = [];
      for (const element of param.name.elements) {
        if (element.dotDotDotToken) continue;
        const key = element.propertyName ?? element.name;
        if (!ts.isIdentifier(key) && !ts.isStringLiteral(key)) continue;
        out.push(describe(key.text, element.initializer !== undefined));
      }
      return out;
    }
    return [...members.keys()].map((name) => describe(name, false));
  }

  /** The members of a parameter's type, when this file spells it out. */
  #members(
    type: TS.TypeNode | undefined,
  ): Map<string, { type?: string; optional: boolean; doc?: string }> {
    const ts = this.#ts;
    let elements: TS.NodeArray<TS.TypeElement> | undefined;
    if (type && ts.isTypeLiteralNode(type)) elements = type.members;
    else if (type && ts.isTypeReferenceNode(type) && ts.isIdentifier(type.typeName)) {
      elements = this.#types.get(type.typeName.text);
    }
    const out = new Map<string, { type?: string; optional: boolean; doc?: string }>();
    for (const element of elements ?? []) {
      if (!ts.isPropertySignature(element)) continue;
      if (!ts.isIdentifier(element.name) && !ts.isStringLiteral(element.name)) continue;
      const doc = this.#doc(element);
      out.set(element.name.text, {
        // As written, on one line.
        ...(element.type ? { type: element.type.getText(this.#file).replace(/\s+/g, ' ') } : {}),
        optional: element.questionToken !== undefined,
        ...(doc === undefined ? {} : { doc }),
      });
    }
    return out;
  }
}
