/**
 * The tenantry instance of a `tenantry` command: from `--config <path>`, else from
 * `tenantry.config.js` / `tenantry.config.mjs` in the working directory, else the embedded
 * defaults (`createTenantry()` with its data under `<cwd>/.tenantry/`).
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { TenantryOptions } from '../config/index.js';
import { DEFAULT_DATA_DIR } from '../node/defaults.js';
import { Tenantry, createTenantry } from '../tenantry.js';
import { UsageError } from './args.js';

/** Names looked for in the working directory, in this order. */
export const CONFIG_FILES = ['tenantry.config.js', 'tenantry.config.mjs'] as const;

/** The instance a command uses, where it came from, and how to let the process end. */
export interface LoadedConfig {
  tenantry: Tenantry;
  /** The config file's absolute path, or `'embedded defaults'`. */
  source: string;
  /**
   * `tenantry.close()`, then `close()` of the registry when the config supplied it (tenantry
   * closes only registries it created), so that the process can end by itself.
   */
  close(): Promise<void>;
}

/**
 * Loads the config. Its default export may be a tenantry instance (`createTenantry(...)`),
 * `createTenantry` options, or a (sync or async) function returning either.
 *
 * Throws a {@link UsageError} when `--config` names no file, and a `TypeError` naming the file
 * when its default export is none of the above (or the options are invalid).
 *
 * @example
 * const { tenantry, close } = await loadConfig(undefined, process.cwd());
 */
export async function loadConfig(explicit: string | undefined, cwd: string): Promise<LoadedConfig> {
  let file: string | undefined;
  if (explicit !== undefined) {
    file = resolve(cwd, explicit);
    if (!existsSync(file) || !statSync(file).isFile()) throw new UsageError(`--config: no file at ${file}`);
  } else {
    file = CONFIG_FILES.map((name) => resolve(cwd, name)).find((path) => existsSync(path));
  }
  if (file === undefined) {
    const tenantry = createTenantry({ dataDir: resolve(cwd, DEFAULT_DATA_DIR) });
    return { tenantry, source: 'embedded defaults', close: () => tenantry.close() };
  }
  const module = (await import(pathToFileURL(file).href)) as { default?: unknown };
  let value: unknown = module.default;
  if (value === undefined) {
    throw new TypeError(`${file}: no default export (export default createTenantry({ ... }), or the options)`);
  }
  if (typeof value === 'function' && !isTenantry(value)) value = await (value as () => unknown)();
  if (isTenantry(value)) {
    const tenantry = value;
    return { tenantry, source: file, close: () => closeAll(tenantry, true) };
  }
  if (isPlainObject(value)) {
    let tenantry: Tenantry;
    try {
      tenantry = createTenantry(value as TenantryOptions);
    } catch (err) {
      if (err instanceof TypeError) throw new TypeError(`${file}: ${err.message}`, { cause: err });
      throw err;
    }
    const ownRegistry = (value as TenantryOptions).registry !== undefined;
    return { tenantry, source: file, close: () => closeAll(tenantry, ownRegistry) };
  }
  throw new TypeError(
    `${file}: the default export must be a tenantry instance (createTenantry(...)), createTenantry options, or a function returning one`,
  );
}

/**
 * A tenantry instance, also one made by another copy of the library (a config importing
 * `tenantry` from elsewhere, or its CommonJS build).
 */
function isTenantry(value: unknown): value is Tenantry {
  if (value instanceof Tenantry) return true;
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<Record<keyof Tenantry, unknown>>;
  return (
    typeof v.close === 'function' &&
    typeof v.migrate === 'function' &&
    typeof v.withTenant === 'function' &&
    typeof v.registry === 'object' &&
    v.registry !== null &&
    typeof v.provisioning === 'object' &&
    v.provisioning !== null &&
    typeof v.quota === 'object' &&
    v.quota !== null
  );
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Closes the instance, then (when `registryToo`) its registry: an instance closes only a
 * registry it created, and a registry the config made (a PostgreSQL pool) would otherwise keep
 * the process alive. Registries' `close()` is idempotent (the built-in ones are).
 */
async function closeAll(tenantry: Tenantry, registryToo: boolean): Promise<void> {
  try {
    await tenantry.close();
  } finally {
    if (registryToo) await tenantry.registry.close?.();
  }
}
