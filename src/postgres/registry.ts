/**
 * A registry in PostgreSQL (node-postgres). Node-only and imported only by the
 * `tenantry/postgres` entry, so the core never loads `pg`.
 */
import pg from 'pg';
import type { Pool, PoolClient, QueryResultRow } from 'pg';
import { DomainSchema, TENANT_ID_PATTERN, TenantRecordSchema } from '../protocol/index.js';
import type { TenantRecord, TenantRecordInput } from '../protocol/index.js';
import { checkListFilter, clockOption, conflictError, isoNow, nameClashError, normalizeRecord } from '../registry/record.js';
import type { TenantListFilter, TenantRecordUpdater, TenantRegistry } from '../registry/types.js';

/** Options of {@link postgresRegistry}: pass exactly one of `pool` and `connectionString`. */
export interface PostgresRegistryOptions {
  /** A `pg.Pool` you created; the registry uses it but never ends it. Attach your own `'error'` listener to it. */
  pool?: Pool;
  /** A PostgreSQL URL; the registry creates a `pg.Pool` for it and ends it in `close()`. */
  connectionString?: string;
  /** Schema of the tables (created by `migrate()` when missing). Default `'public'`. */
  schema?: string;
  /**
   * Name of the tenants table; the domains table is `<table>_domains`. Lowercase letters,
   * digits and `_`, at most 45 characters (so derived names fit PostgreSQL's 63). Default
   * `'tenantry_tenants'`.
   */
  table?: string;
  /** Millisecond clock for `createdAt` / `updatedAt` (tests drive it). Default `Date.now`. */
  now?: () => number;
}

/** A {@link TenantRegistry} in PostgreSQL, with an explicit `migrate()` and an atomic `update()`. */
export interface PostgresRegistry extends TenantRegistry {
  /**
   * Creates the schema (when missing), the tables and the index; idempotent and safe to run
   * from several processes at once (serialized by an advisory lock). Run it once at deploy or
   * start-up: the other methods never create tables, and reject with an error naming
   * `migrate()` while the tables are missing.
   */
  migrate(): Promise<void>;
  /**
   * Atomic read-modify-write of one tenant: in one transaction it locks the tenant's row
   * (`SELECT ... FOR UPDATE`), passes a copy of the current record to `fn`, and stores what `fn`
   * returns with the rules of `put` (validation, uniqueness, `createdAt` kept, `version`
   * bumped). Concurrent `update()`s of one tenant run one after the other, so none loses
   * another's change (unlike `get` then `put`, where the last writer wins).
   * Resolves to the stored record, or `undefined` (without calling `fn`) when there is no such
   * tenant. `fn` runs while the row is locked: keep it short and do not call the registry from it.
   * Rejects with a `TypeError` when `fn` returns a record with another id.
   *
   * @example
   * await registry.update('acme', (t) => ({ ...t, plan: 'pro' }));
   */
  update(id: string, fn: TenantRecordUpdater): Promise<TenantRecord | undefined>;
  /** Ends the pool when this registry created it (from `connectionString`); a passed pool stays open. */
  close(): Promise<void>;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;
const MAX_TABLE_LENGTH = 45;

/** SQLSTATEs mapped to errors that say what to do. */
const UNDEFINED_TABLE = '42P01';
const INVALID_SCHEMA_NAME = '3F000';
const UNIQUE_VIOLATION = '23505';

/**
 * A registry in PostgreSQL. Tables (in `schema`, default `public`):
 *
 * - `tenantry_tenants` (`id` primary key, `slug` unique, `plan`, `region`, `status`, `db_url`,
 *   `db_auth_token`, `quotas` jsonb, `version` bumped by every write, `created_at`,
 *   `updated_at` timestamptz)
 * - `tenantry_tenants_domains` (`domain` primary key, lowercased; `tenant_id` references the
 *   tenant, `on delete cascade`)
 *
 * They are created by `await registry.migrate()`, never implicitly. Every value is a bound
 * parameter and the schema/table names are checked and quoted. `put` is one transaction that
 * locks the tenant's row and, with transaction-scoped advisory locks on the id and slug,
 * keeps ids and slugs apart across tenants (a slug may not be another tenant's id, nor an id
 * another tenant's slug) even under concurrent writers. Store failures (connection refused,
 * timeouts) reject as they are; the lookup cache turns them into stale-if-error or
 * `TENANT_UNAVAILABLE`.
 *
 * Throws a `TypeError` naming the option when the options are invalid (neither or both of
 * `pool` / `connectionString`, a bad `schema` or `table`).
 *
 * @example
 * import { postgresRegistry } from 'tenantry/postgres';
 * const registry = postgresRegistry({ connectionString: process.env.DATABASE_URL });
 * await registry.migrate();
 * const tenantry = createTenantry({ registry });
 */
export function postgresRegistry(options: PostgresRegistryOptions): PostgresRegistry {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('postgresRegistry: options must be an object with pool or connectionString');
  }
  const { pool, connectionString } = options;
  const now = clockOption(options.now, 'postgresRegistry');
  const schema = identifier(options.schema, 'schema', 'public');
  const table = identifier(options.table, 'table', 'tenantry_tenants');
  if (table.length > MAX_TABLE_LENGTH) {
    throw new TypeError(`postgresRegistry: table must be at most ${MAX_TABLE_LENGTH} characters (the domains table and index names derive from it)`);
  }
  if (pool !== undefined && connectionString !== undefined) {
    throw new TypeError('postgresRegistry: pass exactly one of pool and connectionString, not both');
  }
  if (pool !== undefined) {
    if (typeof pool !== 'object' || pool === null || typeof pool.query !== 'function' || typeof pool.connect !== 'function') {
      throw new TypeError('postgresRegistry: pool must be a pg.Pool');
    }
    return new PgRegistry(pool, false, schema, table, now);
  }
  if (connectionString === undefined) throw new TypeError('postgresRegistry: pass exactly one of pool and connectionString');
  if (typeof connectionString !== 'string' || connectionString.length === 0) {
    throw new TypeError('postgresRegistry: connectionString must be a non-empty string');
  }
  const created = new pg.Pool({ connectionString });
  // An idle connection that drops has no caller to reject; pg-pool discards it. Without a
  // listener the 'error' event would crash the process.
  created.on('error', () => {});
  return new PgRegistry(created, true, schema, table, now);
}

function identifier(value: unknown, name: string, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !IDENTIFIER.test(value)) {
    throw new TypeError(`postgresRegistry: ${name} must match ${String(IDENTIFIER)} (lowercase letters, digits, _)`);
  }
  return value;
}

function quote(name: string): string {
  return `"${name}"`; // names are checked against IDENTIFIER: no quote can occur
}

interface Sql {
  tenants: string;
  domains: string;
  selectRecord: string;
  /** `schema.table` as the user named it, for messages and lock keys. */
  label: string;
}

function buildSql(schema: string, table: string): Sql {
  const tenants = `${quote(schema)}.${quote(table)}`;
  const domains = `${quote(schema)}.${quote(`${table}_domains`)}`;
  // One row per tenant with its domains; timestamps and JSON as text, so a pool with custom
  // type parsers reads the same values.
  const selectRecord = `SELECT t.id, t.slug, t.plan, t.region, t.status, t.db_url, t.db_auth_token, t.quotas::text AS quotas,
    to_char(t.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created_at,
    to_char(t.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS updated_at,
    COALESCE((SELECT json_agg(d.domain ORDER BY d.domain COLLATE "C") FROM ${domains} d WHERE d.tenant_id = t.id)::text, '[]') AS domains
    FROM ${tenants} t`;
  return { tenants, domains, selectRecord, label: `${schema}.${table}` };
}

class PgRegistry implements PostgresRegistry {
  readonly #pool: Pool;
  readonly #ownsPool: boolean;
  readonly #schema: string;
  readonly #table: string;
  readonly #sql: Sql;
  readonly #now: () => number;
  #closed = false;

  constructor(pool: Pool, ownsPool: boolean, schema: string, table: string, now: () => number) {
    this.#pool = pool;
    this.#ownsPool = ownsPool;
    this.#schema = schema;
    this.#table = table;
    this.#sql = buildSql(schema, table);
    this.#now = now;
  }

  async migrate(): Promise<void> {
    const { tenants, domains, label } = this.#sql;
    await this.#transaction(async (client) => {
      // CREATE ... IF NOT EXISTS is not safe against a concurrent identical CREATE.
      await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`tenantry:migrate:${label}`]);
      const exists = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [this.#schema]);
      // Only when missing: CREATE SCHEMA needs the CREATE privilege on the database even with IF NOT EXISTS.
      if (exists.rowCount === 0) await client.query(`CREATE SCHEMA IF NOT EXISTS ${quote(this.#schema)}`);
      await client.query(`CREATE TABLE IF NOT EXISTS ${tenants} (
        id text PRIMARY KEY,
        slug text UNIQUE,
        plan text NOT NULL,
        region text,
        status text NOT NULL,
        db_url text,
        db_auth_token text,
        quotas jsonb,
        version integer NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
      )`);
      await client.query(`CREATE TABLE IF NOT EXISTS ${domains} (
        domain text PRIMARY KEY,
        tenant_id text NOT NULL REFERENCES ${tenants}(id) ON DELETE CASCADE
      )`);
      await client.query(`CREATE INDEX IF NOT EXISTS ${quote(`${this.#table}_domains_tenant_id`)} ON ${domains} (tenant_id)`);
    });
  }

  // Lookups of values no tenant can have (raw header values, typos, probes) answer without a
  // round trip: put() never stores them.
  async get(id: string): Promise<TenantRecord | undefined> {
    if (!isTenantId(id)) return undefined;
    return this.#one(`${this.#sql.selectRecord} WHERE t.id = $1`, [id]);
  }

  async findBySlug(slug: string): Promise<TenantRecord | undefined> {
    if (!isTenantId(slug)) return undefined;
    return this.#one(`${this.#sql.selectRecord} WHERE t.slug = $1`, [slug]);
  }

  async findByDomain(domain: string): Promise<TenantRecord | undefined> {
    if (typeof domain !== 'string') return undefined;
    const lower = domain.toLowerCase();
    if (!DomainSchema.safeParse(lower).success) return undefined;
    return this.#one(`${this.#sql.selectRecord} WHERE t.id = (SELECT tenant_id FROM ${this.#sql.domains} WHERE domain = $1)`, [lower]);
  }

  async list(filter?: TenantListFilter): Promise<TenantRecord[]> {
    const { status, plan, limit, offset } = checkListFilter(filter);
    const where: string[] = [];
    const args: unknown[] = [];
    if (status !== undefined) {
      args.push(status);
      where.push(`t.status = $${args.length}`);
    }
    if (plan !== undefined) {
      args.push(plan);
      where.push(`t.plan = $${args.length}`);
    }
    args.push(limit ?? null, offset); // LIMIT NULL means no limit
    const sql = `${this.#sql.selectRecord}${where.length === 0 ? '' : ` WHERE ${where.join(' AND ')}`}
      ORDER BY t.id COLLATE "C" LIMIT $${args.length - 1} OFFSET $${args.length}`;
    const result = await this.#query(this.#pool, sql, args);
    return result.rows.map((row) => this.#rowToRecord(row));
  }

  async put(input: TenantRecordInput): Promise<TenantRecord> {
    // Validation first: nothing invalid ever reaches SQL.
    const record = normalizeRecord(input, undefined, isoNow(this.#now));
    return this.#write(record, async (client) => {
      await this.#query(client, `SELECT 1 FROM ${this.#sql.tenants} WHERE id = $1 FOR UPDATE`, [record.id]);
    });
  }

  async update(id: string, fn: TenantRecordUpdater): Promise<TenantRecord | undefined> {
    if (typeof fn !== 'function') throw new TypeError('update: fn must be a function returning the new record');
    if (!isTenantId(id)) return undefined;
    let found = true;
    let record: TenantRecord | undefined;
    const stored = await this.#transaction(async (client) => {
      const result = await this.#query(client, `${this.#sql.selectRecord} WHERE t.id = $1 FOR UPDATE OF t`, [id]);
      const row = result.rows[0];
      if (row === undefined) {
        found = false;
        return undefined;
      }
      const next = await fn(this.#rowToRecord(row));
      record = normalizeRecord(next, undefined, isoNow(this.#now));
      if (record.id !== id) throw new TypeError(`update: fn returned a record with id "${record.id}" for tenant "${id}"`);
      return this.#store(client, record);
    }, (err) => this.#explainConflict(err, id, record));
    return found ? stored : undefined;
  }

  async delete(id: string): Promise<boolean> {
    // put() never stores an id that is not a tenant id (and PostgreSQL refuses NUL in text)
    if (!isTenantId(id)) return false;
    // The domains go with it (ON DELETE CASCADE), in the same statement.
    const result = await this.#query(this.#pool, `DELETE FROM ${this.#sql.tenants} WHERE id = $1`, [id]);
    return (result.rowCount ?? 0) > 0;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ownsPool) await this.#pool.end();
  }

  /** `put`: one transaction; `lock` takes the tenant's row lock before anything else. */
  async #write(record: TenantRecord, lock: (client: PoolClient) => Promise<void>): Promise<TenantRecord> {
    return this.#transaction(
      async (client) => {
        await lock(client);
        return this.#store(client, record);
      },
      (err) => this.#explainConflict(err, record.id, record),
    );
  }

  /**
   * Stores `record` inside a transaction that already holds the tenant's row lock (when the row
   * exists). Lock order everywhere: the tenant row, then advisory locks on names in sorted
   * order, then the rows written: no two writers wait on each other in a cycle.
   */
  async #store(client: PoolClient, record: TenantRecord): Promise<TenantRecord> {
    const { tenants, domains, label } = this.#sql;
    const { id, slug } = record;
    // Row locks cannot cover rows that do not exist yet (a new tenant whose id is being taken
    // as a slug elsewhere): an advisory lock per name serializes every writer that brings a
    // name into use, and the checks below then see the other writer's committed rows.
    const names = [...new Set(slug === undefined ? [id] : [id, slug])].sort();
    for (const name of names) {
      await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`tenantry:name:${label}:${name}`]);
    }
    const conflict = await this.#findConflict(client, record);
    if (conflict !== undefined) throw conflict;

    const written = await this.#query(
      client,
      `INSERT INTO ${tenants} AS t (id, slug, plan, region, status, db_url, db_auth_token, quotas, created_at, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10)
        ON CONFLICT (id) DO UPDATE SET slug = excluded.slug, plan = excluded.plan, region = excluded.region,
          status = excluded.status, db_url = excluded.db_url, db_auth_token = excluded.db_auth_token,
          quotas = excluded.quotas, updated_at = excluded.updated_at, version = t.version + 1
        RETURNING to_char(t.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created_at,
          to_char(t.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS updated_at`,
      [
        id,
        slug ?? null,
        record.plan,
        record.region ?? null,
        record.status,
        record.db.url ?? null,
        record.db.authToken ?? null,
        record.quotas === undefined ? null : JSON.stringify(record.quotas),
        record.createdAt,
        record.updatedAt,
      ],
    );
    await client.query(`DELETE FROM ${domains} WHERE tenant_id = $1`, [id]);
    if (record.domains.length > 0) {
      await client.query(`INSERT INTO ${domains} (domain, tenant_id) SELECT unnest($1::text[]), $2`, [record.domains, id]);
    }
    const row = written.rows[0] as { created_at?: unknown; updated_at?: unknown } | undefined;
    // The stored timestamps (millisecond precision, UTC), so put() returns what get() will.
    return {
      ...record,
      ...(typeof row?.created_at === 'string' ? { createdAt: row.created_at } : {}),
      ...(typeof row?.updated_at === 'string' ? { updatedAt: row.updated_at } : {}),
    };
  }

  /** The first rule `record` breaks against other tenants' committed rows, as the contract's TypeError. */
  async #findConflict(client: Pool | PoolClient, record: TenantRecord): Promise<TypeError | undefined> {
    const { tenants, domains } = this.#sql;
    const { id, slug } = record;
    if (slug !== undefined) {
      const owner = await client.query(`SELECT id FROM ${tenants} WHERE slug = $1 AND id <> $2`, [slug, id]);
      if (owner.rows[0] !== undefined) return conflictError('slug', slug, String(owner.rows[0]['id']));
      const clash = await client.query(`SELECT id FROM ${tenants} WHERE id = $1 AND id <> $2`, [slug, id]);
      if (clash.rows[0] !== undefined) return nameClashError('slug', slug, String(clash.rows[0]['id']));
    }
    const idClash = await client.query(`SELECT id FROM ${tenants} WHERE slug = $1 AND id <> $1`, [id]);
    if (idClash.rows[0] !== undefined) return nameClashError('id', id, String(idClash.rows[0]['id']));
    if (record.domains.length > 0) {
      const taken = await client.query(
        `SELECT domain, tenant_id FROM ${domains} WHERE domain = ANY($1::text[]) AND tenant_id <> $2 ORDER BY domain COLLATE "C" LIMIT 1`,
        [record.domains, id],
      );
      const hit = taken.rows[0];
      if (hit !== undefined) return conflictError('domain', String(hit['domain']), String(hit['tenant_id']));
    }
    return undefined;
  }

  /**
   * A unique violation that slipped past the checks (a concurrent writer committed a domain
   * between check and insert) becomes the contract's TypeError, worded after a fresh read.
   */
  async #explainConflict(err: unknown, id: string, record?: TenantRecord): Promise<unknown> {
    if (sqlState(err) !== UNIQUE_VIOLATION) return err;
    if (record !== undefined) {
      try {
        const found = await this.#findConflict(this.#pool, record);
        if (found !== undefined) return new TypeError(found.message, { cause: err });
      } catch {
        // This read only words the message; the violation is reported below either way.
      }
    }
    return new TypeError(`tenant record: the slug or a domain of tenant "${id}" belongs to another tenant`, { cause: err });
  }

  /**
   * Runs `fn` in a transaction on one pooled connection. A connection whose ROLLBACK failed is
   * destroyed, not returned to the pool (pg-pool drops one that lost its socket by itself). `mapError` rewords the failure after the rollback.
   */
  async #transaction<T>(fn: (client: PoolClient) => Promise<T>, mapError?: (err: unknown) => Promise<unknown>): Promise<T> {
    const client = await this.#pool.connect();
    // A connection that drops between two statements emits 'error' on the checked-out client;
    // the next statement rejects with it, so the event itself needs no handling.
    const ignore = (): void => {};
    client.on('error', ignore);
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      let result: T;
      try {
        result = await fn(client);
      } catch (err) {
        try {
          await client.query('ROLLBACK');
        } catch (rollbackError) {
          broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
        }
        throw err;
      }
      await client.query('COMMIT');
      return result;
    } catch (err) {
      throw this.#missingTable(mapError === undefined ? err : await mapError(err));
    } finally {
      client.removeListener('error', ignore);
      client.release(broken);
    }
  }

  async #one(sql: string, args: unknown[]): Promise<TenantRecord | undefined> {
    const result = await this.#query(this.#pool, sql, args);
    const row = result.rows[0];
    return row === undefined ? undefined : this.#rowToRecord(row);
  }

  async #query(client: Pool | PoolClient, sql: string, args: unknown[]): Promise<pg.QueryResult> {
    try {
      return await client.query(sql, args);
    } catch (err) {
      throw this.#missingTable(err);
    }
  }

  /** "relation does not exist" before `migrate()` becomes an error that says to run it. */
  #missingTable(err: unknown): unknown {
    const state = sqlState(err);
    if (state !== UNDEFINED_TABLE && state !== INVALID_SCHEMA_NAME) return err;
    return new Error(`postgresRegistry: the registry tables in schema "${this.#schema}" (${this.#table}) do not exist; run await registry.migrate() first`, {
      cause: err,
    });
  }

  /** A row of the record select as a record; a corrupt row rejects (never a half record). */
  #rowToRecord(row: QueryResultRow): TenantRecord {
    const id: unknown = row['id'];
    const label = typeof id === 'string' ? `tenant "${id}"` : 'a tenant row';
    const parse = (column: string, text: unknown): unknown => {
      if (text === null || text === undefined) return undefined;
      try {
        return JSON.parse(String(text));
      } catch (err) {
        throw new Error(`postgresRegistry: ${label} has invalid JSON in column ${column}`, { cause: err });
      }
    };
    const domains = parse('domains', row['domains']);
    const candidate = {
      id,
      ...optional('slug', row['slug']),
      domains: Array.isArray(domains) ? [...(domains as unknown[])].sort() : domains,
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
      throw new Error(`postgresRegistry: ${label} in ${this.#sql.label} is not a valid tenant record`, { cause: parsed.error });
    }
    // Rebuild rather than return zod's output, so absent optional fields stay absent.
    return candidate as TenantRecord;
  }
}

function isTenantId(value: unknown): value is string {
  return typeof value === 'string' && TENANT_ID_PATTERN.test(value);
}

function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function optional(key: string, value: unknown): Record<string, unknown> {
  return value === null || value === undefined ? {} : { [key]: value };
}
