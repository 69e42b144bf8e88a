import type { Client } from '@libsql/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { introspectDatabase } from '../src/index.js';
import { tempDir } from './helpers/env.js';
import { freshDatabase, manifest, roundTrip } from './helpers/schema.js';

let dir: string;
let cleanup: () => void;
let client: Client;
beforeAll(() => ({ dir, cleanup } = tempDir('tenantry-schema-introspect-')));
afterAll(() => cleanup());
afterEach(() => client?.close());

describe('introspection', () => {
  it('reads columns, field types, defaults, unique constraints and indexes of tables tenantry made', async () => {
    client = freshDatabase(dir);
    await roundTrip(
      client,
      manifest([
        {
          name: 'notes',
          fields: [
            { name: 'title', type: 'text', required: true, unique: true },
            { name: 'due', type: 'date', default: '2024-01-01' },
            { name: 'data', type: 'binary' },
          ],
          indexes: [{ fields: ['due', 'title'] }],
        },
      ]),
    );
    const schema = await introspectDatabase(client, { now: () => Date.UTC(2024, 0, 1) });
    expect(schema.dialect).toBe('sqlite');
    expect(schema.introspectedAt).toBe('2024-01-01T00:00:00.000Z');
    const notes = schema.tables['notes']!;
    expect(notes.columns.map((c) => [c.name, c.type, c.fieldType, c.nullable, c.unique, c.primaryKey])).toEqual([
      ['id', 'UUID TEXT', 'uuid', false, false, true],
      ['title', 'TEXT', 'text', false, true, false],
      ['due', 'DATE TEXT', 'date', true, false, false],
      ['data', 'BLOB', 'binary', true, false, false],
    ]);
    expect(notes.columns[2]!.defaultValue).toBe("'2024-01-01'");
    expect(notes.indexes).toEqual([
      { name: 'notes_due_title_idx', columns: ['due', 'title'], unique: false, partial: false, expression: false, sql: 'CREATE INDEX "notes_due_title_idx" ON "notes" ("due", "title")' },
    ]);
    expect(notes.rebuildBlockers).toEqual([]);
  });

  it("leaves out SQLite's tables, tenantry's tables, views, virtual tables and their shadow tables", async () => {
    client = freshDatabase(dir);
    await client.executeMultiple(`
      create table _tenantry_migrations (id text primary key);
      create table counters (id integer primary key autoincrement, n integer);
      insert into counters (n) values (1);
      create index counters_n on counters (n);
      analyze;
      create view counter_view as select n from counters;
      create virtual table docs using fts5 (body);
    `);
    const schema = await introspectDatabase(client);
    expect(Object.keys(schema.tables)).toEqual(['counters']);
  });

  it('lists what a rebuild would lose', async () => {
    client = freshDatabase(dir);
    await client.executeMultiple(`
      create table parent (id integer primary key autoincrement, a text, b text, unique (a, b));
      create table child (id integer primary key, parent_id integer references parent(id));
      create table calc (a real, b real generated always as (a * 2) virtual);
      create table kv (k text primary key, v text) without rowid;
      create table typed (a integer, b text) strict;
      create table audited (a text);
      create trigger audited_insert after insert on audited begin select 1; end;
      create table partial (a text, b text);
      create index partial_a on partial (a) where a is not null;
      create index partial_lower on partial (lower(b));
    `);
    const t = (await introspectDatabase(client)).tables;
    expect(t['parent']!.rebuildBlockers).toEqual(['a composite UNIQUE constraint (a, b)', 'AUTOINCREMENT']);
    expect(t['child']!.rebuildBlockers).toEqual(['1 foreign key']);
    expect(t['calc']!.rebuildBlockers).toEqual(['generated column "b"']);
    expect(t['calc']!.columns.map((c) => c.name)).toEqual(['a']);
    expect(t['kv']!.rebuildBlockers).toEqual(['WITHOUT ROWID']);
    expect(t['typed']!.rebuildBlockers).toEqual(['STRICT']);
    expect(t['audited']!.rebuildBlockers).toEqual(['trigger "audited_insert"']);
    expect(t['partial']!.rebuildBlockers).toEqual([]);
    expect(t['partial']!.indexes).toEqual([
      expect.objectContaining({ name: 'partial_a', columns: ['a'], partial: true, expression: false }),
      expect.objectContaining({ name: 'partial_lower', columns: [], partial: false, expression: true }),
    ]);
  });

  it('reads a hand-made table without field types and keeps it unchanged when it is desired as it is', async () => {
    client = freshDatabase(dir);
    await client.execute("create table legacy (code varchar(20) not null default 'x', amount numeric, flags)");
    const current = await introspectDatabase(client);
    expect(current.tables['legacy']!.columns).toEqual([
      { name: 'code', type: 'varchar(20)', nullable: false, defaultValue: "'x'", primaryKey: false, unique: false },
      { name: 'amount', type: 'numeric', nullable: true, primaryKey: false, unique: false },
      { name: 'flags', type: '', nullable: true, primaryKey: false, unique: false },
    ]);
    const { plan } = await roundTrip(client, current);
    expect(plan.statements).toEqual([]);
  });
});
