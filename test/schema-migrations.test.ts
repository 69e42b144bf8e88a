import type { Client } from '@libsql/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SchemaError, applyMigrationPlan, diffSchemas, generateMigrations, introspectDatabase, readSchemaVersion } from '../src/index.js';
import type { MigrationPlan } from '../src/index.js';
import { tempDir } from './helpers/env.js';
import { freshDatabase, manifest, roundTrip } from './helpers/schema.js';

const NOTES_V1 = {
  name: 'notes',
  fields: [
    { name: 'title', type: 'text', required: true },
    { name: 'body', type: 'text' },
    { name: 'score', type: 'number' },
  ],
};

let dir: string;
let cleanup: () => void;
let client: Client;
beforeAll(() => ({ dir, cleanup } = tempDir('tenantry-schema-')));
afterAll(() => cleanup());
afterEach(() => client?.close());

async function start(objects: unknown[] = [NOTES_V1]): Promise<Client> {
  client = freshDatabase(dir);
  await roundTrip(client, manifest(objects));
  return client;
}

async function rows(sql: string): Promise<Record<string, unknown>[]> {
  return (await client.execute(sql)).rows.map((r) => ({ ...r }));
}

const kinds = (plan: MigrationPlan) => plan.statements.map((s) => s.kind);

describe('introspect → diff → generate → apply → introspect', () => {
  it('adds an object: one CREATE TABLE, then its indexes', async () => {
    client = freshDatabase(dir);
    const { diff, plan } = await roundTrip(client, manifest([{ ...NOTES_V1, indexes: [{ fields: ['title'] }] }]));
    expect(diff.summary).toEqual({ added: 1, modified: 0, removed: 0 });
    expect(diff.changes[0]).toMatchObject({ entityType: 'object', entityName: 'notes', changeType: 'added', breaking: false });
    expect(kinds(plan)).toEqual(['create_table', 'create_index']);
    expect(plan).toMatchObject({ dialect: 'sqlite', destructive: false, reversible: true });
    await client.execute("insert into notes (title) values ('a')");
    expect((await rows('select id from notes'))[0]!['id']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('adds fields with ALTER TABLE ADD COLUMN, a required one through its default', async () => {
    await start();
    await client.execute("insert into notes (title) values ('a')");
    const { plan } = await roundTrip(
      client,
      manifest([{ ...NOTES_V1, fields: [...NOTES_V1.fields, { name: 'due', type: 'date' }, { name: 'pinned', type: 'boolean', required: true, default: false }] }]),
    );
    expect(kinds(plan)).toEqual(['add_column', 'add_column']);
    expect(plan.statements[1]!.sql).toBe('ALTER TABLE "notes" ADD COLUMN "pinned" INTEGER NOT NULL DEFAULT 0');
    expect(await rows('select title, due, pinned from notes')).toEqual([{ title: 'a', due: null, pinned: 0 }]);
  });

  it('renames a field declared with renamedFrom, keeping its values and its index', async () => {
    await start([{ ...NOTES_V1, indexes: [{ name: 'notes_by_title', fields: ['title'] }] }]);
    await client.execute("insert into notes (title, body) values ('a', 'x')");
    const renamed = { ...NOTES_V1, fields: [{ name: 'heading', type: 'text', required: true, renamedFrom: 'title' }, ...NOTES_V1.fields.slice(1)] };
    const { diff, plan } = await roundTrip(client, manifest([{ ...renamed, indexes: [{ name: 'notes_by_title', fields: ['heading'] }] }]));
    expect(diff.changes).toEqual([expect.objectContaining({ entityType: 'field', entityName: 'heading', changeType: 'modified', breaking: false })]);
    expect(kinds(plan)).toEqual(['rename_column']);
    expect(plan.statements[0]).toMatchObject({ sql: 'ALTER TABLE "notes" RENAME COLUMN "title" TO "heading"', destructive: false, rollbackSql: 'ALTER TABLE "notes" RENAME COLUMN "heading" TO "title"' });
    expect(await rows('select heading, body from notes')).toEqual([{ heading: 'a', body: 'x' }]);
    // deploying the same manifest again is a no-op: the rename already happened
    expect(generateMigrations(diffSchemas(await introspectDatabase(client), manifest([renamed]))).statements.map((s) => s.kind)).toEqual(['drop_index']);
  });

  it('without renamedFrom a new name is a dropped field plus an added one, flagged destructive', async () => {
    await start();
    const { diff, plan } = await roundTrip(client, manifest([{ ...NOTES_V1, fields: [NOTES_V1.fields[0], { name: 'text', type: 'text' }, NOTES_V1.fields[2]] }]));
    expect(diff.hasBreakingChanges).toBe(true);
    expect(kinds(plan)).toEqual(['drop_column', 'add_column']);
  });

  it('renames an object declared with renamedFrom', async () => {
    await start([{ ...NOTES_V1, indexes: [{ name: 'by_title', fields: ['title'] }] }]);
    await client.execute("insert into notes (title) values ('a')");
    const { plan } = await roundTrip(client, manifest([{ ...NOTES_V1, name: 'memos', renamedFrom: 'notes', indexes: [{ name: 'by_title', fields: ['title'] }] }]));
    expect(kinds(plan)).toEqual(['rename_table']);
    expect(await rows('select title from memos')).toEqual([{ title: 'a' }]);
  });

  it('drops a field with DROP COLUMN, marked destructive in the diff and the plan', async () => {
    await start();
    await client.execute("insert into notes (title, body, score) values ('a', 'x', 1)");
    const { diff, plan } = await roundTrip(client, manifest([{ ...NOTES_V1, fields: [NOTES_V1.fields[0], NOTES_V1.fields[2]] }]));
    expect(diff.hasBreakingChanges).toBe(true);
    expect(diff.changes).toEqual([expect.objectContaining({ entityType: 'field', entityName: 'body', parentEntity: 'notes', changeType: 'removed', breaking: true })]);
    expect(plan.statements).toEqual([expect.objectContaining({ kind: 'drop_column', field: 'body', destructive: true, reversible: false, sql: 'ALTER TABLE "notes" DROP COLUMN "body"' })]);
    expect(plan).toMatchObject({ destructive: true, reversible: false });
    expect(await rows('select title, score from notes')).toEqual([{ title: 'a', score: 1 }]);
  });

  it('drops a unique field through a rebuild (DROP COLUMN refuses UNIQUE columns)', async () => {
    await start([{ ...NOTES_V1, fields: [...NOTES_V1.fields, { name: 'slug', type: 'text', unique: true }] }]);
    await client.execute("insert into notes (title, slug) values ('a', 'a'), ('b', 'b')");
    const { plan } = await roundTrip(client, manifest([NOTES_V1]));
    expect(kinds(plan)).toContain('rebuild_copy');
    expect(plan.statements.filter((s) => s.kind.startsWith('rebuild_')).every((s) => s.destructive)).toBe(true);
    expect(await rows('select title from notes order by title')).toEqual([{ title: 'a' }, { title: 'b' }]);
  });

  it('drops an object, destructive, with a foreign-key check after', async () => {
    await start([NOTES_V1, { name: 'tags', fields: [{ name: 'label', type: 'text' }] }]);
    const { diff, plan } = await roundTrip(client, manifest([NOTES_V1]));
    expect(diff.changes).toEqual([expect.objectContaining({ entityType: 'object', entityName: 'tags', changeType: 'removed', breaking: true })]);
    expect(kinds(plan)).toEqual(['drop_table', 'check_foreign_keys', 'check_foreign_keys', 'check_foreign_keys', 'check_foreign_keys']);
    expect(plan.statements[0]!.destructive).toBe(true);
  });

  it('changes a type through the table rebuild, in order: create, copy, drop, rename, indexes', async () => {
    await start([{ ...NOTES_V1, indexes: [{ fields: ['score'] }] }]);
    await client.execute("insert into notes (title, score) values ('a', 1.5), ('b', null)");
    const { diff, plan } = await roundTrip(
      client,
      manifest([{ ...NOTES_V1, fields: [NOTES_V1.fields[0], NOTES_V1.fields[1], { name: 'score', type: 'text' }], indexes: [{ fields: ['score'] }] }]),
    );
    expect(diff.changes).toEqual([expect.objectContaining({ entityName: 'score', changeType: 'modified', breaking: false, description: expect.stringContaining('REAL → TEXT') })]);
    expect(kinds(plan)).toEqual([
      'rebuild_create',
      'rebuild_copy',
      'rebuild_drop',
      'pragma',
      'rebuild_rename',
      'pragma',
      'create_index',
      'check_foreign_keys',
      'check_foreign_keys',
      'check_foreign_keys',
      'check_foreign_keys',
    ]);
    expect(plan.destructive).toBe(false); // number → text keeps every value
    expect(await rows('select title, score from notes order by title')).toEqual([
      { title: 'a', score: '1.5' },
      { title: 'b', score: null },
    ]);
  });

  it('flags a narrowing type change (text → number) as destructive', async () => {
    await start();
    const { diff, plan } = await roundTrip(client, manifest([{ ...NOTES_V1, fields: [NOTES_V1.fields[0], { name: 'body', type: 'number' }, NOTES_V1.fields[2]] }]));
    expect(diff.changes[0]).toMatchObject({ breaking: true, description: expect.stringContaining('(narrowing)') });
    expect(plan.statements.find((s) => s.kind === 'rebuild_copy')!.destructive).toBe(true);
  });

  it('adds a unique constraint through the rebuild', async () => {
    await start();
    await client.execute("insert into notes (title) values ('a'), ('b')");
    const unique = manifest([{ ...NOTES_V1, fields: [{ ...NOTES_V1.fields[0], unique: true }, ...NOTES_V1.fields.slice(1)] }]);
    const { plan } = await roundTrip(client, unique);
    expect(plan.statements[0]!.sql).toContain('"title" TEXT NOT NULL UNIQUE');
    const after = await introspectDatabase(client);
    expect(after.tables['notes']!.columns.find((c) => c.name === 'title')!.unique).toBe(true);
    await expect(client.execute("insert into notes (title) values ('a')")).rejects.toThrow(/UNIQUE/);
  });

  it('refuses a unique constraint that existing rows violate, naming the object and field, and changes nothing', async () => {
    await start();
    await client.execute("insert into notes (title, body) values ('a', '1'), ('a', '2'), ('b', '3')");
    const before = await introspectDatabase(client);
    const plan = generateMigrations(diffSchemas(before, manifest([{ ...NOTES_V1, fields: [{ ...NOTES_V1.fields[0], unique: true }, ...NOTES_V1.fields.slice(1)] }])));
    const error = await applyMigrationPlan(client, plan).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(SchemaError);
    expect(error).toMatchObject({ code: 'UNIQUE_VIOLATION', object: 'notes', field: 'title', statementIndex: 1 });
    expect((error as Error).message).toMatch(/field "title" of object "notes".*duplicate values.*nothing was changed/);
    expect(await introspectDatabase(client)).toEqual({ ...before, introspectedAt: expect.any(String) });
    expect(await rows('select title, body from notes order by body')).toEqual([
      { title: 'a', body: '1' },
      { title: 'a', body: '2' },
      { title: 'b', body: '3' },
    ]);
    expect(await rows("select name from sqlite_master where name like '_tenantry_%'")).toEqual([]);
  });

  it('refuses a unique index that existing rows violate, naming the object and field', async () => {
    await start();
    await client.execute("insert into notes (title) values ('a'), ('a')");
    const plan = generateMigrations(diffSchemas(await introspectDatabase(client), manifest([{ ...NOTES_V1, indexes: [{ fields: ['title'], unique: true }] }])));
    await expect(applyMigrationPlan(client, plan)).rejects.toMatchObject({ code: 'UNIQUE_VIOLATION', object: 'notes', field: 'title' });
  });

  it('refuses a required field that existing rows leave empty, and accepts it on an empty table', async () => {
    await start();
    const required = manifest([{ ...NOTES_V1, fields: [...NOTES_V1.fields.slice(0, 2), { name: 'score', type: 'number', required: true }] }]);
    await client.execute("insert into notes (title) values ('a')");
    const plan = generateMigrations(diffSchemas(await introspectDatabase(client), required));
    await expect(applyMigrationPlan(client, plan)).rejects.toMatchObject({ code: 'NOT_NULL_VIOLATION', object: 'notes', field: 'score' });
    await client.execute('delete from notes');
    await roundTrip(client, required);
  });

  it('adds and drops indexes without touching the table', async () => {
    await start();
    const { plan: added } = await roundTrip(client, manifest([{ ...NOTES_V1, indexes: [{ fields: ['title'] }, { name: 'by_score', fields: ['score', 'title'], unique: true }] }]));
    expect(added.statements.map((s) => s.sql)).toEqual([
      'CREATE INDEX "notes_title_idx" ON "notes" ("title")',
      'CREATE UNIQUE INDEX "by_score" ON "notes" ("score", "title")',
    ]);
    const { plan: dropped } = await roundTrip(client, manifest([{ ...NOTES_V1, indexes: [{ name: 'by_score', fields: ['score'], unique: true }] }]));
    expect(dropped.statements.map((s) => s.sql)).toEqual([
      'DROP INDEX "by_score"',
      'DROP INDEX "notes_title_idx"',
      'CREATE UNIQUE INDEX "by_score" ON "notes" ("score")',
    ]);
    expect(dropped.destructive).toBe(false);
  });

  it('refuses a plan when the schema changed since it was generated', async () => {
    await start();
    const plan = generateMigrations(diffSchemas(await introspectDatabase(client), manifest([{ ...NOTES_V1, fields: [...NOTES_V1.fields, { name: 'x', type: 'text' }] }])));
    await client.execute('alter table notes add column y text');
    await expect(applyMigrationPlan(client, plan)).rejects.toMatchObject({ code: 'SCHEMA_CHANGED' });
    expect((await introspectDatabase(client)).tables['notes']!.columns.map((c) => c.name)).not.toContain('x');
  });

  it('refuses a plan when another migration lands between the check and the transaction', async () => {
    await start();
    const plan = generateMigrations(diffSchemas(await introspectDatabase(client), manifest([{ ...NOTES_V1, fields: [...NOTES_V1.fields, { name: 'x', type: 'text' }] }])));
    // Another process migrates right after applyMigrationPlan checked the schema.
    const racing = new Proxy(client, {
      get(target, property) {
        if (property === 'migrate') {
          return async (stmts: string[]) => {
            await target.execute('alter table notes add column y text');
            return target.migrate(stmts);
          };
        }
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    await expect(applyMigrationPlan(racing, plan, { tenantId: 'acme' })).rejects.toMatchObject({ code: 'SCHEMA_CHANGED', tenantId: 'acme' });
    const columns = (await introspectDatabase(client)).tables['notes']!.columns.map((c) => c.name);
    expect(columns).toContain('y');
    expect(columns).not.toContain('x');
  });

  it('asserts a schema version read by the caller when it checks the schema itself', async () => {
    await start();
    const plan = generateMigrations(diffSchemas(await introspectDatabase(client), manifest([{ ...NOTES_V1, fields: [...NOTES_V1.fields, { name: 'x', type: 'text' }] }])));
    const version = await readSchemaVersion(client);
    await expect(applyMigrationPlan(client, plan, { checkBase: false, schemaVersion: 1.5 })).rejects.toMatchObject({ code: 'INVALID_SCHEMA' });
    await client.execute('create index notes_title_idx on notes (title)');
    await expect(applyMigrationPlan(client, plan, { checkBase: false, schemaVersion: version })).rejects.toMatchObject({ code: 'SCHEMA_CHANGED' });
    expect((await introspectDatabase(client)).tables['notes']!.columns.map((c) => c.name)).not.toContain('x');
    // With the current version it runs.
    await applyMigrationPlan(client, plan, { checkBase: false, schemaVersion: await readSchemaVersion(client) });
    expect((await introspectDatabase(client)).tables['notes']!.columns.map((c) => c.name)).toContain('x');
  });

  it('numbers statements in order and marks each one', async () => {
    await start();
    const plan = generateMigrations(diffSchemas(await introspectDatabase(client), manifest([{ name: 'tags', fields: [{ name: 'label', type: 'text' }] }])));
    plan.statements.forEach((s, i) => {
      expect(s.order).toBe(i);
      expect(typeof s.destructive).toBe('boolean');
      expect(s.reversible).toBe(!s.destructive);
      expect(s.description.length).toBeGreaterThan(0);
    });
    expect(plan.statements[0]).toMatchObject({ kind: 'drop_table', object: 'notes', destructive: true });
  });
});
