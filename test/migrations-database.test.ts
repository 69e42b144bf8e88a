import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createClient } from '@libsql/client';
import type { Client } from '@libsql/client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  MIGRATIONS_TABLE,
  MigrationChecksumError,
  MigrationError,
  loadMigrations,
  migrateDatabase,
  migrationChecksum,
  transactionStatement,
} from '../src/provisioning/migrations.js';
import type { Migration } from '../src/provisioning/migrations.js';

let dir: string;
let db: Client;
const opened: Client[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tenantry-migrations-'));
  db = open('tenant.db');
});
afterEach(() => {
  for (const client of opened.splice(0)) client.close();
  rmSync(dir, { recursive: true, force: true });
});

function open(file: string): Client {
  const client = createClient({ url: pathToFileURL(join(dir, file)).href });
  opened.push(client);
  return client;
}

async function tables(client: Client = db): Promise<string[]> {
  const rs = await client.execute("select name from sqlite_master where type = 'table' order by name");
  return rs.rows.map((r) => String(r['name']));
}

async function recorded(client: Client = db): Promise<{ id: string; checksum: string; applied_at: string }[]> {
  const rs = await client.execute(`select id, checksum, applied_at from ${MIGRATIONS_TABLE} order by id`);
  return rs.rows.map((r) => ({ id: String(r['id']), checksum: String(r['checksum']), applied_at: String(r['applied_at']) }));
}

const INIT: Migration = { id: '0001_init', sql: 'create table notes (id integer primary key, body text not null);\ncreate index notes_body on notes (body);' };
const TAGS: Migration = { id: '0002_tags', sql: 'create table tags (note_id integer not null references notes (id), tag text not null);' };
const TITLE: Migration = { id: '0003_title', sql: "alter table notes add column title text not null default '';" };

describe('migrateDatabase', () => {
  it('applies the migrations in id order and records each with its checksum and time', async () => {
    const result = await migrateDatabase(db, [TAGS, INIT], { now: () => Date.UTC(2025, 0, 2, 3, 4, 5) });
    expect(result).toEqual({ applied: ['0001_init', '0002_tags'], pending: [], upToDate: false });
    expect(await tables()).toEqual([MIGRATIONS_TABLE, 'notes', 'tags']);
    expect(await recorded()).toEqual([
      { id: '0001_init', checksum: await migrationChecksum(INIT.sql), applied_at: '2025-01-02T03:04:05.000Z' },
      { id: '0002_tags', checksum: await migrationChecksum(TAGS.sql), applied_at: '2025-01-02T03:04:05.000Z' },
    ]);
  });

  it('creates the migrations table with the documented columns', async () => {
    await migrateDatabase(db, [INIT]);
    const columns = await db.execute(`pragma table_info(${MIGRATIONS_TABLE})`);
    expect(columns.rows.map((c) => [c['name'], c['type'], c['notnull'], c['pk']])).toEqual([
      ['id', 'TEXT', 0, 1],
      ['checksum', 'TEXT', 1, 0],
      ['applied_at', 'TEXT', 1, 0],
    ]);
  });

  it('does nothing when run again: the database is up to date', async () => {
    await migrateDatabase(db, [INIT, TAGS]);
    const before = await recorded();
    expect(await migrateDatabase(db, [INIT, TAGS], { now: () => 0 })).toEqual({ applied: [], pending: [], upToDate: true });
    expect(await recorded()).toEqual(before);
  });

  it('applies only a migration appended later', async () => {
    await migrateDatabase(db, [INIT, TAGS]);
    expect(await migrateDatabase(db, [INIT, TAGS, TITLE])).toEqual({ applied: ['0003_title'], pending: [], upToDate: false });
    await db.execute("insert into notes (body, title) values ('b', 't')");
    expect((await recorded()).map((r) => r.id)).toEqual(['0001_init', '0002_tags', '0003_title']);
  });

  it('refuses an edited, applied migration with MigrationChecksumError before applying anything', async () => {
    await migrateDatabase(db, [INIT]);
    const edited = { ...INIT, sql: INIT.sql.replace('not null', '') };
    const error = await migrateDatabase(db, [edited, TAGS]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationChecksumError);
    expect(error).toBeInstanceOf(MigrationError);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({
      name: 'MigrationChecksumError',
      code: 'MIGRATION_CHECKSUM_MISMATCH',
      migrationId: '0001_init',
      appliedChecksum: await migrationChecksum(INIT.sql),
      givenChecksum: await migrationChecksum(edited.sql),
    });
    expect(await tables()).not.toContain('tags');
    expect((await recorded()).map((r) => r.id)).toEqual(['0001_init']);
  });

  it('refuses an edited migration even when the edit is to an earlier one and a later one is pending', async () => {
    await migrateDatabase(db, [INIT, TAGS]);
    const edited = { ...TAGS, sql: `${TAGS.sql}\n-- a comment counts` };
    await expect(migrateDatabase(db, [INIT, edited, TITLE])).rejects.toMatchObject({ code: 'MIGRATION_CHECKSUM_MISMATCH', migrationId: '0002_tags' });
    const columns = await db.execute('pragma table_info(notes)');
    expect(columns.rows.map((c) => c['name'])).not.toContain('title');
  });

  it('rolls back a failing migration entirely (executeMultiple inside the transaction) and keeps earlier ones', async () => {
    const broken: Migration = {
      id: '0002_broken',
      sql: "create table first_half (x integer);\ninsert into first_half values (1);\ninsert into no_such_table values (2);\ncreate table never (y);",
    };
    const error = await migrateDatabase(db, [INIT, broken, TITLE]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationError);
    expect(error).not.toBeInstanceOf(MigrationChecksumError);
    expect(error).toMatchObject({ code: 'MIGRATION_FAILED', migrationId: '0002_broken', message: expect.stringContaining('no such table: no_such_table') });
    expect((error as Error).cause).toMatchObject({ code: 'SQLITE_ERROR' });
    // the first statement of the failed migration did not survive, nor did anything after it
    expect(await tables()).toEqual([MIGRATIONS_TABLE, 'notes']);
    expect((await recorded()).map((r) => r.id)).toEqual(['0001_init']);
    // the database is still usable and the run resumes once the migration is fixed
    const fixed = { ...broken, sql: 'create table first_half (x integer);' };
    expect(await migrateDatabase(db, [INIT, fixed, TITLE])).toMatchObject({ applied: ['0002_broken', '0003_title'] });
  });

  it('rolls back a migration whose last statement violates a constraint after earlier rows were written', async () => {
    await migrateDatabase(db, [INIT]);
    const dup: Migration = { id: '0002_dup', sql: "insert into notes (id, body) values (1, 'a');\ninsert into notes (id, body) values (1, 'b');" };
    await expect(migrateDatabase(db, [INIT, dup])).rejects.toMatchObject({ code: 'MIGRATION_FAILED', migrationId: '0002_dup' });
    expect((await db.execute('select count(*) as n from notes')).rows[0]?.['n']).toBe(0);
  });

  it('reports a migration that fails only at commit (a deferred foreign key) with its id, and keeps nothing of it', async () => {
    const fk = (await db.execute('pragma foreign_keys')).rows[0]?.['foreign_keys'];
    expect(fk).toBe(1); // the libSQL client turns foreign keys on
    const orphan: Migration = {
      id: '0002_orphan',
      sql: `create table parent (id integer primary key);
create table child (parent_id integer references parent (id) deferrable initially deferred);
insert into child values (42);`,
    };
    const error = await migrateDatabase(db, [INIT, orphan]).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'MIGRATION_FAILED', migrationId: '0002_orphan', message: expect.stringContaining('FOREIGN KEY constraint failed') });
    expect(await tables()).toEqual([MIGRATIONS_TABLE, 'notes']);
    expect((await recorded()).map((r) => r.id)).toEqual(['0001_init']);
  });

  it('applies a migration that creates a trigger (BEGIN ... END inside one statement)', async () => {
    const trigger: Migration = {
      id: '0002_trigger',
      sql: `create table audit (note_id integer, what text);
create trigger notes_audit after insert on notes begin
  insert into audit values (new.id, case when new.body = 'x' then 'x' else 'other' end);
  insert into audit values (new.id, 'end;'); -- a quoted END; is not the end
end;
insert into notes (body) values ('x');`,
    };
    await migrateDatabase(db, [INIT, trigger]);
    expect((await db.execute('select what from audit order by rowid')).rows.map((r) => r['what'])).toEqual(['x', 'end;']);
  });

  it('ignores a migration recorded in the database but absent from the list', async () => {
    await migrateDatabase(db, [INIT, TAGS]);
    expect(await migrateDatabase(db, [INIT])).toEqual({ applied: [], pending: [], upToDate: true });
    expect(await migrateDatabase(db, [INIT, TITLE])).toEqual({ applied: ['0003_title'], pending: [], upToDate: false });
    expect((await recorded()).map((r) => r.id)).toEqual(['0001_init', '0002_tags', '0003_title']);
  });

  it('applies a pending migration whose id sorts before applied ones', async () => {
    await migrateDatabase(db, [INIT, TITLE]);
    expect(await migrateDatabase(db, [INIT, TAGS, TITLE])).toMatchObject({ applied: ['0002_tags'] });
  });

  it('reports in a dry run what would be applied and changes nothing, not even the migrations table', async () => {
    expect(await migrateDatabase(db, [INIT, TAGS], { dryRun: true })).toEqual({ applied: [], pending: ['0001_init', '0002_tags'], upToDate: false });
    expect(await tables()).toEqual([]);
    await migrateDatabase(db, [INIT]);
    expect(await migrateDatabase(db, [INIT, TAGS, TITLE], { dryRun: true })).toEqual({
      applied: [],
      pending: ['0002_tags', '0003_title'],
      upToDate: false,
    });
    expect(await tables()).toEqual([MIGRATIONS_TABLE, 'notes']);
    expect(await migrateDatabase(db, [INIT], { dryRun: true })).toEqual({ applied: [], pending: [], upToDate: true });
  });

  it('refuses an edited migration in a dry run too', async () => {
    await migrateDatabase(db, [INIT]);
    await expect(migrateDatabase(db, [{ ...INIT, sql: 'select 1' }], { dryRun: true })).rejects.toBeInstanceOf(MigrationChecksumError);
  });

  it('skips a migration another runner applied between its read and its transaction', async () => {
    const other = open('tenant.db');
    let raced = false;
    // a client whose transaction() first lets another runner apply everything
    const racing = new Proxy(db, {
      get(target, prop) {
        if (prop === 'transaction' && !raced) {
          return async (mode: 'write') => {
            raced = true;
            await migrateDatabase(other, [INIT]);
            return target.transaction(mode);
          };
        }
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    expect(await migrateDatabase(racing, [INIT])).toEqual({ applied: [], pending: [], upToDate: false });
    expect((await recorded()).map((r) => r.id)).toEqual(['0001_init']);
  });

  it('rejects invalid migrations and options with a TypeError before touching the database', async () => {
    await expect(migrateDatabase(db, [INIT, { ...INIT }])).rejects.toThrow(TypeError);
    await expect(migrateDatabase(db, 'nope' as unknown as Migration[])).rejects.toThrow(/migrations must be an array/);
    await expect(migrateDatabase(db, [INIT], { dryRun: 'yes' as unknown as boolean })).rejects.toThrow(/options\.dryRun/);
    expect(await tables()).toEqual([]);
  });
});

describe('loadMigrations from an array', () => {
  it('returns validated copies sorted by id (code-unit order)', async () => {
    const list = await loadMigrations([TITLE, INIT, { id: 'B', sql: 'select 1' }, { id: 'a', sql: 'select 1' }, TAGS]);
    expect(list.map((m) => m.id)).toEqual(['0001_init', '0002_tags', '0003_title', 'B', 'a']);
    expect(list[0]).not.toBe(INIT);
    expect(await loadMigrations([])).toEqual([]);
  });

  it('refuses duplicate ids', async () => {
    await expect(loadMigrations([INIT, { id: '0001_init', sql: 'select 2' }])).rejects.toThrow(new TypeError('loadMigrations: migration id "0001_init" is used twice'));
  });

  it.each([[''], ['_leading'], ['-leading'], ['has space'], ['slash/no'], ['x'.repeat(129)], [42]])('refuses the id %j', async (id) => {
    await expect(loadMigrations([{ id, sql: 'select 1' } as Migration])).rejects.toThrow(/migrations\[0\]\.id must be/);
  });

  it('accepts ids with dots, dashes and underscores up to 128 characters', async () => {
    const ids = ['1.2.3-x_y', 'V1__init', 'a'.repeat(128)];
    expect((await loadMigrations(ids.map((id) => ({ id, sql: 'select 1' })))).map((m) => m.id)).toEqual(['1.2.3-x_y', 'V1__init', 'a'.repeat(128)]);
  });

  it.each([[''], ['   \n\t'], [undefined]])('refuses the sql %j', async (sql) => {
    await expect(loadMigrations([{ id: '0001', sql } as Migration])).rejects.toThrow(new TypeError('loadMigrations: migration "0001" has no sql'));
  });

  it('refuses a source that is neither a path nor an array, and items that are not objects', async () => {
    await expect(loadMigrations(42 as unknown as string)).rejects.toThrow(TypeError);
    await expect(loadMigrations([null as unknown as Migration])).rejects.toThrow(/migrations\[0\] must be an object/);
  });

  it.each([
    ['BEGIN;\ncreate table a (x);\nCOMMIT;', 'BEGIN'],
    ['create table a (x);\ncommit;\ncreate table b (y);', 'COMMIT'],
    ['create table a (x); end transaction', 'END'],
    ['/* c */ rollback;', 'ROLLBACK'],
    ['begin immediate transaction; select 1', 'BEGIN'],
  ])('refuses transaction statements: %j', async (sql, word) => {
    await expect(loadMigrations([{ id: '0001', sql }])).rejects.toThrow(
      new TypeError(`loadMigrations: migration "0001" contains ${word}: each migration already runs in its own transaction, remove it`),
    );
  });
});

describe('transactionStatement', () => {
  it.each([
    "create table a (x text default 'commit;'); -- commit;\n/* rollback; */ select \"begin\", [end], `commit`;",
    'create trigger t after insert on a begin insert into b values (1); update c set x = case when 1 then 2 end; end; select 1;',
    'create temp trigger t after insert on a begin select 1; end',
    'savepoint s; create table a (x); rollback to s; rollback transaction to savepoint s; release s;',
    "insert into a values ('it''s; begin')",
  ])('finds none in %j', (sql) => {
    expect(transactionStatement(sql)).toBeUndefined();
  });

  it('finds one after a trigger', () => {
    expect(transactionStatement('create trigger t after insert on a begin select 1; end; commit;')).toBe('COMMIT');
  });
});

describe('loadMigrations from a folder', () => {
  it('reads every *.sql file sorted by name, ignoring other files and subfolders', async () => {
    const folder = join(dir, 'migrations');
    mkdirSync(folder);
    mkdirSync(join(folder, 'nested.sql'));
    writeFileSync(join(folder, '0002_tags.sql'), TAGS.sql);
    writeFileSync(join(folder, '0001_init.sql'), INIT.sql);
    writeFileSync(join(folder, '0010_later.sql'), '\uFEFFselect 1;');
    writeFileSync(join(folder, 'README.md'), '# not a migration');
    writeFileSync(join(folder, '0003_notes.sql.bak'), 'select 1');
    writeFileSync(join(folder, '.DS_Store'), '');
    symlinkSync(join(folder, '0001_init.sql'), join(folder, '0004_linked.sql'));
    const list = await loadMigrations(folder);
    expect(list).toEqual([
      { id: '0001_init', sql: INIT.sql },
      { id: '0002_tags', sql: TAGS.sql },
      { id: '0004_linked', sql: INIT.sql },
      { id: '0010_later', sql: 'select 1;' },
    ]);
  });

  it('gives an empty list for an empty folder', async () => {
    const folder = join(dir, 'empty');
    mkdirSync(folder);
    expect(await loadMigrations(folder)).toEqual([]);
  });

  it('refuses a missing folder, an empty path, a bad file name and blank sql with a TypeError', async () => {
    await expect(loadMigrations(join(dir, 'missing'))).rejects.toThrow(/cannot read the folder .*missing \(ENOENT\)/);
    await expect(loadMigrations('')).rejects.toThrow(TypeError);
    const folder = join(dir, 'bad');
    mkdirSync(folder);
    writeFileSync(join(folder, 'has space.sql'), 'select 1');
    await expect(loadMigrations(folder)).rejects.toThrow(/has space\.sql is not a valid migration id/);
    rmSync(join(folder, 'has space.sql'));
    writeFileSync(join(folder, '0001.sql'), '\n');
    await expect(loadMigrations(folder)).rejects.toThrow('migration "0001" has no sql');
  });

  it('loads migrations that migrateDatabase applies', async () => {
    const folder = join(dir, 'm');
    mkdirSync(folder);
    writeFileSync(join(folder, '0001_init.sql'), INIT.sql);
    writeFileSync(join(folder, '0002_tags.sql'), TAGS.sql);
    expect(await migrateDatabase(db, await loadMigrations(folder))).toMatchObject({ applied: ['0001_init', '0002_tags'] });
  });
});

describe('migrationChecksum', () => {
  it('is the stable sha-256 hex of the sql, as node:crypto computes it', async () => {
    const sql = "create table é (x text default 'ü');";
    const expected = createHash('sha256').update(sql, 'utf8').digest('hex');
    expect(await migrationChecksum(sql)).toBe(expected);
    expect(await migrationChecksum(sql)).toBe(expected);
    expect(await migrationChecksum('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('changes with any edit, whitespace included', async () => {
    expect(await migrationChecksum('select 1')).not.toBe(await migrationChecksum('select 1 '));
    expect(await migrationChecksum('a\nb')).not.toBe(await migrationChecksum('a\r\nb'));
  });
});
