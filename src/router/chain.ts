import { TenantryError, isTenantryError } from '../errors/index.js';
import type { RequestView, ResolverEnv, TenantIdentity, TenantResolver } from './types.js';

/**
 * Runs every resolver in order and collects what they found. Synchronous while the resolvers
 * are; the first resolver that returns a promise turns the rest of the run asynchronous.
 * A resolver that throws something other than a `TenantryError` (a bug in a custom resolver)
 * is reported as `TENANT_NOT_RESOLVED` with the original error as `cause`.
 */
export function runResolvers(
  resolvers: readonly TenantResolver[],
  request: RequestView,
  env: ResolverEnv,
): TenantIdentity[] | Promise<TenantIdentity[]> {
  const found: TenantIdentity[] = [];
  for (let i = 0; i < resolvers.length; i++) {
    const resolver = resolvers[i]!;
    const result = callResolver(resolver, request, env);
    if (result instanceof Promise) return continueAsync(resolvers, i, result, found, request, env);
    if (result !== undefined) found.push(result);
  }
  return found;
}

/**
 * {@link runResolvers} for a chain of exactly one resolver: its identity (or `undefined`) without
 * the array, with the same error mapping. The common configuration, so the hot path allocates
 * nothing here.
 */
export function runSingleResolver(
  resolver: TenantResolver,
  request: RequestView,
  env: ResolverEnv,
): TenantIdentity | undefined | Promise<TenantIdentity | undefined> {
  const result = callResolver(resolver, request, env);
  if (result instanceof Promise) {
    return result.catch((err: unknown) => {
      throw asTenantryError(err, resolver);
    });
  }
  return result;
}

async function continueAsync(
  resolvers: readonly TenantResolver[],
  index: number,
  pending: Promise<TenantIdentity | undefined>,
  found: TenantIdentity[],
  request: RequestView,
  env: ResolverEnv,
): Promise<TenantIdentity[]> {
  const first = await pending.catch((err: unknown) => {
    throw asTenantryError(err, resolvers[index]!);
  });
  if (first !== undefined) found.push(first);
  for (let i = index + 1; i < resolvers.length; i++) {
    const resolver = resolvers[i]!;
    const result = await Promise.resolve(callResolver(resolver, request, env)).catch((err: unknown) => {
      throw asTenantryError(err, resolver);
    });
    if (result !== undefined) found.push(result);
  }
  return found;
}

function callResolver(
  resolver: TenantResolver,
  request: RequestView,
  env: ResolverEnv,
): TenantIdentity | undefined | Promise<TenantIdentity | undefined> {
  try {
    return resolver.resolve(request, env);
  } catch (err) {
    throw asTenantryError(err, resolver);
  }
}

function asTenantryError(err: unknown, resolver: TenantResolver): TenantryError {
  if (isTenantryError(err)) return err;
  return new TenantryError('TENANT_NOT_RESOLVED', `resolver "${resolver.name}" failed`, { cause: err });
}
