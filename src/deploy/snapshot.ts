/**
 * Snapshots of local tenant databases: taken with `VACUUM INTO` before a deploy, restored by a
 * rollback in one transaction (the database file stays in place, so pooled clients keep
 * working): every ordinary table the deploy could have touched is dropped and recreated from
 * the snapshot with its rows (rowids kept), indexes and triggers. Tenantry's own tables
 * (`_tenantry_*`, so `_tenantry_apps` too), SQLite's, virtual tables and their shadow tables,
 * views, and the tables of installed apps (passed in as `excluded`, see scope.ts) are left alone.
 *
 * Both need the raw database: the tenant client handed to requests refuses `VACUUM INTO` and
 * `ATTACH` on purpose (see src/router/leased-client.ts), so the snapshot is taken on the pool's
 * own client (a lease) and restored through a client of its own on the file.
 */
import type { Client } from '@libsql/client';
import { foldName, quoteIdent, quoteString } from '../schema/sql.js';

/** Schema name the snapshot is attached under during a restore. */
const SNAPSHOT_SCHEMA = 'tenantry_snapshot';
/** Tables a restore manages: ordinary tables, not SQLite's or tenantry's own. */
const USER_TABLES = String.raw`m.type = 'table' AND m.name NOT LIKE 'sqlite\_%' ESCAPE '\' AND m.name NOT LIKE '\_tenantry\_%' ESCAPE '\'`;
const ROWID_NAMES = new Set(['rowid', 'oid', '_rowid_']);

/** Writes a consistent copy of the database behind `client` (a raw, unguarded client) to `file`. */
export async function takeSnapshot(client: Client, file: string): Promise<void> {
  await client.execute(`VACUUM INTO ${quoteString(file)}`);
}

interface SnapshotTable {
  name: string;
  sql: string;
  columns: string[];
  copyRowid: boolean;
}

/** What a restore needs from the snapshot: its tables (with columns), their indexes and triggers. */
export interface SnapshotLayout {
  tables: SnapshotTable[];
  /** `CREATE INDEX` and `CREATE TRIGGER` statements of those tables. */
  extras: string[];
  /** The snapshot has `sqlite_sequence` rows (AUTOINCREMENT tables). */
  sequence: boolean;
}

/**
 * Reads the layout of the snapshot database behind `client` (a client on the snapshot file),
 * without the tables whose folded names are in `excluded` (apps' tables) and their indexes and triggers.
 */
export async function readSnapshotLayout(client: Client, excluded: ReadonlyMap<string, unknown> | ReadonlySet<string> = new Set()): Promise<SnapshotLayout> {
  const [tables, columns, extras, sequence] = await client.batch(
    [
      `SELECT m.name AS name, m.sql AS sql, l.wr AS wr FROM sqlite_schema AS m JOIN pragma_table_list AS l ON l.name = m.name AND l.schema = 'main'
        WHERE ${USER_TABLES} AND l.type = 'table' ORDER BY m.rowid`,
      `SELECT m.name AS tbl, c.name AS name, c.type AS type, c.pk AS pk, c.hidden AS hidden FROM sqlite_schema AS m JOIN pragma_table_xinfo(m.name) AS c
        WHERE ${USER_TABLES} ORDER BY m.name, c.cid`,
      `SELECT tbl_name AS tbl, sql FROM sqlite_schema WHERE type IN ('index', 'trigger') AND sql IS NOT NULL ORDER BY type, rowid`,
      "SELECT count(*) AS n FROM sqlite_schema WHERE type = 'table' AND name = 'sqlite_sequence'",
    ],
    'read',
  );
  const byTable = new Map<string, { name: string; type: string; pk: number; hidden: number }[]>();
  for (const row of columns!.rows) {
    const list = byTable.get(String(row['tbl'])) ?? [];
    list.push({ name: String(row['name']), type: String(row['type'] ?? ''), pk: Number(row['pk']), hidden: Number(row['hidden']) });
    byTable.set(String(row['tbl']), list);
  }
  const out: SnapshotTable[] = [];
  for (const row of tables!.rows) {
    const name = String(row['name']);
    if (excluded.has(foldName(name))) continue;
    const cols = byTable.get(name) ?? [];
    const pk = cols.filter((c) => c.pk > 0);
    const integerKey = pk.length === 1 && pk[0]!.type.trim().toUpperCase() === 'INTEGER';
    const copyRowid = Number(row['wr']) !== 1 && !integerKey && !cols.some((c) => ROWID_NAMES.has(c.name.toLowerCase()));
    out.push({ name, sql: String(row['sql']), columns: cols.filter((c) => c.hidden === 0).map((c) => c.name), copyRowid });
  }
  const names = new Set(out.map((t) => t.name));
  return {
    tables: out,
    extras: extras!.rows.filter((r) => names.has(String(r['tbl']))).map((r) => String(r['sql'])),
    sequence: Number(sequence!.rows[0]?.['n'] ?? 0) > 0 && out.some((t) => /AUTOINCREMENT/i.test(t.sql)),
  };
}

/** The ordinary tables of the live database but those whose folded names are in `excluded` (apps' tables): dropped by a restore. */
export async function readLiveTables(client: Client, excluded: ReadonlyMap<string, unknown> | ReadonlySet<string> = new Set()): Promise<string[]> {
  const { rows } = await client.execute(
    `SELECT m.name AS name FROM sqlite_schema AS m JOIN pragma_table_list AS l ON l.name = m.name AND l.schema = 'main' WHERE ${USER_TABLES} AND l.type = 'table'`,
  );
  return rows.map((r) => String(r['name'])).filter((name) => !excluded.has(foldName(name)));
}

/**
 * The restore as one script for `executeMultiple` (one connection: `ATTACH` cannot run inside
 * a transaction, and must be on the connection that reads the snapshot). Foreign keys are off
 * while tables are replaced; `trailing` (the record update) runs before `COMMIT`. If any
 * statement fails, the client rolls the open transaction back.
 */
export function restoreScript(file: string, layout: SnapshotLayout, live: readonly string[], trailing: readonly string[]): string {
  const snap = quoteIdent(SNAPSHOT_SCHEMA);
  const lines = ['PRAGMA foreign_keys = OFF', `ATTACH DATABASE ${quoteString(file)} AS ${snap}`, 'BEGIN IMMEDIATE'];
  for (const name of live) lines.push(`DROP TABLE main.${quoteIdent(name)}`);
  for (const table of layout.tables) lines.push(table.sql);
  for (const table of layout.tables) {
    const columns = table.columns.map(quoteIdent);
    if (table.copyRowid) columns.unshift('rowid');
    if (columns.length === 0) continue;
    lines.push(`INSERT INTO main.${quoteIdent(table.name)} (${columns.join(', ')}) SELECT ${columns.join(', ')} FROM ${snap}.${quoteIdent(table.name)}`);
  }
  if (layout.sequence && layout.tables.length > 0) {
    const names = layout.tables.map((t) => quoteString(t.name)).join(', ');
    lines.push(`DELETE FROM main.sqlite_sequence WHERE name IN (${names})`);
    lines.push(`INSERT INTO main.sqlite_sequence (name, seq) SELECT name, seq FROM ${snap}.sqlite_sequence WHERE name IN (${names})`);
  }
  lines.push(...layout.extras, ...trailing, 'COMMIT', `DETACH DATABASE ${snap}`, 'PRAGMA foreign_keys = ON');
  return lines.map((l) => `${l};`).join('\n');
}
