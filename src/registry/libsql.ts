/**
 * A registry in a libSQL database: a local file (the embedded default), a self-hosted sqld,
 * or Turso. No Node-only imports, so it runs wherever `@libsql/client` does (with a remote
 * `libsql://` URL on edge runtimes).
 */
import { createClient } from '@libsql/client';
import type { Client, InStatement, Row, Value } from '@libsql/client';
import { DomainSchema, TENANT_ID_PATTERN, TenantRecordSchema } from '../protocol/index.js';
import type { TenantRecord, TenantRecordInput } from '../protocol/index.js';
import { checkListFilter, clockOption, conflictError, isoNow, nameClashError, normalizeRecord } from './record.js';
import type { TenantListFilter, TenantRecordUpdater, TenantRegistry } from './types.js';

/** Options of {@link libsqlRegistry}: pass exactly one of `url` and `client`. */
export interface LibsqlRegistryOptions {
  /** Database URL (`file:`, `libsql://`, `https://`, ...). The registry opens and closes the client. */
  url?: string;
  /** Auth token for `url` (Turso / sqld). Only with `url`. */
  authToken?: string;
  /** A client you created; the registry uses it but never closes it. */
  client?: Client;
  /** Millisecond clock for `createdAt` / `updatedAt` (tests drive it). Default `Date.now`. */
  now?: () => number;
}

/** Version of the tables below, kept in `tenantry_meta` under `schema_version`. */
export const LIBSQL_REGISTRY_SCHEMA_VERSION = 2;

const TENANTS = 'tenantry_tenants';
const DOMAINS = 'tenantry_tenant_domains';
/** Text of the RAISE in the id/slug triggers, recognised when mapping errors. */
const NAME_CLASH = 'tenantry: a tenant id and a slug clash';
/** Text of the RAISE in the version trigger: an `update()` lost the race and retries. */
const STALE_VERSION = 'tenantry: the tenant changed since it was read';
/** How often `update()` re-reads and retries after losing a race before it gives up. */
const UPDATE_ATTEMPTS = 50;

/**
 * Optimistic versioning: every write moves `version` on by exactly one. `put` writes
 * `version + 1`; `update` writes the version it read plus one, which this trigger refuses when
 * another writer got there first, rolling back the whole write batch.
 */
const VERSION_TRIGGER = `CREATE TRIGGER IF NOT EXISTS ${TENANTS}_version BEFORE UPDATE OF version ON ${TENANTS}
    WHEN NEW.version <> OLD.version + 1
    BEGIN SELECT RAISE(ABORT, '${STALE_VERSION}'); END`;

/**
 * Schema v1. The triggers keep ids and slugs apart across tenants (a tenant's id doubles as its
 * slug for slug lookups), inside the same write transaction as the upsert.
 */
const SCHEMA: InStatement[] = [
  `CREATE TABLE IF NOT EXISTS tenantry_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS ${TENANTS} (
    id TEXT PRIMARY KEY,
    slug TEXT UNIQUE,
    plan TEXT NOT NULL,
    region TEXT,
    status TEXT NOT NULL,
    db_url TEXT,
    db_auth_token TEXT,
    quotas TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1
  )`,
  `CREATE TABLE IF NOT EXISTS ${DOMAINS} (
    domain TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES ${TENANTS}(id) ON DELETE CASCADE
  )`,
  `CREATE INDEX IF NOT EXISTS ${DOMAINS}_tenant_id ON ${DOMAINS}(tenant_id)`,
  `CREATE INDEX IF NOT EXISTS ${TENANTS}_status_plan ON ${TENANTS}(status, plan)`,
  `CREATE TRIGGER IF NOT EXISTS ${TENANTS}_names_insert BEFORE INSERT ON ${TENANTS}
    WHEN EXISTS (SELECT 1 FROM ${TENANTS} WHERE id <> NEW.id AND (slug = NEW.id OR id = NEW.slug))
    BEGIN SELECT RAISE(ABORT, '${NAME_CLASH}'); END`,
  `CREATE TRIGGER IF NOT EXISTS ${TENANTS}_names_update BEFORE UPDATE OF slug ON ${TENANTS}
    WHEN NEW.slug IS NOT NULL AND EXISTS (SELECT 1 FROM ${TENANTS} WHERE id <> NEW.id AND id = NEW.slug)
    BEGIN SELECT RAISE(ABORT, '${NAME_CLASH}'); END`,
];

/**
 * Version 1 → 2: the `version` column and its trigger. Run in one write batch; a concurrent
 * upgrader makes the ALTER fail (duplicate column), after which the version is read again.
 */
const UPGRADE_V1_TO_V2: InStatement[] = [
  `ALTER TABLE ${TENANTS} ADD COLUMN version INTEGER NOT NULL DEFAULT 1`,
  VERSION_TRIGGER,
  "UPDATE tenantry_meta SET value = '2' WHERE key = 'schema_version' AND value = '1'",
];


/** One row per tenant with its domains as a JSON array: one statement, one consistent read. */
const SELECT_RECORD = `SELECT t.id, t.slug, t.plan, t.region, t.status, t.db_url, t.db_auth_token, t.quotas,
  t.created_at, t.updated_at, t.version,
  (SELECT json_group_array(d.domain) FROM ${DOMAINS} d WHERE d.tenant_id = t.id) AS domains
  FROM ${TENANTS} t`;

/** URL problems `createClient` reports; they become a `TypeError` naming the `url` option. */
const URL_ERROR_CODES = new Set(['URL_INVALID', 'URL_SCHEME_NOT_SUPPORTED', 'URL_PARAM_NOT_SUPPORTED']);

/**
 * A registry in a libSQL database. Its tables (`tenantry_tenants`, `tenantry_tenant_domains`,
 * `tenantry_meta`) are created on first use, once; a failed attempt is retried by the next call.
 * Every value is a bound parameter. `put` and `delete` are one write batch each (one round trip
 * to a remote database; atomic; no lock held across an `await` on a local file).
 *
 * Throws a `TypeError` naming the option when the options are invalid (neither or both of
 * `url` / `client`, an unusable URL). It creates no folders: for a `file:` URL the folder must
 * exist.
 *
 * @example
 * const registry = libsqlRegistry({ url: 'libsql://control-myorg.turso.io', authToken: process.env.TURSO_TOKEN });
 * await registry.put({ id: 'acme', domains: ['acme.com'], plan: 'pro' });
 */
export function libsqlRegistry(options: LibsqlRegistryOptions): TenantRegistry {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('libsqlRegistry: options must be an object with url or client');
  }
  const { url, authToken, client } = options;
  const now = clockOption(options.now, 'libsqlRegistry');
  if (url !== undefined && client !== undefined) throw new TypeError('libsqlRegistry: pass either url or client, not both');
  if (client !== undefined) {
    if (typeof client !== 'object' || client === null || typeof client.execute !== 'function' || typeof client.batch !== 'function') {
      throw new TypeError('libsqlRegistry: client must be a @libsql/client Client');
    }
    if (authToken !== undefined) throw new TypeError('libsqlRegistry: authToken is only used with url (configure it on your client)');
    return new LibsqlRegistry(client, false, now);
  }
  if (url === undefined) throw new TypeError('libsqlRegistry: url or client is required');
  if (typeof url !== 'string' || url.length === 0) throw new TypeError('libsqlRegistry: url must be a non-empty string');
  if (authToken !== undefined && (typeof authToken !== 'string' || authToken.length === 0)) {
    throw new TypeError('libsqlRegistry: authToken must be a non-empty string');
  }
  let created: Client;
  try {
    created = createClient(authToken === undefined ? { url } : { url, authToken });
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    if (typeof code === 'string' && URL_ERROR_CODES.has(code)) {
      throw new TypeError(`libsqlRegistry: url is not usable: ${(err as Error).message}`, { cause: err });
    }
    throw err;
  }
  return new LibsqlRegistry(created, true, now);
}

class LibsqlRegistry implements TenantRegistry {
  readonly #client: Client;
  readonly #ownsClient: boolean;
  readonly #now: () => number;
  #ready = false;
  #init: Promise<void> | undefined;
  #closed = false;

  constructor(client: Client, ownsClient: boolean, now: () => number) {
    this.#client = client;
    this.#ownsClient = ownsClient;
    this.#now = now;
  }

  // Lookups of values no tenant can have (raw header values, typos, probes) answer without a
  // round trip: put() never stores them.
  async get(id: string): Promise<TenantRecord | undefined> {
    if (!isTenantId(id)) return undefined;
    return this.#one({ sql: `${SELECT_RECORD} WHERE t.id = ?`, args: [id] });
  }

  async findBySlug(slug: string): Promise<TenantRecord | undefined> {
    if (!isTenantId(slug)) return undefined;
    return this.#one({ sql: `${SELECT_RECORD} WHERE t.slug = ?`, args: [slug] });
  }

  async findByDomain(domain: string): Promise<TenantRecord | undefined> {
    if (typeof domain !== 'string') return undefined;
    const lower = domain.toLowerCase();
    if (!DomainSchema.safeParse(lower).success) return undefined;
    return this.#one({
      sql: `${SELECT_RECORD} WHERE t.id = (SELECT tenant_id FROM ${DOMAINS} WHERE domain = ?)`,
      args: [lower],
    });
  }

  async list(filter?: TenantListFilter): Promise<TenantRecord[]> {
    const { status, plan, limit, offset } = checkListFilter(filter);
    const where: string[] = [];
    const args: Value[] = [];
    if (status !== undefined) {
      where.push('t.status = ?');
      args.push(status);
    }
    if (plan !== undefined) {
      where.push('t.plan = ?');
      args.push(plan);
    }
    args.push(limit ?? -1, offset);
    const sql = `${SELECT_RECORD}${where.length === 0 ? '' : ` WHERE ${where.join(' AND ')}`} ORDER BY t.id LIMIT ? OFFSET ?`;
    await this.#ensureSchema();
    const result = await this.#client.execute({ sql, args });
    return result.rows.map(rowToRecord);
  }

  async put(input: TenantRecordInput): Promise<TenantRecord> {
    // Validation first: nothing invalid (a quote in an id, a bad domain) ever reaches SQL.
    const record = normalizeRecord(input, undefined, isoNow(this.#now));
    await this.#ensureSchema();
    const { id } = record;
    const statements: InStatement[] = [
      {
        // ON CONFLICT DO UPDATE (not REPLACE): keeps created_at and never deletes the row.
        sql: `INSERT INTO ${TENANTS} (id, slug, plan, region, status, db_url, db_auth_token, quotas, created_at, updated_at)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
          ON CONFLICT (id) DO UPDATE SET slug = excluded.slug, plan = excluded.plan, region = excluded.region,
            status = excluded.status, db_url = excluded.db_url, db_auth_token = excluded.db_auth_token,
            quotas = excluded.quotas, updated_at = excluded.updated_at, version = ${TENANTS}.version + 1`,
        args: [
          id,
          record.slug ?? null,
          record.plan,
          record.region ?? null,
          record.status,
          record.db.url ?? null,
          record.db.authToken ?? null,
          record.quotas === undefined ? null : JSON.stringify(record.quotas),
          record.createdAt,
          record.updatedAt,
        ],
      },
      { sql: `DELETE FROM ${DOMAINS} WHERE tenant_id = ?`, args: [id] },
    ];
    if (record.domains.length > 0) {
      statements.push({
        sql: `INSERT INTO ${DOMAINS} (domain, tenant_id) VALUES ${record.domains.map(() => '(?, ?)').join(', ')}`,
        args: record.domains.flatMap((domain) => [domain, id]),
      });
    }
    statements.push({ sql: `SELECT created_at FROM ${TENANTS} WHERE id = ?`, args: [id] });
    let results;
    try {
      results = await this.#client.batch(statements, 'write');
    } catch (err) {
      if (isConstraintError(err)) throw await this.#conflict(record, err);
      throw err;
    }
    const createdAt = results[results.length - 1]?.rows[0]?.['created_at'];
    return typeof createdAt === 'string' ? { ...record, createdAt } : record;
  }

  /**
   * Optimistic: reads the record and its version, calls `fn` outside any transaction, and
   * writes in one batch that the version trigger rolls back when another writer changed the
   * tenant meanwhile; then it reads again and calls `fn` again (up to 50 times).
   */
  async update(id: string, fn: TenantRecordUpdater): Promise<TenantRecord | undefined> {
    if (typeof fn !== 'function') throw new TypeError('update: fn must be a function returning the new record');
    if (!isTenantId(id)) return undefined;
    await this.#ensureSchema();
    for (let attempt = 1; ; attempt++) {
      const read = await this.#client.execute({ sql: `${SELECT_RECORD} WHERE t.id = ?`, args: [id] });
      const row = read.rows[0];
      if (row === undefined) return undefined;
      const next = await fn(rowToRecord(row));
      const record = normalizeRecord(next, undefined, isoNow(this.#now));
      if (record.id !== id) throw new TypeError(`update: fn returned a record with id "${record.id}" for tenant "${id}"`);
      try {
        const written = await this.#client.batch(this.#updateStatements(record, Number(row['version'])), 'write');
        const createdAt = written[written.length - 1]?.rows[0]?.['created_at'];
        // No row: the tenant was deleted after the read.
        return typeof createdAt === 'string' ? { ...record, createdAt } : undefined;
      } catch (err) {
        if (isStaleVersion(err) && attempt < UPDATE_ATTEMPTS) continue;
        if (isStaleVersion(err)) throw new Error(`update: tenant "${id}" kept changing; gave up after ${UPDATE_ATTEMPTS} attempts`, { cause: err });
        if (isConstraintError(err)) throw await this.#conflict(record, err);
        throw err;
      }
    }
  }

  /** The write of `update`: the row at `version + 1` (refused by the trigger if stale), then its domains. */
  #updateStatements(record: TenantRecord, version: number): InStatement[] {
    const { id } = record;
    const exists = `EXISTS (SELECT 1 FROM ${TENANTS} WHERE id = ?)`;
    const statements: InStatement[] = [
      {
        sql: `UPDATE ${TENANTS} SET slug = ?, plan = ?, region = ?, status = ?, db_url = ?, db_auth_token = ?, quotas = ?,
          updated_at = ?, version = ? WHERE id = ?`,
        args: [
          record.slug ?? null,
          record.plan,
          record.region ?? null,
          record.status,
          record.db.url ?? null,
          record.db.authToken ?? null,
          record.quotas === undefined ? null : JSON.stringify(record.quotas),
          record.updatedAt,
          version + 1,
          id,
        ],
      },
      { sql: `DELETE FROM ${DOMAINS} WHERE tenant_id = ?`, args: [id] },
    ];
    for (const domain of record.domains) {
      statements.push({ sql: `INSERT INTO ${DOMAINS} (domain, tenant_id) SELECT ?, ? WHERE ${exists}`, args: [domain, id, id] });
    }
    statements.push({ sql: `SELECT created_at FROM ${TENANTS} WHERE id = ?`, args: [id] });
    return statements;
  }

  async delete(id: string): Promise<boolean> {
    // put() never stores an id that is not a tenant id: no round trip for one
    if (!isTenantId(id)) return false;
    await this.#ensureSchema();
    const results = await this.#client.batch(
      [
        { sql: `DELETE FROM ${DOMAINS} WHERE tenant_id = ?`, args: [id] },
        { sql: `DELETE FROM ${TENANTS} WHERE id = ?`, args: [id] },
      ],
      'write',
    );
    return (results[1]?.rowsAffected ?? 0) > 0;
  }

  /** Closes the client when this registry created it (from `url`); a passed client stays open. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ownsClient) this.#client.close();
  }

  async #one(statement: { sql: string; args: Value[] }): Promise<TenantRecord | undefined> {
    await this.#ensureSchema();
    const result = await this.#client.execute(statement);
    const row = result.rows[0];
    return row === undefined ? undefined : rowToRecord(row);
  }

  /** Creates the tables once; concurrent first calls share one attempt; a failure is not cached. */
  #ensureSchema(): Promise<void> {
    if (this.#ready) return Promise.resolve();
    this.#init ??= this.#createSchema().then(
      () => {
        this.#ready = true;
      },
      (err: unknown) => {
        this.#init = undefined;
        throw err;
      },
    );
    return this.#init;
  }

  async #createSchema(): Promise<void> {
    const readVersion = { sql: 'SELECT value FROM tenantry_meta WHERE key = ?', args: ['schema_version'] };
    // Tables of version 1 already hold tenants: their meta row says 1 and the upgrade runs below.
    const results = await this.#client.batch(
      [...SCHEMA, readVersion, `INSERT OR IGNORE INTO tenantry_meta (key, value) VALUES ('schema_version', '${LIBSQL_REGISTRY_SCHEMA_VERSION}')`],
      'write',
    );
    let version = Number(results[SCHEMA.length]?.rows[0]?.['value'] ?? LIBSQL_REGISTRY_SCHEMA_VERSION);
    if (version === LIBSQL_REGISTRY_SCHEMA_VERSION) await this.#client.execute(VERSION_TRIGGER);
    if (version === 1) {
      try {
        await this.#client.batch(UPGRADE_V1_TO_V2, 'write');
      } catch (err) {
        if (!String((err as Error | null)?.message).includes('duplicate column')) throw err;
      }
      version = Number((await this.#client.execute(readVersion)).rows[0]?.['value']);
    }
    if (version !== LIBSQL_REGISTRY_SCHEMA_VERSION) {
      throw new Error(
        `libsqlRegistry: the registry tables have schema version ${String(version)}; this tenantry reads version ${LIBSQL_REGISTRY_SCHEMA_VERSION}`,
      );
    }
  }

  /** Turns a constraint failure of `put` into the `TypeError` naming the slug or domain and its owner. */
  async #conflict(record: TenantRecord, cause: unknown): Promise<TypeError> {
    const { id, slug, domains } = record;
    const statements: InStatement[] = [
      { sql: `SELECT id FROM ${TENANTS} WHERE slug = ? AND id <> ?`, args: [slug ?? null, id] },
      { sql: `SELECT id FROM ${TENANTS} WHERE id = ? AND id <> ?`, args: [slug ?? null, id] },
      { sql: `SELECT id FROM ${TENANTS} WHERE slug = ? AND id <> ?`, args: [id, id] },
    ];
    if (domains.length > 0) {
      statements.push({
        sql: `SELECT domain, tenant_id FROM ${DOMAINS} WHERE tenant_id <> ? AND domain IN (${domains.map(() => '?').join(', ')}) ORDER BY domain`,
        args: [id, ...domains],
      });
    }
    try {
      const [slugOwner, slugIsId, idIsSlug, domainOwner] = await this.#client.batch(statements, 'read');
      const a = text(slugOwner?.rows[0]?.['id']);
      const b = text(slugIsId?.rows[0]?.['id']);
      const c = text(idIsSlug?.rows[0]?.['id']);
      const d = text(domainOwner?.rows[0]?.['tenant_id']);
      if (a !== undefined) return conflictError('slug', slug!, a, cause);
      if (b !== undefined) return nameClashError('slug', slug!, b, cause);
      if (c !== undefined) return nameClashError('id', id, c, cause);
      if (d !== undefined) return conflictError('domain', text(domainOwner?.rows[0]?.['domain'])!, d, cause);
    } catch {
      // This read only words the message; the constraint failure is reported below either way.
    }
    // The owner changed between the failed write and this read: say what we know.
    return new TypeError(`tenant record: the slug or a domain of tenant "${id}" belongs to another tenant`, { cause });
  }
}

function isTenantId(value: unknown): value is string {
  return typeof value === 'string' && TENANT_ID_PATTERN.test(value);
}

function text(value: Value | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function isStaleVersion(err: unknown): boolean {
  return String((err as Error | null)?.message).includes(STALE_VERSION);
}

function isConstraintError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const { code, message } = err as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && code.startsWith('SQLITE_CONSTRAINT')) return true;
  return typeof message === 'string' && (message.includes('UNIQUE constraint failed') || message.includes(NAME_CLASH));
}

/** A row of {@link SELECT_RECORD} as a record; a corrupt row rejects (never a half record). */
function rowToRecord(row: Row): TenantRecord {
  const id = row['id'];
  const label = typeof id === 'string' ? `tenant "${id}"` : 'a tenant row';
  const parse = (column: string, text: Value | undefined): unknown => {
    if (text === null || text === undefined) return undefined;
    try {
      return JSON.parse(String(text));
    } catch (err) {
      throw new Error(`libsqlRegistry: ${label} has invalid JSON in column ${column}`, { cause: err });
    }
  };
  const domains = parse('domains', row['domains']);
  const candidate = {
    id,
    ...optional('slug', row['slug']),
    domains: Array.isArray(domains) ? [...domains].sort() : domains,
    plan: row['plan'],
    ...optional('region', row['region']),
    status: row['status'],
    db: { ...optional('url', row['db_url']), ...optional('authToken', row['db_auth_token']) },
    ...optional('quotas', parse('quotas', row['quotas'])),
    createdAt: row['created_at'],
    updatedAt: row['updated_at'],
  };
  const parsed = TenantRecordSchema.safeParse(candidate);
  if (!parsed.success) {
    throw new Error(`libsqlRegistry: ${label} in ${TENANTS} is not a valid tenant record`, { cause: parsed.error });
  }
  // Rebuild rather than return zod's output, so absent optional fields stay absent.
  return candidate as TenantRecord;
}

function optional(key: string, value: unknown): Record<string, unknown> {
  return value === null || value === undefined ? {} : { [key]: value };
}
