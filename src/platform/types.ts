/**
 * The platform client contract: the protocol's `ITursoPlatformService`, method names kept.
 * Implementations: `localPlatform({ dir })` (files, tokens minted locally) and
 * `tursoPlatform(...)` from `tenantry/turso` (the Turso Platform API). Users may pass their own.
 * A platform holds no tenant state: it creates, lists and deletes databases and tokens.
 */
import type { TenantRegion } from '../protocol/index.js';

/** A database as the platform reports it. */
export interface PlatformDatabase {
  /** Database name (lowercase letters, digits, dashes; see `DATABASE_NAME_PATTERN`). */
  name: string;
  /** The platform's id of the database (Turso `DbId`; the name for the local platform). */
  id: string;
  /** Host name (Turso `Hostname`, e.g. `acme-myorg.turso.io`); `undefined` for local files. */
  hostname: string | undefined;
  /** URL a `@libsql/client` connects with (`libsql://<hostname>` or `file:...`). */
  url: string;
  /** Group the database belongs to, when the platform has groups. */
  group: string | undefined;
}

/** What `createDatabase` needs. */
export interface CreateDatabaseInput {
  name: string;
  /** Platform group (Turso); the platform's default when absent. */
  group?: string;
  /** Tenant region; a platform may map it to a group or location. */
  region?: TenantRegion;
  /** Size limit, in the platform's syntax (Turso `size_limit`, e.g. `"500mb"`). */
  sizeLimit?: string;
}

/** Options of `createToken`. */
export interface CreateTokenOptions {
  /** `full-access` or `read-only`. Default `full-access`. */
  authorization?: 'full-access' | 'read-only';
  /** Lifetime in the platform's syntax (Turso: `never`, `2w`, `1d`, ...). Default `never`. */
  expiration?: string;
}

/** Usage figures of a database, as far as the platform knows them. */
export interface PlatformUsage {
  storageBytes: number | undefined;
  rowsRead: number | undefined;
  rowsWritten: number | undefined;
}

/**
 * The protocol's `ITursoPlatformService`.
 *
 * Contract (the shared test suite checks it for every implementation):
 * - `createDatabase` rejects with `PLATFORM_ERROR` (status 409) when the name exists.
 * - `deleteDatabase` resolves when the database is gone, also when it did not exist.
 * - `getDatabase` resolves `undefined` for an unknown name.
 * - Failures are `TenantryError`s with code `PLATFORM_ERROR` (after retries, where the
 *   platform is remote), the HTTP status in the message and the original error as `cause`.
 * - Names are checked (`DATABASE_NAME_PATTERN`) before anything is sent: a `TypeError`.
 */
export interface ITursoPlatformService {
  createDatabase(input: CreateDatabaseInput): Promise<PlatformDatabase>;
  deleteDatabase(name: string): Promise<void>;
  listDatabases(filter?: { group?: string }): Promise<PlatformDatabase[]>;
  getDatabase(name: string): Promise<PlatformDatabase | undefined>;
  createToken(name: string, options?: CreateTokenOptions): Promise<string>;
  revokeTokens(name: string): Promise<void>;
  /** Usage of a database, when the platform can tell (Turso's usage endpoint). Optional. */
  getUsage?(name: string): Promise<PlatformUsage>;
}

/**
 * Database names: lowercase letters, digits and dashes, no leading or trailing dash, at most
 * 58 characters (Turso allows 64, but the host name `<db>-<org>.turso.io` must stay a valid
 * DNS label).
 */
export const DATABASE_NAME_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,56}[a-z0-9])?$/;

/** Throws a `TypeError` unless `name` is a valid database name. */
export function assertDatabaseName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !DATABASE_NAME_PATTERN.test(name)) {
    throw new TypeError(
      'database name must be 1 to 58 lowercase letters, digits or dashes, without a leading or trailing dash',
    );
  }
}
