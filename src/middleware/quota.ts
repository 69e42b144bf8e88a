/**
 * What the adapters' route-level `quota()` middleware shares: finding the quotas of the scope
 * the request runs in.
 */
import { currentScope } from '../context/index.js';
import { TenantryError } from '../errors/index.js';
import type { QuotaService } from '../quota/service.js';
import { RequestScope } from '../router/scope.js';

/** The quota service of the current request's tenantry instance. */
export function scopeQuota(): QuotaService {
  const scope = currentScope();
  if (!(scope instanceof RequestScope)) {
    throw new TenantryError('NO_TENANT_CONTEXT', 'quota() middleware must run after tenancy() on a route with a tenant');
  }
  return scope.quota;
}
