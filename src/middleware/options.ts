/**
 * Options shared by the framework adapters.
 */

/** Options of `tenancy()` in every adapter. */
export interface TenancyOptions {
  /**
   * When no resolver finds a tenant, let the request through without a tenant scope instead
   * of answering 401 `TENANT_NOT_RESOLVED` (central routes that work with or without a
   * tenant; `tryGetTenant()` tells which). Invalid or conflicting tenant information is still
   * refused. Default false.
   */
  optional?: boolean;
  /**
   * Paths that skip tenancy entirely (central routes: health checks, sign-up, webhooks).
   * A string matches that exact path or, when it ends with `/*`, every path under it; a
   * RegExp is tested against the path; a function decides. Default: none.
   * @example exclude: ['/health', '/auth/*']
   */
  exclude?: ReadonlyArray<string | RegExp> | ((path: string) => boolean);
}

/** Compiles `exclude` to one predicate (or `undefined` when nothing is excluded). */
export function compileExclude(exclude: TenancyOptions['exclude']): ((path: string) => boolean) | undefined {
  if (exclude === undefined) return undefined;
  if (typeof exclude === 'function') return exclude;
  if (!Array.isArray(exclude)) throw new TypeError('tenancy: exclude must be an array of strings and RegExps, or a function');
  const exact = new Set<string>();
  const prefixes: string[] = [];
  const patterns: RegExp[] = [];
  for (const entry of exclude) {
    if (entry instanceof RegExp) patterns.push(entry);
    else if (typeof entry === 'string' && entry.startsWith('/')) {
      if (entry.endsWith('/*')) prefixes.push(entry.slice(0, -1));
      else exact.add(entry);
    } else throw new TypeError('tenancy: each exclude entry must be a path starting with "/" or a RegExp');
  }
  if (exact.size + prefixes.length + patterns.length === 0) return undefined;
  return (path) => {
    if (exact.has(path)) return true;
    for (const prefix of prefixes) if (path.startsWith(prefix) || path === prefix.slice(0, -1)) return true;
    for (const pattern of patterns) {
      pattern.lastIndex = 0;
      if (pattern.test(path)) return true;
    }
    return false;
  };
}

/** Validates adapter options; throws a `TypeError` naming the option. */
export function resolveTenancyOptions(options: TenancyOptions | undefined): { optional: boolean; excluded: ((path: string) => boolean) | undefined } {
  if (options === undefined) return { optional: false, excluded: undefined };
  if (options === null || typeof options !== 'object') throw new TypeError('tenancy: options must be an object');
  if (options.optional !== undefined && typeof options.optional !== 'boolean') throw new TypeError('tenancy: optional must be a boolean');
  return { optional: options.optional ?? false, excluded: compileExclude(options.exclude) };
}

/** Options of the route-level `quota()` middleware. */
export interface QuotaMiddlewareOptions {
  /** Table the `maxRecordsPerObject` quota is about. */
  object?: string;
  /** Units each matching request adds. Default 1. */
  add?: number;
  /** HTTP methods the quota applies to. Default `['POST']`. */
  methods?: readonly string[];
}

/** Validates `quota()` middleware options; throws a `TypeError` naming the option. */
export function resolveQuotaMiddlewareOptions(name: string, options: QuotaMiddlewareOptions | undefined): {
  methods: ReadonlySet<string>;
  check: { object?: string; add: number };
} {
  const o = options ?? {};
  if (typeof name !== 'string') throw new TypeError('quota: the quota name must be a string');
  const methods = o.methods ?? ['POST'];
  if (!Array.isArray(methods) || methods.length === 0 || methods.some((m) => typeof m !== 'string' || m.length === 0)) {
    throw new TypeError('quota: methods must be a non-empty array of HTTP methods');
  }
  const add = o.add ?? 1;
  if (!Number.isSafeInteger(add) || add < 0) throw new TypeError('quota: add must be an integer >= 0');
  if (name === 'maxRecordsPerObject' && (typeof o.object !== 'string' || o.object.length === 0)) {
    throw new TypeError('quota: maxRecordsPerObject needs the object (table) it counts');
  }
  return {
    methods: new Set(methods.map((m) => m.toUpperCase())),
    check: o.object === undefined ? { add } : { object: o.object, add },
  };
}
