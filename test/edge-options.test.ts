/**
 * The edge build (`dist/edge`) refuses what needs a file system with a `TypeError` at
 * `createTenantry()` (or at the call), never at import, and does not keep clients by default.
 * Loaded here on Node; test/workerd/ loads it inside workerd.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createClient } from '@libsql/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as Tenantry from '../src/index.js';

const dist = join(import.meta.dirname, '..', 'dist');
let edge: typeof Tenantry;
let node: typeof Tenantry;

beforeAll(async () => {
  expect(existsSync(join(dist, 'edge', 'index.js')), 'dist/edge is missing: run `npm run build` (npm test does)').toBe(true);
  edge = (await import(pathToFileURL(join(dist, 'edge', 'index.js')).href)) as typeof Tenantry;
  node = (await import(pathToFileURL(join(dist, 'index.js')).href)) as typeof Tenantry;
});

const REMOTE = 'libsql://{tenant}-org.example.test';

describe('the edge build refuses Node-only options at createTenantry()', () => {
  it('without a registry or databases.urlTemplate, saying the embedded defaults need a file system and what to pass', () => {
    expect(() => edge.createTenantry()).toThrow(TypeError);
    expect(() => edge.createTenantry()).toThrow(/no registry and no databases\.urlTemplate was given.*file system.*libsql:\/\//);
    expect(() => edge.createTenantry({ registry: edge.memoryRegistry() })).toThrow(/no databases\.urlTemplate was given/);
    expect(() => edge.createTenantry({ databases: { urlTemplate: REMOTE } })).toThrow(/no registry was given/);
  });

  it('with dataDir, a file: URL template or a migrations folder', () => {
    const registry = edge.memoryRegistry();
    expect(() => edge.createTenantry({ registry, dataDir: './data', databases: { urlTemplate: REMOTE } })).toThrow(/dataDir needs a file system/);
    expect(() => edge.createTenantry({ registry, databases: { urlTemplate: 'file:./t/{tenant}.db' } })).toThrow(
      /databases\.urlTemplate is a file: URL/,
    );
    expect(() => edge.createTenantry({ registry, databases: { urlTemplate: REMOTE }, provisioning: { migrations: './migrations' } })).toThrow(
      /provisioning\.migrations is a folder.*\[\{ id, sql \}\]/,
    );
  });

  it('refuses localPlatform() and reading a migrations folder when called, naming what to use instead', async () => {
    expect(() => edge.localPlatform({ dir: './tenants' })).toThrow(/localPlatform: .*file system.*tursoPlatform\(\)/);
    await expect(edge.loadMigrations('./migrations')).rejects.toThrow(TypeError);
    await expect(edge.loadMigrations([{ id: '0001', sql: 'create table t (x)' }])).resolves.toHaveLength(1);
  });

  it('accepts the same options on the Node build', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tenantry-edge-options-'));
    try {
      const tenantry = node.createTenantry({ dataDir: dir });
      expect(tenantry.dataDir).toBe(dir);
      await tenantry.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('clients in the edge build', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tenantry-edge-clients-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs three operations as tenant acme on `build`, counting the clients it creates. */
  async function threeOperations(build: typeof Tenantry, databases: Tenantry.DatabaseOptions = {}) {
    const urls: string[] = [];
    const tenantry = build.createTenantry({
      registry: build.memoryRegistry([{ id: 'acme' }]),
      databases: { urlTemplate: REMOTE, ...databases },
      // the remote URL is recorded, and a local file stands in for the remote database
      createClient: (config) => {
        urls.push(config.url);
        return createClient({ url: pathToFileURL(join(dir, 'acme.db')).href });
      },
    });
    await tenantry.withTenant('acme', async () => {
      const db = await build.getTenantClient();
      for (let i = 0; i < 3; i++) await db.execute('select 1');
    });
    const stats = tenantry.stats().pool;
    await tenantry.close();
    return { urls, stats };
  }

  it('are not kept by default: each operation gets its own, closed when it ends', async () => {
    const { urls, stats } = await threeOperations(edge);
    expect(urls).toEqual(Array(3).fill('libsql://acme-org.example.test'));
    expect(stats).toMatchObject({ size: 0, leased: 0, opens: 3, closed: 3 });
  });

  it('are kept with databases.keepClients: true, as on Node by default', async () => {
    expect((await threeOperations(edge, { keepClients: true })).stats).toMatchObject({ size: 1, opens: 1 });
    expect((await threeOperations(node)).stats).toMatchObject({ size: 1, opens: 1 });
  });
});
