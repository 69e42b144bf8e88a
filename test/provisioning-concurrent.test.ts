/**
 * Lifecycle changes made at once by two tenantry instances (two processes sharing one control
 * plane) must not lose each other: a plan change during a suspension keeps both.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createTenantry, libsqlRegistry, memoryRegistry } from '../src/index.js';
import type { TenantRegistry, Tenantry } from '../src/index.js';
import { tempDir } from './helpers/env.js';

/**
 * `inner` with `get` slowed down, by a different delay per instance, so that one instance reads
 * the record before the other writes and writes after it: the interleaving that loses a change
 * with get-then-put. (`update` is passed through as it is.)
 */
function slowReads(inner: TenantRegistry, ms: number): TenantRegistry {
  return {
    get: async (id) => {
      const record = await inner.get(id);
      await new Promise((resolve) => setTimeout(resolve, ms));
      return record;
    },
    findBySlug: (slug) => inner.findBySlug(slug),
    findByDomain: (domain) => inner.findByDomain(domain),
    list: (filter) => inner.list(filter),
    put: (record) => inner.put(record),
    update: (id, fn) => inner.update!(id, fn),
    delete: (id) => inner.delete(id),
  };
}

const registries: [string, (dir: string) => TenantRegistry][] = [
  ['memory', () => memoryRegistry()],
  ['libSQL (one file, two connections)', (dir) => libsqlRegistry({ url: pathToFileURL(join(dir, 'control-plane.db')).href })],
];

describe.each(registries)('concurrent lifecycle changes from two instances (%s registry)', (_name, makeRegistry) => {
  const open: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of open.splice(0)) await close();
  });

  function twoInstances(): [Tenantry, Tenantry] {
    const { dir, cleanup } = tempDir();
    const shared = makeRegistry(dir);
    // Same data dir (the tenant databases) and one control plane; each instance has its own connection to it.
    const second = _name === 'memory' ? shared : makeRegistry(dir);
    const a = createTenantry({ dataDir: dir, registry: slowReads(shared, 30) });
    const b = createTenantry({ dataDir: dir, registry: slowReads(second, 5) });
    open.push(async () => {
      await a.close();
      await b.close();
      await shared.close?.();
      if (second !== shared) await second.close?.();
      cleanup();
    });
    return [a, b];
  }

  it('keeps a plan change made on one instance while the other suspends and resumes', async () => {
    const [a, b] = twoInstances();
    await a.provisioning.provisionTenant({ orgId: 'acme', plan: 'free' });
    await Promise.all([a.provisioning.migrateTenantPlan('acme', 'pro'), b.provisioning.suspendTenant('acme')]);
    expect(await a.registry.get('acme')).toMatchObject({ plan: 'pro', status: 'suspended' });
    await Promise.all([b.provisioning.resumeTenant('acme'), a.provisioning.migrateTenantPlan('acme', 'enterprise')]);
    expect(await b.registry.get('acme')).toMatchObject({ plan: 'enterprise', status: 'active' });
  });

  it('re-checks the status at write time: a plan change loses to a destroy that got there first', async () => {
    const [a, b] = twoInstances();
    await a.provisioning.provisionTenant({ orgId: 'acme', plan: 'free' });
    const results = await Promise.allSettled([b.provisioning.destroyTenant('acme'), a.provisioning.migrateTenantPlan('acme', 'pro')]);
    const record = await a.registry.get('acme');
    expect(record?.status).toBe('destroying');
    // Either the plan change landed before the destroy (and is kept), or it was refused: never a destroying tenant set back.
    if (results[1].status === 'rejected') expect(String(results[1].reason)).toMatch(/while it is destroying/);
    else expect(record?.plan).toBe('pro');
  });
});
