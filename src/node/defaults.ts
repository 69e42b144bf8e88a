/**
 * The embedded defaults (Node only): a libSQL file control plane and file databases under
 * `dataDir`. Kept apart so that runtimes without a file system can leave this module out.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { libsqlRegistry } from '../registry/libsql.js';
import type { TenantRegistry } from '../registry/types.js';
import { localPlatform } from '../platform/local.js';
import type { ITursoPlatformService } from '../platform/types.js';

/** Default folder of the embedded control plane and tenant databases. */
export const DEFAULT_DATA_DIR = '.tenantry';

/** What the embedded defaults provide. */
export interface EmbeddedDefaults {
  /** Absolute data folder. */
  dataDir: string;
  /** A libSQL registry on `<dataDir>/control-plane.db`, when one was asked for. */
  registry: TenantRegistry | undefined;
  /** `file:` URL template of tenant databases, when one was asked for. */
  urlTemplate: string | undefined;
  /** The local platform that creates those tenant databases, when they were asked for. */
  platform: ITursoPlatformService | undefined;
}

/**
 * Creates the data folder and whichever embedded parts are missing from the user's options.
 * `needRegistry` / `needDatabases` say which ones.
 */
export function embeddedDefaults(dataDir: string | undefined, needRegistry: boolean, needDatabases: boolean): EmbeddedDefaults {
  const dir = resolve(dataDir ?? DEFAULT_DATA_DIR);
  mkdirSync(dir, { recursive: true });
  let urlTemplate: string | undefined;
  let platform: ITursoPlatformService | undefined;
  if (needDatabases) {
    const tenants = join(dir, 'tenants');
    mkdirSync(tenants, { recursive: true });
    urlTemplate = `${pathToFileURL(tenants).href}/{tenant}.db`;
    platform = localPlatform({ dir: tenants });
  }
  const registry = needRegistry ? libsqlRegistry({ url: pathToFileURL(join(dir, 'control-plane.db')).href }) : undefined;
  return { dataDir: dir, registry, urlTemplate, platform };
}
