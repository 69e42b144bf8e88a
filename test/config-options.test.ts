import { describe, expect, it } from 'vitest';
import { createTenantry, memoryRegistry } from '../src/index.js';
import type { TenantryOptions } from '../src/index.js';

const base: TenantryOptions = { registry: memoryRegistry(), databases: { urlTemplate: 'file:/tmp/never/{tenant}.db' } };

describe('createTenantry() options', () => {
  const bad: [string, TenantryOptions, RegExp][] = [
    ['a template without placeholder', { databases: { urlTemplate: 'file:/tmp/x.db' } }, /databases\.urlTemplate/],
    ['maxClients 0', { databases: { urlTemplate: 'file:/tmp/{tenant}.db', maxClients: 0 } }, /databases\.maxClients/],
    ['a fractional idle ttl', { databases: { urlTemplate: 'file:/tmp/{tenant}.db', idleTtlMs: 1.5 } }, /databases\.idleTtlMs/],
    ['a negative cache ttl', { cache: { ttlMs: -1 } }, /cache\.ttlMs/],
    ['an unknown plan', { plans: { gold: { apiRateLimit: 1 } } as never }, /plans\.gold/],
    ['a negative quota', { plans: { free: { apiRateLimit: -5 } } }, /plans\.free\.apiRateLimit/],
    ['a zero limit', { plans: { free: { maxObjects: 0 }, pro: {}, enterprise: {} } }, /plans\.free\.maxObjects/],
    ['an unknown quota field', { plans: { free: { requestsPerDay: 5 } as never } }, /plans\.free/],
    ['a missing plan', { plans: { free: { apiRateLimit: 5 }, pro: {} } }, /plans\.enterprise is missing/],
    ['maxUsers without a users function', { plans: { free: { maxUsers: 5 }, pro: {}, enterprise: {} } }, /quotas\.users/],
    ['an unknown quota option', { quotas: { failmode: {} } as never }, /quotas\.failmode/],
    ['a fail mode of an unknown quota', { quotas: { failMode: { maxWidgets: 'open' } as never } }, /quotas\.failMode\.maxWidgets/],
    ['a bad fail mode', { quotas: { failMode: { apiRateLimit: 'sometimes' as never } } }, /quotas\.failMode\.apiRateLimit/],
    ['a zero timeout', { quotas: { timeoutMs: 0 } }, /quotas\.timeoutMs/],
    ['a store without methods', { quotaStore: { name: 'x' } as never }, /quotaStore/],
    ['an invalid default tenant', { defaultTenant: 'Not Valid' }, /defaultTenant/],
    ['a bad suspendedAccess', { suspendedAccess: 'maybe' as never }, /suspendedAccess/],
    ['a resolver without resolve()', { resolvers: [{ name: 'x' } as never] }, /resolvers\[0\]/],
    ['a registry without get()', { registry: { list: () => [] } as never }, /registry\.get/],
    ['a non-boolean trustProxy', { trustProxy: 'yes' as never }, /trustProxy/],
    ['a misspelt option', { database: { urlTemplate: 'libsql://{tenant}.x' } } as never, /unknown option database/],
    ['a misspelt nested option', { databases: { urlTemplate: 'file:/tmp/{tenant}.db', maxClient: 3 } } as never, /unknown option databases\.maxClient/],
    ['a template with an unknown scheme', { databases: { urlTemplate: 'postgres://{tenant}' } }, /databases\.urlTemplate/],
    ['production mode without resolvers', { mode: 'production' }, /resolvers are required in production/],
  ];
  it.each(bad)('rejects %s with a TypeError naming the option', (_name, options, message) => {
    expect(() => createTenantry({ ...base, ...options })).toThrow(TypeError);
    expect(() => createTenantry({ ...base, ...options })).toThrow(message);
  });

  it('accepts 0 where 0 is meaningful', () => {
    const t = createTenantry({ ...base, cache: { negativeTtlMs: 0, staleIfErrorMs: 0 }, unavailableRetryAfterSeconds: 0 });
    expect(t).toBeDefined();
    return t.close();
  });
});
