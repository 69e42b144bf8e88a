/**
 * Allocation gauges: what a tenant has used, measured in the tenant's own database.
 * Every identifier is quoted; nothing from the caller is pasted into SQL unquoted.
 */
import type { Client } from '@libsql/client';

/** Tables that are tenantry's or SQLite's own and never count as user objects. */
const SYSTEM_TABLES = `name not like 'sqlite\\_%' escape '\\' and name not like '\\_tenantry\\_%' escape '\\' and name not like 'tenantry\\_%' escape '\\' and name not like '\\_litestream%' escape '\\'`;

/** Longest object (table) name accepted by the record gauge. */
export const MAX_OBJECT_NAME_LENGTH = 128;

/** Number of user tables (objects) in the tenant database. */
export async function measureObjectCount(client: Client): Promise<number> {
  const { rows } = await client.execute(`select count(*) as n from sqlite_master where type = 'table' and ${SYSTEM_TABLES}`);
  return Number(rows[0]?.['n'] ?? 0);
}

/** Names of the user tables. */
async function userTables(client: Client): Promise<string[]> {
  const { rows } = await client.execute(`select name from sqlite_master where type = 'table' and ${SYSTEM_TABLES} order by name`);
  return rows.map((row) => String(row['name']));
}

/**
 * Rows in table `object`; 0 when the table does not exist (yet). The name is checked against
 * `sqlite_master` (bound as a parameter) and then quoted as an identifier.
 */
export async function measureRecordCount(client: Client, object: string): Promise<number> {
  assertObjectName(object);
  const { rows } = await client.execute({ sql: "select 1 from sqlite_master where type = 'table' and name = ?", args: [object] });
  if (rows.length === 0) return 0;
  const counted = await client.execute(`select count(*) as n from ${quoteIdentifier(object)}`);
  return Number(counted.rows[0]?.['n'] ?? 0);
}

/** Rows in all user tables together. */
export async function measureTotalRecords(client: Client): Promise<number> {
  const tables = await userTables(client);
  if (tables.length === 0) return 0;
  const results = await client.batch(
    tables.map((table) => `select count(*) as n from ${quoteIdentifier(table)}`),
    'read',
  );
  return results.reduce((sum, result) => sum + Number(result.rows[0]?.['n'] ?? 0), 0);
}

/** Bytes the database occupies: page_count × page_size. */
export async function measureStorageBytes(client: Client): Promise<number> {
  const { rows } = await client.execute('select page_count * page_size as bytes from pragma_page_count(), pragma_page_size()');
  return Number(rows[0]?.['bytes'] ?? 0);
}

/** `"name"` with embedded quotes doubled: a safe SQLite identifier. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Object names: 1–128 characters, no NUL. Throws a `TypeError` otherwise. */
export function assertObjectName(object: unknown): asserts object is string {
  if (typeof object !== 'string' || object.length === 0 || object.length > MAX_OBJECT_NAME_LENGTH || object.includes('\0')) {
    throw new TypeError(`quota: object must be a table name of 1 to ${MAX_OBJECT_NAME_LENGTH} characters without NUL`);
  }
}
