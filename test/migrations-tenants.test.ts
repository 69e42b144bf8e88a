import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createClient } from '@libsql/client';
import type { Client } from '@libsql/client';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { migrateTenants } from '../src/provisioning/migration-runner.js';
import type { MigrationProgress, MigrationTarget } from '../src/provisioning/migration-runner.js';
import { MIGRATIONS_TABLE, MigrationChecksumError, MigrationError } from '../src/provisioning/migrations.js';
import type { Migration } from '../src/provisioning/migrations.js';

const MIGRATIONS: Migration[] = [
  { id: '0001_init', sql: 'create table notes (id integer primary key, body text not null);\ncreate index notes_body on notes (body);' },
  { id: '0002_tags', sql: 'create table tags (note_id integer not null, tag text not null);' },
];
const TENANTS = Array.from({ length: 200 }, (_, i) => `tenant-${String(i).padStart(3, '0')}`);
const BROKEN = 'tenant-137';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tenantry-migrate-tenants-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

/** A fresh folder of tenant databases for one test. */
let folderCount = 0;
function freshFolder(): string {
  const folder = join(dir, `run-${folderCount++}`);
  mkdirSync(folder);
  return folder;
}

function urlOf(folder: string, tenantId: string): string {
  return pathToFileURL(join(folder, `${tenantId}.db`)).href;
}

async function withClient<T>(folder: string, tenantId: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = createClient({ url: urlOf(folder, tenantId) });
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

/** `client` with `latencyMs` added before each call, like a remote database. */
function slow(client: Client, latencyMs: number): Client {
  return new Proxy(client, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      const fn = (value as (...a: unknown[]) => unknown).bind(target);
      if (prop !== 'execute' && prop !== 'transaction') return fn;
      return async (...args: unknown[]) => {
        await new Promise((resolve) => setTimeout(resolve, latencyMs));
        return fn(...args);
      };
    },
  });
}

/**
 * Targets pulled from an async generator that opens a client per tenant; `release` closes it.
 * Records what was pulled, released, and the most held at once.
 */
function instrumented(folder: string, ids: readonly string[], concurrency?: number, latencyMs?: number) {
  const stats = { yielded: 0, released: 0, inFlight: 0, maxInFlight: 0, pulledAhead: false, releasedIds: [] as string[] };
  async function* targets(): AsyncGenerator<MigrationTarget> {
    for (const tenantId of ids) {
      // lazily pulled: a new target is asked for only when fewer than `concurrency` are held
      if (concurrency !== undefined && stats.yielded - stats.released >= concurrency) stats.pulledAhead = true;
      const client = createClient({ url: urlOf(folder, tenantId) });
      stats.yielded++;
      stats.inFlight++;
      stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
      yield {
        tenantId,
        client: latencyMs === undefined ? client : slow(client, latencyMs),
        release: () => {
          stats.inFlight--;
          stats.released++;
          stats.releasedIds.push(tenantId);
          client.close();
        },
      };
    }
  }
  return { stats, targets };
}

async function tablesOf(folder: string, tenantId: string): Promise<string[]> {
  return withClient(folder, tenantId, async (c) =>
    (await c.execute("select name from sqlite_master where type = 'table' order by name")).rows.map((r) => String(r['name'])),
  );
}

describe('migrateTenants', () => {
  it('migrates 200 tenants, reports the one that failed, and resumes when run again', async () => {
    const folder = freshFolder();
    // the broken tenant already has a conflicting `notes` table, so 0001 fails there
    await withClient(folder, BROKEN, (c) => c.execute('create table notes (legacy blob)'));
    const progress: MigrationProgress[] = [];
    const first = instrumented(folder, TENANTS);
    const report = await migrateTenants(first.targets(), MIGRATIONS, { onProgress: (p) => progress.push(p) });

    expect(report.total).toBe(200);
    expect(report.succeeded).toHaveLength(199);
    expect(report.skipped).toEqual([]);
    expect(report.failed).toHaveLength(1);
    expect(report.succeeded.every((s) => s.applied.join() === '0001_init,0002_tags')).toBe(true);
    const [failure] = report.failed;
    expect(failure).toMatchObject({ tenantId: BROKEN, migrationId: '0001_init' });
    expect(failure?.error).toBeInstanceOf(MigrationError);
    expect(failure?.error).toMatchObject({ code: 'MIGRATION_FAILED', message: expect.stringContaining('table notes already exists') });
    expect(report.durationMs).toBeGreaterThanOrEqual(0);

    // every target was released, exactly once
    expect(first.stats.released).toBe(200);
    expect(first.stats.maxInFlight).toBeLessThanOrEqual(8);
    expect(new Set(first.stats.releasedIds).size).toBe(200);

    // progress: once per tenant, counting up to the report's figures
    expect(progress.map((p) => p.done)).toEqual(TENANTS.map((_, i) => i + 1));
    expect(progress.at(-1)).toMatchObject({ done: 200, total: 200, succeeded: 199, failed: 1, skipped: 0 });
    expect(progress.find((p) => p.failed === 1)?.tenantId).toBe(BROKEN);
    expect(new Set(progress.map((p) => p.tenantId)).size).toBe(200);

    // databases: migrated ones have both tables; the broken one is as it was
    expect(await tablesOf(folder, 'tenant-000')).toEqual([MIGRATIONS_TABLE, 'notes', 'tags']);
    expect(await tablesOf(folder, BROKEN)).toEqual([MIGRATIONS_TABLE, 'notes']);
    expect(await withClient(folder, BROKEN, async (c) => (await c.execute(`select count(*) as n from ${MIGRATIONS_TABLE}`)).rows[0]?.['n'])).toBe(0);

    // fix the broken tenant, run again: only it is migrated
    await withClient(folder, BROKEN, (c) => c.execute('drop table notes'));
    const again = await migrateTenants(instrumented(folder, TENANTS).targets(), MIGRATIONS);
    expect(again.total).toBe(200);
    expect(again.skipped).toHaveLength(199);
    expect(again.succeeded).toEqual([{ tenantId: BROKEN, applied: ['0001_init', '0002_tags'] }]);
    expect(again.failed).toEqual([]);
  });

  it.each([1, 3, 8])('holds at most %i tenants at once and pulls the source lazily', async (concurrency) => {
    const folder = freshFolder();
    // a little latency per call, as with a remote database, so that every slot gets used
    const run = instrumented(folder, TENANTS.slice(0, 40), concurrency, 1);
    const report = await migrateTenants(run.targets(), MIGRATIONS, { concurrency });
    expect(report.succeeded).toHaveLength(40);
    expect(run.stats.maxInFlight).toBe(concurrency);
    expect(run.stats.pulledAhead).toBe(false);
    expect(run.stats.released).toBe(40);
  });

  it('uses 8 at once by default', async () => {
    const run = instrumented(freshFolder(), TENANTS.slice(0, 30), 8, 1);
    await migrateTenants(run.targets(), MIGRATIONS);
    expect(run.stats.maxInFlight).toBe(8);
    expect(run.stats.pulledAhead).toBe(false);
  });

  it('takes an array of targets, with or without release', async () => {
    const folder = freshFolder();
    const clients = ['a', 'b', 'c'].map((id) => ({ tenantId: id, client: createClient({ url: urlOf(folder, id) }) }));
    const release = vi.fn();
    const targets: MigrationTarget[] = [clients[0]!, { ...clients[1]!, release }, clients[2]!];
    const progress: MigrationProgress[] = [];
    const report = await migrateTenants(targets, MIGRATIONS, { concurrency: 2, onProgress: (p) => progress.push(p) });
    expect(report.succeeded.map((s) => s.tenantId).sort()).toEqual(['a', 'b', 'c']);
    expect(release).toHaveBeenCalledTimes(1);
    expect(progress.every((p) => p.total === 3)).toBe(true);
    for (const { client } of clients) client.close();
    expect(await migrateTenants([], MIGRATIONS)).toMatchObject({ total: 0, succeeded: [], skipped: [], failed: [] });
  });

  it('takes a sync generator', async () => {
    const folder = freshFolder();
    const opened: Client[] = [];
    function* targets(): Generator<MigrationTarget> {
      for (const id of ['x', 'y']) {
        const client = createClient({ url: urlOf(folder, id) });
        opened.push(client);
        yield { tenantId: id, client, release: () => client.close() };
      }
    }
    const report = await migrateTenants(targets(), MIGRATIONS);
    expect(report.succeeded).toHaveLength(2);
    expect(opened.every((c) => c.closed)).toBe(true);
  });

  it('keeps going when onProgress throws, and says so on console.error', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    const run = instrumented(freshFolder(), TENANTS.slice(0, 5));
    const report = await migrateTenants(run.targets(), MIGRATIONS, {
      onProgress: () => {
        throw new Error('dashboard down');
      },
    });
    expect(report.succeeded).toHaveLength(5);
    expect(errors).toHaveBeenCalledTimes(5);
    expect(errors.mock.calls[0]?.[1]).toMatchObject({ message: 'dashboard down' });
  });

  it('reports an edited migration per tenant with its id, and migrates the others', async () => {
    const folder = freshFolder();
    const ids = TENANTS.slice(0, 6);
    await migrateTenants(instrumented(folder, ids.slice(0, 3)).targets(), MIGRATIONS.slice(0, 1));
    const edited = [{ ...MIGRATIONS[0]!, sql: `${MIGRATIONS[0]!.sql} -- edited` }, MIGRATIONS[1]!];
    const report = await migrateTenants(instrumented(folder, ids).targets(), edited);
    expect(report.failed.map((f) => [f.tenantId, f.migrationId])).toEqual(ids.slice(0, 3).map((id) => [id, '0001_init']));
    expect(report.failed.every((f) => f.error instanceof MigrationChecksumError)).toBe(true);
    expect(report.succeeded.map((s) => s.tenantId).sort()).toEqual(ids.slice(3));
    // refused before anything: 0002 was not applied where 0001 mismatched
    expect(await tablesOf(folder, ids[0]!)).toEqual([MIGRATIONS_TABLE, 'notes']);
  });

  it('changes nothing in a dry run and reports what each tenant would get', async () => {
    const folder = freshFolder();
    const ids = TENANTS.slice(0, 4);
    await migrateTenants(instrumented(folder, ids.slice(0, 2)).targets(), MIGRATIONS);
    const report = await migrateTenants(instrumented(folder, ids).targets(), MIGRATIONS, { dryRun: true });
    expect(report.skipped.map((s) => s.tenantId).sort()).toEqual(ids.slice(0, 2));
    expect(report.succeeded.map((s) => [s.tenantId, s.applied]).sort()).toEqual(ids.slice(2).map((id) => [id, ['0001_init', '0002_tags']]));
    expect(await tablesOf(folder, ids[3]!)).toEqual([]);
  });

  it('reports a target it cannot use as failed and releases it', async () => {
    const folder = freshFolder();
    const client = createClient({ url: urlOf(folder, 'ok') });
    const release = vi.fn();
    const targets = [
      { tenantId: 'ok', client },
      { tenantId: 'no-client', client: undefined as unknown as Client, release },
      {
        tenantId: 'cannot-open',
        get client(): Client {
          throw new Error('database cannot be opened');
        },
        release,
      },
    ];
    const report = await migrateTenants(targets, MIGRATIONS);
    expect(report.succeeded.map((s) => s.tenantId)).toEqual(['ok']);
    expect(report.failed.map((f) => [f.tenantId, f.error.message])).toEqual([
      ['no-client', 'migrateTenants: target no-client: client must be a libSQL client'],
      ['cannot-open', 'database cannot be opened'],
    ]);
    expect(report.failed.every((f) => f.migrationId === undefined)).toBe(true);
    expect(release).toHaveBeenCalledTimes(2);
    client.close();
  });

  it('stops pulling when the source throws, releases those in flight, and rejects with its error', async () => {
    const run = instrumented(freshFolder(), TENANTS.slice(0, 10));
    async function* failing(): AsyncGenerator<MigrationTarget> {
      let n = 0;
      for await (const target of run.targets()) {
        if (n++ === 5) {
          target.release?.();
          throw new Error('registry down');
        }
        yield target;
      }
    }
    await expect(migrateTenants(failing(), MIGRATIONS, { concurrency: 3 })).rejects.toThrow('registry down');
    expect(run.stats.yielded).toBe(6);
    expect(run.stats.released).toBe(6);
  });

  it('rejects invalid options and migrations with a TypeError before pulling any target', async () => {
    let pulled = false;
    async function* targets(): AsyncGenerator<MigrationTarget> {
      pulled = true;
      yield* [];
    }
    for (const concurrency of [0, -1, 1.5, Number.NaN, Infinity, '4' as unknown as number]) {
      await expect(migrateTenants(targets(), MIGRATIONS, { concurrency })).rejects.toThrow(/options\.concurrency must be an integer ≥ 1/);
    }
    await expect(migrateTenants(targets(), MIGRATIONS, { onProgress: 'x' as unknown as () => void })).rejects.toThrow(TypeError);
    await expect(migrateTenants(targets(), [MIGRATIONS[0]!, MIGRATIONS[0]!])).rejects.toThrow(/used twice/);
    await expect(migrateTenants(42 as unknown as MigrationTarget[], MIGRATIONS)).rejects.toThrow(/targets must be an array or an \(async\) iterable/);
    expect(pulled).toBe(false);
  });
});
