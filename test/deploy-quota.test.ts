/**
 * Quotas of deploys: `maxObjects` is enforced for the objects a tenant's plan adds, and each
 * tenant a deploy changes consumes one of its `maxDeploymentsPerDay`. A refused tenant is
 * reported (QUOTA_EXCEEDED) and left as it was; the others are deployed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TenantryError, createTenantry, fromHeader, memoryRegistry } from '../src/index.js';
import type { DeployBundle, Tenantry } from '../src/index.js';
import { tempDir } from './helpers/env.js';

const bundle = (version: string, objects: string[]): DeployBundle => ({
  manifest: { version, objects: objects.map((name) => ({ name, fields: [{ name: 'label', type: 'text' }] })) },
});

describe('deploy quotas', () => {
  const open: { tenantry: Tenantry; cleanup: () => void }[] = [];
  afterEach(async () => {
    for (const { tenantry, cleanup } of open.splice(0)) {
      await tenantry.close();
      cleanup();
    }
  });
  async function make() {
    const { dir, cleanup } = tempDir('tenantry-deploy-quota-');
    const tenantry = createTenantry({
      dataDir: dir,
      registry: memoryRegistry(),
      resolvers: [fromHeader()],
      plans: { free: { maxObjects: 2, maxDeploymentsPerDay: 2 }, pro: { maxObjects: 10, maxDeploymentsPerDay: 10 }, enterprise: {} },
    });
    open.push({ tenantry, cleanup });
    await tenantry.provisioning.provisionTenant({ orgId: 'small', plan: 'free' });
    await tenantry.provisioning.provisionTenant({ orgId: 'big', plan: 'pro' });
    return tenantry;
  }

  it('refuses a tenant whose plan would take it past maxObjects, and deploys the others', async () => {
    const tenantry = await make();
    const plan = await tenantry.deploy.planDeployment(bundle('1', ['a', 'b', 'c']));
    expect(plan.tenants.map((t) => t.objects)).toEqual([
      { current: 0, target: 3 },
      { current: 0, target: 3 },
    ]);
    const result = await tenantry.deploy.executeDeployment(plan);
    expect(result.tenants.map((t) => [t.tenantId, t.status, t.code])).toEqual([
      ['big', 'applied', undefined],
      ['small', 'failed', 'QUOTA_EXCEEDED'],
    ]);
    expect(result.tenants[1]!.error).toBeInstanceOf(TenantryError);
    expect(result.tenants[1]!.error!.message).toMatch(/maxObjects of 2 reached/);
    expect(Object.keys((await tenantry.schema.introspect('small')).tables)).toEqual([]);
    // the refused tenant consumed no deployment
    expect((await tenantry.quota.usage('small')).deploymentsToday).toBe(0);
    expect((await tenantry.quota.usage('big')).deploymentsToday).toBe(1);

    // within the limit it goes through; replacing objects (no growth) is never refused
    expect((await tenantry.deploy.executeDeployment(await tenantry.deploy.planDeployment(bundle('2', ['a', 'b']), { tenants: ['small'] }))).status).toBe('succeeded');
    const swap = await tenantry.deploy.executeDeployment(await tenantry.deploy.planDeployment(bundle('3', ['a', 'z']), { tenants: ['small'], allowDestructive: true }));
    expect(swap.tenants[0]).toMatchObject({ status: 'applied' });
  });

  it('consumes one maxDeploymentsPerDay per tenant changed, and refuses the deploy past it', async () => {
    const tenantry = await make();
    for (const [i, objects] of [['a'], ['a', 'b']].entries()) {
      const result = await tenantry.deploy.executeDeployment(await tenantry.deploy.planDeployment(bundle(String(i), objects)));
      expect(result.status).toBe('succeeded');
    }
    // a deploy that changes nothing consumes nothing
    const same = await tenantry.deploy.executeDeployment(await tenantry.deploy.planDeployment(bundle('again', ['a', 'b'])));
    expect(same.summary).toMatchObject({ applied: 0, unchanged: 2 });
    expect((await tenantry.quota.usage('small')).deploymentsToday).toBe(2);

    const third = await tenantry.deploy.planDeployment(bundle('3', ['a', 'c']), { allowDestructive: true });
    const result = await tenantry.deploy.executeDeployment(third);
    expect(result.tenants.map((t) => [t.tenantId, t.status, t.code])).toEqual([
      ['big', 'applied', undefined],
      ['small', 'failed', 'QUOTA_EXCEEDED'],
    ]);
    expect(result.tenants[1]!.error!.message).toMatch(/maxDeploymentsPerDay of 2 reached/);
    expect(result.tenants[1]!.snapshot).toBe(false);
    expect(Object.keys((await tenantry.schema.introspect('small')).tables).sort()).toEqual(['a', 'b']);
    expect((await tenantry.quota.usage('big')).deploymentsToday).toBe(3);
  });
});
