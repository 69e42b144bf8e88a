/**
 * Introspection: the schema of one database as the model describes it, read in one batch
 * (one round trip to a remote database) from `sqlite_master`, `pragma table_xinfo`,
 * `pragma index_list` and `pragma index_info`.
 */
import type { Client, Row } from '@libsql/client';
import { fieldTypeOf } from './bundle.js';
import { DECLARED_TYPE_PATTERN, normalizeType, sqlWords } from './sql.js';
import type { IntrospectedColumn, IntrospectedIndex, IntrospectedSchema, IntrospectedTable } from './types.js';

/**
 * The tables introspection reads: ordinary tables of `main`, not SQLite's own (`sqlite_*`),
 * not tenantry's (`_tenantry_*`), not virtual tables (and, below, not their shadow tables).
 */
const TABLES = String.raw`m.type = 'table' AND m.name NOT LIKE 'sqlite\_%' ESCAPE '\' AND m.name NOT LIKE '\_tenantry\_%' ESCAPE '\' AND coalesce(m.sql, '') NOT LIKE 'CREATE VIRTUAL%'`;

const QUERIES = [
  `SELECT name, type, wr, strict FROM pragma_table_list WHERE schema = 'main'`,
  `SELECT m.name AS tbl, m.sql AS tsql, c.cid AS cid, c.name AS name, c.type AS type, c."notnull" AS nn, c.dflt_value AS dflt, c.pk AS pk, c.hidden AS hidden
     FROM sqlite_schema AS m JOIN pragma_table_xinfo(m.name, 'main') AS c WHERE ${TABLES} ORDER BY m.name, c.cid`,
  `SELECT m.name AS tbl, il.name AS idx, il."unique" AS uniq, il.origin AS origin, il.partial AS partial, ii.seqno AS seqno, ii.cid AS cid, ii.name AS col, x.sql AS isql
     FROM sqlite_schema AS m JOIN pragma_index_list(m.name, 'main') AS il JOIN pragma_index_info(il.name, 'main') AS ii
     LEFT JOIN sqlite_schema AS x ON x.type = 'index' AND x.name = il.name
     WHERE ${TABLES} ORDER BY m.name, il.name, ii.seqno`,
  `SELECT m.name AS tbl, count(*) AS n FROM sqlite_schema AS m JOIN pragma_foreign_key_list(m.name, 'main') AS f WHERE ${TABLES} GROUP BY m.name`,
  `SELECT name, tbl_name AS tbl FROM sqlite_schema WHERE type = 'trigger'`,
];

/** Keywords of a `CREATE TABLE` statement that the model does not carry over a rebuild. */
const BLOCKING_WORDS: ReadonlyMap<string, string> = new Map([
  ['CHECK', 'a CHECK constraint'],
  ['COLLATE', 'a COLLATE clause'],
  ['AUTOINCREMENT', 'AUTOINCREMENT'],
  ['CONFLICT', 'an ON CONFLICT clause'],
  ['REFERENCES', 'a foreign key'],
]);

/** Options of {@link introspectDatabase}. */
export interface IntrospectOptions {
  /** Clock for `introspectedAt`, in ms since the epoch. Default `Date.now`. */
  now?: () => number;
}

/**
 * Reads the schema of the database behind `client`: every ordinary table (not `sqlite_*`,
 * `_tenantry_*`, virtual or shadow tables), its columns in order, single-column `UNIQUE`
 * constraints (as `unique` on the column), `CREATE INDEX` indexes, and the parts a rebuild would
 * lose (`rebuildBlockers`). One read batch. The client is not closed.
 *
 * @example
 * const schema = await introspectDatabase(createClient({ url: 'file:acme.db' }));
 * schema.tables.notes.columns.map((c) => `${c.name} ${c.type}`)
 */
export async function introspectDatabase(client: Client, options: IntrospectOptions = {}): Promise<IntrospectedSchema> {
  const now = options.now ?? Date.now;
  const [list, columns, indexes, foreignKeys, triggers] = await client.batch(QUERIES, 'read');
  const kinds = new Map(list!.rows.map((r) => [String(r['name']), r]));
  const tables = new Map<string, IntrospectedTable>();
  const sqlOf = new Map<string, string>();
  const pkOrder = new Map<string, number[]>();

  for (const row of columns!.rows) {
    const name = String(row['tbl']);
    const kind = kinds.get(name);
    if (kind !== undefined && kind['type'] !== 'table') continue; // shadow tables of virtual tables
    let table = tables.get(name);
    if (table === undefined) {
      table = { name, columns: [], indexes: [], rebuildBlockers: [] };
      tables.set(name, table);
      sqlOf.set(name, row['tsql'] === null ? '' : String(row['tsql']));
      if (kind !== undefined && Number(kind['wr']) === 1) table.rebuildBlockers.push('WITHOUT ROWID');
      if (kind !== undefined && Number(kind['strict']) === 1) table.rebuildBlockers.push('STRICT');
    }
    table.columns.push(...columnOf(row, table, pkOrder));
  }

  for (const [name, order] of pkOrder) {
    if (order.some((pk, i) => i > 0 && pk < order[i - 1]!)) {
      tables.get(name)?.rebuildBlockers.push('a composite primary key in another order than its columns');
    }
  }

  readIndexes(indexes!.rows, tables);

  for (const row of foreignKeys!.rows) {
    const n = Number(row['n']);
    tables.get(String(row['tbl']))?.rebuildBlockers.push(n === 1 ? '1 foreign key' : `${n} foreign keys`);
  }
  for (const row of triggers!.rows) tables.get(String(row['tbl']))?.rebuildBlockers.push(`trigger "${String(row['name'])}"`);

  for (const [name, table] of tables) {
    const words = new Set(sqlWords(sqlOf.get(name) ?? ''));
    for (const [word, what] of BLOCKING_WORDS) {
      if (words.has(word) && !(word === 'REFERENCES' && table.rebuildBlockers.some((b) => b.includes('foreign key')))) table.rebuildBlockers.push(what);
    }
  }

  const out: Record<string, IntrospectedTable> = {};
  for (const name of [...tables.keys()].sort()) out[name] = tables.get(name)!;
  return { tables: out, dialect: 'sqlite', introspectedAt: new Date(now()).toISOString() };
}

/** The column of one `table_xinfo` row (none for a generated column, which blocks rebuilds). */
function columnOf(row: Row, table: IntrospectedTable, pkOrder: Map<string, number[]>): IntrospectedColumn[] {
  const name = String(row['name']);
  const hidden = Number(row['hidden']);
  if (hidden === 2 || hidden === 3) {
    table.rebuildBlockers.push(`generated column "${name}"`);
    return [];
  }
  const type = row['type'] === null ? '' : String(row['type']);
  if (!DECLARED_TYPE_PATTERN.test(type.trim())) table.rebuildBlockers.push(`column "${name}" has a declared type tenantry cannot rewrite (${type})`);
  const pk = Number(row['pk']);
  const column: IntrospectedColumn = {
    name,
    type,
    nullable: Number(row['nn']) === 0,
    primaryKey: pk > 0,
    unique: false,
  };
  const fieldType = fieldTypeOf(normalizeType(type));
  if (fieldType !== undefined) column.fieldType = fieldType;
  if (row['dflt'] !== null && row['dflt'] !== undefined) column.defaultValue = String(row['dflt']);
  if (pk > 0) {
    const order = pkOrder.get(table.name) ?? [];
    order.push(pk);
    pkOrder.set(table.name, order);
  }
  return [column];
}

/** Index rows (one per indexed column) into `unique` columns, indexes and blockers. */
function readIndexes(rows: Row[], tables: Map<string, IntrospectedTable>): void {
  const groups = new Map<string, { table: IntrospectedTable; rows: Row[] }>();
  for (const row of rows) {
    const table = tables.get(String(row['tbl']));
    if (table === undefined) continue;
    const key = `${table.name}\0${String(row['idx'])}`;
    let group = groups.get(key);
    if (group === undefined) {
      group = { table, rows: [] };
      groups.set(key, group);
    }
    group.rows.push(row);
  }
  for (const { table, rows: parts } of groups.values()) {
    const first = parts[0]!;
    const origin = String(first['origin']);
    const names = parts.filter((p) => p['col'] !== null).map((p) => String(p['col']));
    const expression = parts.some((p) => p['col'] === null);
    if (origin === 'pk') continue; // described by the columns' primaryKey
    if (origin === 'u') {
      const column = names.length === 1 && !expression ? table.columns.find((c) => c.name === names[0]) : undefined;
      if (column !== undefined) column.unique = true;
      else table.rebuildBlockers.push(`a composite UNIQUE constraint (${names.join(', ')})`);
      continue;
    }
    const index: IntrospectedIndex = {
      name: String(first['idx']),
      columns: names,
      unique: Number(first['uniq']) === 1,
      partial: Number(first['partial']) === 1,
      expression,
    };
    if (first['isql'] !== null && first['isql'] !== undefined) index.sql = String(first['isql']);
    table.indexes.push(index);
  }
  for (const table of tables.values()) table.indexes.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
