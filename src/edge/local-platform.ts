/**
 * The edge build's twin of `src/platform/local.ts` (same exports). The local platform keeps
 * tenant databases as files, which needs a file system: here `localPlatform()` is a
 * `TypeError` that says what to use instead.
 */
import type * as Local from '../platform/local.js';

export type { LocalPlatform, LocalPlatformOptions, LocalPublicKey, LocalTokenClaims } from '../platform/local.js';

/**
 * Refuses: the local platform creates `file:` databases, and this runtime (tenantry's edge
 * build) has no file system. Use `tursoPlatform()` from `tenantry/turso`, or your own
 * `ITursoPlatformService`.
 */
export const localPlatform: typeof Local.localPlatform = () => {
  throw new TypeError(
    "localPlatform: the local platform keeps tenant databases as files, which needs a file system, which this runtime does not have (tenantry's edge build); use tursoPlatform() from 'tenantry/turso' or your own ITursoPlatformService",
  );
};
