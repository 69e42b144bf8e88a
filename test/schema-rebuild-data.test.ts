import type { Client } from '@libsql/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SchemaError, applyMigrationPlan, diffSchemas, generateMigrations, introspectDatabase, parseManifest, schemaFromManifest } from '../src/index.js';
import { tempDir } from './helpers/env.js';
import { freshDatabase, manifest, roundTrip } from './helpers/schema.js';

const ITEMS = {
  name: 'items',
  fields: [
    { name: 'label', type: 'text', required: true },
    { name: 'qty', type: 'number' },
    { name: 'flag', type: 'boolean' },
    { name: 'day', type: 'date' },
    { name: 'meta', type: 'json' },
    { name: 'ref', type: 'uuid' },
    { name: 'raw', type: 'binary' },
  ],
  indexes: [{ fields: ['day'] }],
};

const ROWS = 600;

let dir: string;
let cleanup: () => void;
let client: Client;
beforeAll(() => ({ dir, cleanup } = tempDir('tenantry-schema-rebuild-')));
afterAll(() => cleanup());
afterEach(() => client?.close());

/** Fills `items` with varied values: NULLs, quotes, unicode, blobs, big and negative numbers. */
async function fill(): Promise<void> {
  const statements = [];
  for (let i = 0; i < ROWS; i++) {
    statements.push({
      sql: 'insert into items (label, qty, flag, day, meta, ref, raw) values (?, ?, ?, ?, ?, ?, ?)',
      args: [
        `item ${i} — "quoted" 'single' ✓ ${'x'.repeat(i % 7)}`,
        i % 5 === 0 ? null : i * 1.25 - 300,
        i % 3 === 0 ? null : i % 2,
        i % 4 === 0 ? null : `2024-${String((i % 12) + 1).padStart(2, '0')}-15`,
        JSON.stringify({ i, tags: ['a', 'b'] }),
        globalThis.crypto.randomUUID(),
        i % 6 === 0 ? null : new Uint8Array([i % 256, 0, 255, (i * 7) % 256]).buffer,
      ],
    });
  }
  await client.batch(statements, 'write');
  // a few rows deleted, so rowids have gaps the rebuild must keep
  await client.execute('delete from items where rowid % 97 = 0');
}

async function snapshot(columns = 'rowid, id, label, qty, flag, day, meta, ref, raw'): Promise<unknown[]> {
  const result = await client.execute(`select ${columns} from items order by rowid`);
  return result.rows.map((row) => Object.fromEntries(result.columns.map((c) => [c, normalize(row[c])])));
}

function normalize(value: unknown): unknown {
  return value instanceof ArrayBuffer ? Array.from(new Uint8Array(value)) : value;
}

describe('the table rebuild keeps the data', () => {
  it('keeps every row, value and rowid through a constraint change (required + unique + new default)', async () => {
    client = freshDatabase(dir);
    await roundTrip(client, manifest([ITEMS]));
    await fill();
    const before = await snapshot();
    expect(before.length).toBeGreaterThan(ROWS - 10);
    const changed = {
      ...ITEMS,
      fields: ITEMS.fields.map((f) =>
        f.name === 'label' ? { ...f, unique: true } : f.name === 'meta' ? { ...f, required: true, default: '{}' } : f.name === 'qty' ? { ...f, default: 0 } : f,
      ),
    };
    const { plan } = await roundTrip(client, manifest([changed]));
    expect(plan.statements.map((s) => s.kind)).toContain('rebuild_copy');
    expect(plan.destructive).toBe(false);
    expect(await snapshot()).toEqual(before);
  });

  it('keeps every row through a type change (boolean → number, date → datetime) and a rename', async () => {
    client = freshDatabase(dir);
    await roundTrip(client, manifest([ITEMS]));
    await fill();
    const before = await snapshot();
    const changed = {
      ...ITEMS,
      fields: ITEMS.fields.map((f) =>
        f.name === 'flag' ? { ...f, type: 'number' } : f.name === 'day' ? { name: 'day_at', type: 'datetime', renamedFrom: 'day' } : f,
      ),
      indexes: [{ fields: ['day_at'] }],
    };
    const { diff, plan } = await roundTrip(client, manifest([changed]));
    expect(diff.hasBreakingChanges).toBe(false);
    expect(plan.statements.find((s) => s.kind === 'rebuild_copy')!.sql).toContain('"day_at"');
    const after = await snapshot('rowid, id, label, qty, flag, day_at AS day, meta, ref, raw');
    expect(after).toEqual(before);
    // the new affinity applies: a boolean 1 is now the REAL 1.0
    const types = await client.execute('select distinct typeof(flag) as t from items order by t');
    expect(types.rows.map((r) => r['t'])).toEqual(['null', 'real']);
  });

  it('keeps the values of the remaining fields when a rebuild also drops one', async () => {
    client = freshDatabase(dir);
    await roundTrip(client, manifest([{ ...ITEMS, fields: [...ITEMS.fields, { name: 'code', type: 'text', unique: true }] }]));
    await fill();
    const before = await snapshot();
    const { plan } = await roundTrip(client, manifest([ITEMS]));
    expect(plan.statements.find((s) => s.kind === 'rebuild_copy')).toMatchObject({ destructive: true });
    expect(await snapshot()).toEqual(before);
  });

  it('leaves views on the table working and rows of referencing tables in place (no cascade)', async () => {
    client = freshDatabase(dir);
    await roundTrip(client, manifest([ITEMS]));
    await fill();
    await client.executeMultiple(`
      create view item_labels as select id, label from items;
      create table notes_on_items (item_id text references items(id) on delete cascade, note text);
      insert into notes_on_items select id, 'note' from items limit 20;
    `);
    const { plan } = await roundTrip(client, {
      tables: {
        ...Object.fromEntries(Object.entries((await introspectDatabase(client)).tables).filter(([name]) => name !== 'items')),
        items: { ...(desiredItems({ ...ITEMS, fields: ITEMS.fields.map((f) => (f.name === 'qty' ? { ...f, type: 'text' } : f)) })) },
      },
    });
    expect(plan.statements.map((s) => s.kind)).toContain('rebuild_rename');
    expect((await client.execute('select count(*) as n from notes_on_items')).rows[0]!['n']).toBe(20);
    expect((await client.execute('select count(*) as n from item_labels')).rows[0]!['n']).toBe((await snapshot()).length);
    expect((await client.execute('pragma foreign_keys')).rows[0]!['foreign_keys']).toBe(1);
  });

  it('rolls back a drop that leaves rows pointing at the dropped object (FOREIGN_KEY_VIOLATION)', async () => {
    client = freshDatabase(dir);
    await roundTrip(client, manifest([ITEMS, { name: 'tags', fields: [{ name: 'label', type: 'text' }] }]));
    await fill();
    await client.executeMultiple(`
      create table tag_links (tag_id text references tags(id), item_id text);
      insert into tags (id, label) values ('t1', 'red');
      insert into tag_links values ('t1', 'x');
    `);
    const current = await introspectDatabase(client);
    const desired = { tables: { items: current.tables['items']!, tag_links: current.tables['tag_links']! } };
    const plan = generateMigrations(diffSchemas(current, desired));
    const error = await applyMigrationPlan(client, plan).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(SchemaError);
    expect(error).toMatchObject({ code: 'FOREIGN_KEY_VIOLATION' });
    expect((error as Error).message).toMatch(/foreign keys no longer hold after changing "tags".*nothing was changed/);
    expect((await client.execute('select label from tags')).rows.map((r) => r['label'])).toEqual(['red']);
  });

  it('refuses to rebuild a table with parts the model cannot carry over (UNSUPPORTED_CHANGE)', async () => {
    client = freshDatabase(dir);
    await client.execute('create table legacy (id text primary key, qty real check (qty >= 0), name text collate nocase)');
    const current = await introspectDatabase(client);
    expect(current.tables['legacy']!.rebuildBlockers).toEqual(['a CHECK constraint', 'a COLLATE clause']);
    const columns = current.tables['legacy']!.columns.map((c) => (c.name === 'qty' ? { ...c, type: 'TEXT' } : c));
    const diff = diffSchemas(current, { tables: { legacy: { ...current.tables['legacy']!, columns } } });
    expect(() => generateMigrations(diff)).toThrow(SchemaError);
    expect(() => generateMigrations(diff)).toThrow(/rebuild would lose its a CHECK constraint, a COLLATE clause/);
    // a change ALTER TABLE can make still works
    const added = [...current.tables['legacy']!.columns, { name: 'note', type: 'TEXT', nullable: true, primaryKey: false, unique: false }];
    await roundTrip(client, { tables: { legacy: { ...current.tables['legacy']!, columns: added } } });
  });
});

/** The desired `items` table of a manifest object, for a hand-built definition. */
function desiredItems(object: unknown) {
  return schemaFromManifest(parseManifest({ version: '1', objects: [object] })).tables['items']!;
}
