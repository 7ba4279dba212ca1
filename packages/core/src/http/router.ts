interface Route<T> {
  verb: string;
  pattern: string;
  re: RegExp;
  keys: string[];
  /** Per segment, 0 for a static one and 1 for a `:name`: the order routes are tried in. */
  rank: number[];
  target: T;
}

/**
 * A route table with `:name` path parameters: `/get/:value` matches `/get/42` with `{ value: '42' }`.
 * A static segment wins over a parameter whatever the order routes were added in, so `/users/me`
 * is not shadowed by `/users/:id` (find-my-way and werkzeug match the same way).
 */
export class Router<T> {
  // Kept sorted by `rank`, leftmost segment first: trying them in this order is the
  // static-before-parametric walk of a radix router, backtracking included.
  readonly #routes: Route<T>[] = [];

  add(verb: string, pattern: string, target: T): void {
    const keys: string[] = [];
    const rank: number[] = [];
    const source = pattern
      .split('/')
      .map((seg) => {
        if (seg.startsWith(':')) {
          keys.push(seg.slice(1));
          rank.push(1);
          return '([^/]+)';
        }
        rank.push(0);
        return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      })
      .join('/');
    if (this.#routes.some((r) => r.verb === verb && r.pattern === pattern)) {
      throw new TypeError(`two handlers for ${verb} ${pattern}`);
    }
    const route = { verb, pattern, re: new RegExp(`^${source}/?$`), keys, rank, target };
    // After every route that ranks before it or equal (equal ones keep the order they were added in).
    let at = this.#routes.length;
    while (at > 0 && compareRank(rank, this.#routes[at - 1]!.rank) < 0) at--;
    this.#routes.splice(at, 0, route);
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

function compareRank(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  // Routes of different lengths never match one path; ordering them keeps the order total.
  return a.length - b.length;
}
