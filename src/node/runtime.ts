/**
 * What the runtime tenantry was built for decides (Node build). The edge build (`dist/edge`,
 * picked by the `workerd`, `edge-light` and `browser` export conditions) replaces this module
 * with `src/edge/runtime.ts`, which has the same exports.
 */

/**
 * Default of `databases.keepClients`: on Node the pool keeps clients open between operations
 * and requests.
 */
export const KEEP_CLIENTS_DEFAULT: boolean = true;

/** The options {@link checkRuntimeOptions} looks at. */
export interface RuntimeSensitiveOptions {
  dataDir: string | undefined;
  urlTemplate: string | undefined;
  migrationsFolder: string | undefined;
}

/**
 * Throws a `TypeError` when an option needs something this runtime does not have. Node has a
 * file system, so every option is usable here and nothing is refused.
 */
export function checkRuntimeOptions(_options: RuntimeSensitiveOptions): void {
  // Node: file databases, dataDir and migration folders all work.
}
