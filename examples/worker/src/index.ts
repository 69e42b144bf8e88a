/**
 * A Cloudflare Worker on tenantry: the tenant comes from a verified JWT and must match the
 * subdomain, its record from a libSQL control plane on Turso, its data from its own Turso
 * database. Wrangler bundles `tenantry` through its `workerd` export condition: the edge build,
 * with `@libsql/client/web` and no client kept across requests.
 */
import { createTenantry, fromJwt, fromSubdomain, getTenant, getTenantClient, libsqlRegistry } from 'tenantry';
import type { Tenantry } from 'tenantry';

/** `[vars]` of wrangler.toml and the secrets set with `wrangler secret put`. */
export interface Env {
  BASE_DOMAIN: string;
  JWKS_URL: string;
  JWT_ISSUER: string;
  JWT_AUDIENCE: string;
  TURSO_ORG: string;
  CONTROL_PLANE_URL: string;
  CONTROL_PLANE_TOKEN: string;
  TURSO_GROUP_TOKEN: string;
}

// One instance per isolate, shared by its requests (registry cache, JWKS, rate counters).
// Created on the first request because the bindings arrive with it.
let tenantry: Tenantry | undefined;

function tenantryFor(env: Env): Tenantry {
  tenantry ??= createTenantry({
    mode: 'production',
    resolvers: [
      fromJwt({ jwksUrl: env.JWKS_URL, issuer: env.JWT_ISSUER, audience: env.JWT_AUDIENCE, claim: 'tenant_id' }),
      fromSubdomain({ baseDomains: [env.BASE_DOMAIN] }),
    ],
    registry: libsqlRegistry({ url: env.CONTROL_PLANE_URL, authToken: env.CONTROL_PLANE_TOKEN }),
    databases: { urlTemplate: `libsql://{tenant}-${env.TURSO_ORG}.turso.io`, authToken: env.TURSO_GROUP_TOKEN },
    // the memory quota store counts per isolate: a cheap guard, not a global limit
    plans: { free: { apiRateLimit: 60 }, pro: { apiRateLimit: 600 }, enterprise: {} },
  });
  return tenantry;
}

export default {
  fetch(request: Request, env: Env): Promise<Response> {
    return tenantryFor(env).handle(request, async () => {
      const db = await getTenantClient();
      const { rows } = await db.execute('select id, body from notes order by id desc limit 50');
      return Response.json({ tenant: getTenant().tenantId, notes: rows });
    });
  },
};
