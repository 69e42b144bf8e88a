/**
 * `fromPath()`: the tenant named by the first path segment after a prefix (`/t/acme/...`).
 */
import { TenantryError } from '../../errors/index.js';
import type { RequestView, TenantIdentity, TenantResolver } from '../types.js';
import { MAX_TENANT_ID_LENGTH, kindOption, parseTenantId } from './validate.js';

/** Options of {@link fromPath}. */
export interface PathResolverOptions {
  /**
   * Path prefix before the tenant segment: starts with `/`, no trailing slash, no `%`, `?`,
   * `#` or empty segments. Matched case-sensitively. Default `/t`.
   */
  prefix?: string;
  /** Whether the segment holds the tenant's `id` or its `slug`. Default `'id'`. */
  kind?: 'id' | 'slug';
}

const PREFIX_PATTERN = /^(?:\/[A-Za-z0-9._~!$&'()*+,;=:@-]+)+$/;
const CH_SLASH = 47;

/**
 * Resolves the tenant from the path segment after `prefix`: `<prefix>/<tenant>` or
 * `<prefix>/<tenant>/...`. Paths outside the prefix resolve nothing (`/tx/acme` is not under
 * `/t`, and neither is `/t` alone). The segment is not percent-decoded: an empty segment
 * (`/t/`, `/t//x`) or one that is not a valid id (`%2f`, `..`, upper case) throws
 * `TenantryError('INVALID_TENANT_ID')`. Synchronous.
 *
 * The tenant segment stays in the path your routes see; mount them under `/t/:tenant`.
 *
 * @param options - `prefix` (default `/t`), `kind` (default `'id'`)
 * @example
 * createTenantry({ resolvers: [fromPath({ prefix: '/orgs', kind: 'slug' })] })  // /orgs/acme/notes
 */
export function fromPath(options: PathResolverOptions = {}): TenantResolver {
  if (typeof options !== 'object' || options === null) throw new TypeError('fromPath: options must be an object');
  const prefix = options.prefix === undefined ? '/t' : options.prefix;
  if (typeof prefix !== 'string' || !PREFIX_PATTERN.test(prefix)) {
    throw new TypeError(
      "fromPath: prefix must start with '/', have no trailing slash and contain only unencoded path characters (e.g. '/t')",
    );
  }
  const kind = kindOption(options.kind, 'fromPath: kind');
  const start = prefix.length + 1;
  const source = `path ${prefix}`;
  return {
    name: 'path',
    resolve(request: RequestView): TenantIdentity | undefined {
      const path = request.path;
      if (path.length < start || path.charCodeAt(start - 1) !== CH_SLASH || !path.startsWith(prefix)) return undefined;
      let end = path.indexOf('/', start);
      if (end === -1) end = path.length;
      if (end - start > MAX_TENANT_ID_LENGTH) {
        throw new TenantryError('INVALID_TENANT_ID', `${source}: the tenant id is longer than ${MAX_TENANT_ID_LENGTH} characters`);
      }
      return { kind, value: parseTenantId(path.slice(start, end), source), source: 'path' };
    },
  };
}
