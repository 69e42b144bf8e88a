/**
 * The tenant runtime context: the one AsyncLocalStorage of tenantry. Everything that asks
 * "which tenant is this?" inside a request, job or script asks this module.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Client } from '@libsql/client';
import { TenantryError } from '../errors/index.js';
import type { TenantRecord, TenantRuntimeContext } from '../protocol/index.js';

/**
 * What a tenant scope holds: the context `getTenant()` returns and the way to this tenant's
 * database. Created by the tenant router for each request (or `withTenant` call).
 */
export interface TenantScope {
  readonly context: TenantRuntimeContext;
  readonly record: TenantRecord;
  /** True when the tenant is suspended and served read-only. */
  readonly readOnly: boolean;
  /** The tenant's pooled client, leased for the rest of this scope. */
  client(): Promise<Client>;
}

/**
 * One storage per process, even when the ESM and CommonJS builds of tenantry are both loaded
 * (an app importing `tenantry` while a dependency requires `tenantry/express`): the storage is
 * kept under a global symbol so both builds see the same scopes.
 */
const STORAGE_KEY = Symbol.for('tenantry.context.storage');
const storage: AsyncLocalStorage<TenantScope> = ((globalThis as Record<symbol, unknown>)[STORAGE_KEY] ??=
  new AsyncLocalStorage<TenantScope>()) as AsyncLocalStorage<TenantScope>;

/** Runs `fn` inside `scope`: `getTenant()` and `getTenantClient()` see it in every async path. */
export function runWithTenant<T>(scope: TenantScope, fn: () => T): T {
  return storage.run(scope, fn);
}

/** The current scope, or `undefined` outside one. */
export function currentScope(): TenantScope | undefined {
  return storage.getStore();
}

/**
 * The runtime context of the current tenant.
 *
 * @throws {TenantryError} `NO_TENANT_CONTEXT` outside a tenant scope (a programming error:
 *   the code is not running under `tenancy()`, `tenantry.handle()` or `tenantry.withTenant()`).
 * @example
 * app.get('/me', (c) => c.json({ tenant: getTenant().tenantId }))
 */
export function getTenant(): TenantRuntimeContext {
  const scope = storage.getStore();
  if (scope === undefined) throw noContext('getTenant');
  return scope.context;
}

/** The runtime context of the current tenant, or `undefined` outside a tenant scope. */
export function tryGetTenant(): TenantRuntimeContext | undefined {
  return storage.getStore()?.context;
}

/**
 * The `@libsql/client` Client of the current tenant's database. The client is leased for the
 * rest of the request: the pool never closes it while the request runs. Do not call `close()`
 * on it. For a suspended tenant served read-only, the client refuses writes.
 *
 * @throws {TenantryError} `NO_TENANT_CONTEXT` outside a tenant scope.
 * @example
 * const db = await getTenantClient();
 * const { rows } = await db.execute('select * from notes');
 */
export function getTenantClient(): Promise<Client> {
  const scope = storage.getStore();
  if (scope === undefined) return Promise.reject(noContext('getTenantClient'));
  return scope.client();
}

function noContext(fn: string): TenantryError {
  return new TenantryError(
    'NO_TENANT_CONTEXT',
    `${fn}() was called outside a tenant scope; run it under tenancy(), tenantry.handle() or tenantry.withTenant()`,
  );
}
