/**
 * The edge build's twin of `src/node/runtime.ts` (same exports): Cloudflare Workers, Vercel
 * Edge, browsers and other fetch-only runtimes, where there is no file system and I/O objects
 * must not outlive the request that made them.
 */
import type * as NodeRuntime from '../node/runtime.js';
import type { RuntimeSensitiveOptions } from '../node/runtime.js';

export type { RuntimeSensitiveOptions } from '../node/runtime.js';

/**
 * Default of `databases.keepClients` in the edge build: `false`. Cloudflare Workers must not
 * reuse a client's I/O across requests, so each database operation gets a client of its own.
 */
export const KEEP_CLIENTS_DEFAULT: typeof NodeRuntime.KEEP_CLIENTS_DEFAULT = false;

/** What to pass instead of the Node-only options, appended to every refusal. */
const INSTEAD =
  "pass a registry (memoryRegistry(), libsqlRegistry({ url: 'libsql://...' }) or your own) and databases.urlTemplate with libsql://, https:// or wss://";

/**
 * Throws a `TypeError` for options that need a file system: `dataDir`, a `file:` URL template
 * and a migrations folder.
 */
export const checkRuntimeOptions: typeof NodeRuntime.checkRuntimeOptions = (options: RuntimeSensitiveOptions): void => {
  if (options.dataDir !== undefined) {
    throw new TypeError(`createTenantry: dataDir needs a file system, which this runtime does not have (tenantry's edge build); ${INSTEAD}`);
  }
  if (options.urlTemplate !== undefined && /^file:/i.test(options.urlTemplate)) {
    throw new TypeError(
      `createTenantry: databases.urlTemplate is a file: URL, and file databases need a file system, which this runtime does not have (tenantry's edge build); ${INSTEAD}`,
    );
  }
  if (options.migrationsFolder !== undefined) {
    throw new TypeError(
      "createTenantry: provisioning.migrations is a folder, and reading a folder needs a file system, which this runtime does not have (tenantry's edge build); pass the migrations as [{ id, sql }]",
    );
  }
};
