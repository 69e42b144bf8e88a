import { describe, expect, it } from 'vitest';
import { createClient } from '@libsql/client';
import { createTenantry, fromTursoMultiTenantConfig, getTenantClient, memoryRegistry } from '../src/index.js';
import type { TursoMultiTenantConfig } from '../src/index.js';

/** The protocol's example configuration, every field as the protocol names it. */
const protocolExample: TursoMultiTenantConfig = {
  organizationSlug: 'acme-corp',
  urlTemplate: 'libsql://{tenant_id}-acme-corp.turso.io',
  groupAuthToken: 'group-token-for-tests',
  tenantResolverStrategy: 'header',
  group: { name: 'production', primaryLocation: 'iad', replicaLocations: ['lhr', 'nrt'] },
  lifecycle: {
    onTenantCreate: { autoCreate: true, group: 'production', applyGroupSchema: true, seedData: false },
    onTenantDelete: { immediate: false, gracePeriodHours: 72, createBackup: true },
    onTenantSuspend: { revokeTokens: true, readOnly: true },
  },
  maxCachedConnections: 100,
  connectionCacheTTL: 300,
};

describe('fromTursoMultiTenantConfig', () => {
  it('turns the protocol example into working options', async () => {
    const opened: { url: string; authToken?: string }[] = [];
    const tenantry = createTenantry({
      ...fromTursoMultiTenantConfig(protocolExample),
      registry: memoryRegistry([{ id: 'globex' }, { id: 'frozen', status: 'suspended' }]),
      // record what tenantry asks for, and serve it from a local file: no network here
      createClient: (config) => {
        opened.push(config);
        return createClient({ url: ':memory:' });
      },
    });
    const ctx = await tenantry.resolveTenant(new Request('http://x/', { headers: { 'x-tenant-id': 'globex' } }));
    expect(ctx.tenantDbUrl).toBe('libsql://globex-acme-corp.turso.io');
    await tenantry.withTenant('globex', async () => (await getTenantClient()).execute('select 1'));
    expect(opened).toHaveLength(1);
    expect(opened[0]).toMatchObject({ url: 'libsql://globex-acme-corp.turso.io', authToken: 'group-token-for-tests' });
    // lifecycle.onTenantSuspend.readOnly: reads of suspended tenants pass
    const frozen = await tenantry.handle(new Request('http://x/', { headers: { 'x-tenant-id': 'frozen' } }), async () => new Response('ok'));
    expect(frozen.status).toBe(200);
    const write = await tenantry.handle(new Request('http://x/', { method: 'POST', headers: { 'x-tenant-id': 'frozen' } }), async () => new Response('ok'));
    expect(write.status).toBe(403);
    await tenantry.close();
  });

  it('maps pool bounds and both placeholders', () => {
    const options = fromTursoMultiTenantConfig({ ...protocolExample, urlTemplate: 'libsql://{tenant}-x.turso.io', maxCachedConnections: 7, connectionCacheTTL: 60 });
    expect(options.databases).toEqual({ urlTemplate: 'libsql://{tenant}-x.turso.io', authToken: 'group-token-for-tests', maxClients: 7, idleTtlMs: 60_000 });
    expect(options.suspendedAccess).toBe('read-only');
  });

  it('builds the resolver of each strategy', () => {
    expect(fromTursoMultiTenantConfig({ ...protocolExample, tenantResolverStrategy: 'path' }).resolvers?.[0]?.name).toBe('path');
    expect(fromTursoMultiTenantConfig({ ...protocolExample, tenantResolverStrategy: 'lookup' }).resolvers?.[0]?.name).toBe('host');
    expect(
      fromTursoMultiTenantConfig({ ...protocolExample, tenantResolverStrategy: 'subdomain' }, { baseDomains: ['app.example.com'] }).resolvers?.[0]?.name,
    ).toBe('subdomain');
    expect(
      fromTursoMultiTenantConfig({ ...protocolExample, tenantResolverStrategy: 'token' }, { jwt: { secret: 'a-very-long-secret-of-at-least-32-bytes!', issuer: 'https://id.example.com', audience: 'api' } }).resolvers?.[0]?.name,
    ).toBe('jwt');
  });

  it('refuses strategies that lack what they need, and invalid configs, naming the field', () => {
    expect(() => fromTursoMultiTenantConfig({ ...protocolExample, tenantResolverStrategy: 'token' })).toThrow(/extras\.jwt/);
    expect(() => fromTursoMultiTenantConfig({ ...protocolExample, tenantResolverStrategy: 'subdomain' })).toThrow(/baseDomains/);
    expect(() => fromTursoMultiTenantConfig({ ...protocolExample, urlTemplate: 'libsql://fixed.turso.io' })).toThrow(/urlTemplate/);
    expect(() => fromTursoMultiTenantConfig({ ...protocolExample, organizationSlug: '' })).toThrow(/organizationSlug/);
    expect(() => fromTursoMultiTenantConfig({ ...protocolExample, maxCachedConnections: 0 })).toThrow(/maxCachedConnections/);
  });
});
