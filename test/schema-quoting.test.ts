import type { Client } from '@libsql/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SchemaError, diffSchemas, introspectDatabase } from '../src/index.js';
import type { ColumnDefinition, SchemaDefinition, TableDefinition } from '../src/index.js';
import { quoteIdent } from '../src/schema/sql.js';
import { tempDir } from './helpers/env.js';
import { freshDatabase, manifest, roundTrip } from './helpers/schema.js';

let dir: string;
let cleanup: () => void;
let client: Client;
beforeAll(() => ({ dir, cleanup } = tempDir('tenantry-schema-quoting-')));
afterAll(() => cleanup());
afterEach(() => client?.close());

const TABLE = 'order';
const EVIL = 'x"; drop table victims; --';

function column(name: string, type = 'TEXT', extra: Partial<ColumnDefinition> = {}): ColumnDefinition {
  return { name, type, nullable: true, primaryKey: false, unique: false, ...extra };
}

function schema(...tables: TableDefinition[]): SchemaDefinition {
  return { tables: Object.fromEntries(tables.map((t) => [t.name, t])) };
}

/** A table outside the changes, which must keep its row whatever the other names hold. */
const VICTIMS: TableDefinition = { name: 'victims', columns: [column('name')], indexes: [] };

const BASE: TableDefinition = {
  name: TABLE,
  columns: [
    column('select', 'TEXT', { primaryKey: true, nullable: false }),
    column('we"ird', 'REAL', { defaultValue: "'it''s \"quoted\"'" }),
    column('group by'),
    column(EVIL),
  ],
  indexes: [{ name: 'index "of" order', columns: ['group by', 'we"ird'], unique: false }],
};

describe('identifiers are always quoted', () => {
  it('quotes by doubling double quotes', () => {
    expect(quoteIdent('we"ird')).toBe('"we""ird"');
    expect(quoteIdent('order')).toBe('"order"');
    expect(() => quoteIdent('a\0b')).toThrow(TypeError);
  });

  it('creates, changes, rebuilds and drops objects whose names are keywords or hold quotes', async () => {
    client = freshDatabase(dir);
    await client.execute('create table victims (name text)');
    await client.execute("insert into victims values ('still here')");

    await roundTrip(client, schema(VICTIMS, BASE, { name: 'table "two"', columns: [column('from')], indexes: [] }));
    await client.execute(`insert into "order" ("select", "we""ird", "group by", ${quoteIdent(EVIL)}) values ('k1', 1.5, 'g', 'e')`);
    await client.execute(`insert into "order" ("select") values ('k2')`);

    // add a field, rename one, drop one (ALTER TABLE)
    const altered: TableDefinition = {
      ...BASE,
      columns: [BASE.columns[0]!, BASE.columns[1]!, column('where "now"', 'TEXT', { renamedFrom: 'group by' }), column('values')],
      indexes: [{ name: 'index "of" order', columns: ['where "now"', 'we"ird'], unique: false }],
    };
    const { plan: alterPlan } = await roundTrip(client, schema(VICTIMS, altered, { name: 'table "two"', columns: [column('from')], indexes: [] }));
    expect(alterPlan.statements.map((s) => s.kind)).toEqual(['drop_column', 'rename_column', 'add_column']);
    expect(alterPlan.statements.map((s) => s.sql)).toContain('ALTER TABLE "order" RENAME COLUMN "group by" TO "where ""now"""');

    // change a type and add a unique constraint (rebuild), rename the other table
    const rebuilt: TableDefinition = {
      ...altered,
      columns: altered.columns.map((c) => (c.name === 'we"ird' ? { ...c, type: 'TEXT' } : c.name === 'values' ? { ...c, unique: true } : c)),
      indexes: [{ name: 'index "of" order', columns: ['where "now"'], unique: true }],
    };
    const { plan: rebuildPlan } = await roundTrip(client, schema(VICTIMS, rebuilt, { name: 'limit', renamedFrom: 'table "two"', columns: [column('from')], indexes: [] }));
    expect(rebuildPlan.statements.map((s) => s.kind)).toContain('rebuild_copy');
    expect(rebuildPlan.statements.map((s) => s.kind)).toContain('rename_table');
    expect((await client.execute('select * from "order" order by "select"')).rows.map((r) => ({ ...r }))).toEqual([
      { select: 'k1', 'we"ird': '1.5', 'where "now"': 'g', values: null },
      { select: 'k2', 'we"ird': "it's \"quoted\"", 'where "now"': null, values: null },
    ]);

    // drop everything
    await roundTrip(client, schema(VICTIMS));
    expect((await client.execute('select name from victims')).rows.map((r) => r['name'])).toEqual(['still here']);
  });

  it('writes manifest string defaults with quotes as literals', async () => {
    client = freshDatabase(dir);
    await roundTrip(client, manifest([{ name: 'notes', fields: [{ name: 'title', type: 'text', default: `it's "x"; drop table notes; --` }] }]));
    await client.execute('insert into notes default values');
    expect((await client.execute('select title from notes')).rows[0]!['title']).toBe(`it's "x"; drop table notes; --`);
  });

  it('matches names case-insensitively, as SQLite does', async () => {
    client = freshDatabase(dir);
    await client.execute('create table "Notes" ("Title" text)');
    const diff = diffSchemas(await introspectDatabase(client), schema({ name: 'notes', columns: [column('title')], indexes: [] }));
    expect(diff.changes).toEqual([]);
  });

  it('refuses a hand-built default that could end its DEFAULT clause', () => {
    const bad = schema({ name: 't', columns: [column('a', 'TEXT', { defaultValue: "1); drop table victims; --" })], indexes: [] });
    expect(() => diffSchemas({ tables: {} }, bad)).toThrow(SchemaError);
    expect(() => diffSchemas({ tables: {} }, schema({ name: 't', columns: [column('a', 'TEXT; drop')], indexes: [] }))).toThrow(/declared type/);
  });
});
