/** A route table with `:name` path parameters: `/get/:value` matches `/get/42` with `{ value: '42' }`. */
export class Router<T> {
  readonly #routes: Array<{
    verb: string;
    pattern: string;
    re: RegExp;
    keys: string[];
    target: T;
  }> = [];

  add(verb: string, pattern: string, target: T): void {
    const keys: string[] = [];
    const source = pattern
      .split('/')
      .map((seg) => {
        if (seg.startsWith(':')) {
          keys.push(seg.slice(1));
          return '([^/]+)';
        }
        return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      })
      .join('/');
    if (this.#routes.some((r) => r.verb === verb && r.pattern === pattern)) {
      throw new TypeError(`two handlers for ${verb} ${pattern}`);
    }
    this.#routes.push({ verb, pattern, re: new RegExp(`^${source}/?$`), keys, target });
  }

  /** The route for a request, or which methods the path allows (for 405), or nothing (404). */
  match(
    verb: string,
    path: string,
  ): { target: T; params: Record<string, string> } | { allowed: string[] } | undefined {
    // Made only for a path some other verb serves: a plain match allocates nothing but its params.
    let allowed: Set<string> | undefined;
    for (const r of this.#routes) {
      const m = r.re.exec(path);
      if (!m) continue;
      if (r.verb === verb || (verb === 'HEAD' && r.verb === 'GET')) {
        const params: Record<string, string> = Object.create(null) as Record<string, string>;
        for (let i = 0; i < r.keys.length; i++) {
          const value = m[i + 1]!;
          try {
            params[r.keys[i]!] = decodeURIComponent(value);
          } catch {
            params[r.keys[i]!] = value;
          }
        }
        return { target: r.target, params };
      }
      (allowed ??= new Set()).add(r.verb);
    }
    return allowed ? { allowed: [...allowed] } : undefined;
  }

  get size(): number {
    return this.#routes.length;
  }
}
