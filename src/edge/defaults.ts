/**
 * The edge build's twin of `src/node/defaults.ts` (same exports). There is no file system
 * here, so there are no embedded defaults: asking for them is a `TypeError` at
 * `createTenantry()` that says what to pass instead.
 */
import type * as NodeDefaults from '../node/defaults.js';

export type { EmbeddedDefaults } from '../node/defaults.js';

/** Default folder of the embedded control plane and tenant databases (unused on this runtime). */
export const DEFAULT_DATA_DIR: typeof NodeDefaults.DEFAULT_DATA_DIR = '.tenantry';

/**
 * Refuses, naming what is missing: the embedded defaults are a libSQL file control plane and
 * file databases under `dataDir`, which need a file system.
 */
export const embeddedDefaults: typeof NodeDefaults.embeddedDefaults = (_dataDir, needRegistry, needDatabases) => {
  const missing = [needRegistry ? 'registry' : undefined, needDatabases ? 'databases.urlTemplate' : undefined].filter((m) => m !== undefined);
  throw new TypeError(
    `createTenantry: no ${missing.join(' and no ')} was given, and the embedded defaults (a libSQL file control plane and file databases under dataDir) need a file system, which this runtime does not have (tenantry's edge build for Cloudflare Workers, Vercel Edge and other fetch-only runtimes); pass a registry (memoryRegistry(), libsqlRegistry({ url: 'libsql://...' }) or your own) and databases.urlTemplate with libsql://, https:// or wss://`,
  );
};
