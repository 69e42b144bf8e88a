/**
 * examples/worker: bundled as wrangler bundles it and run in workerd with its wrangler.toml
 * settings. Without network access only what needs none is checked: the Worker loads, builds
 * its tenantry instance (libSQL registry over libsql://) and refuses a request without a token.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorker } from './harness.js';
import type { WorkerHarness } from './harness.js';

const example = join(import.meta.dirname, '..', '..', 'examples', 'worker');
const toml = readFileSync(join(example, 'wrangler.toml'), 'utf8');

/** A `key = "value"` line of wrangler.toml (the string settings are all this needs). */
function setting(key: string): string {
  const match = new RegExp(`^${key}\\s*=\\s*"([^"]*)"`, 'm').exec(toml);
  if (match === null) throw new Error(`wrangler.toml has no ${key}`);
  return match[1]!;
}

let worker: WorkerHarness;
beforeAll(async () => {
  const vars = Object.fromEntries(
    ['BASE_DOMAIN', 'JWKS_URL', 'JWT_ISSUER', 'JWT_AUDIENCE', 'TURSO_ORG', 'CONTROL_PLANE_URL'].map((key) => [key, setting(key)]),
  );
  worker = await startWorker({
    entry: join(example, setting('main')),
    compatibilityDate: setting('compatibility_date'),
    bindings: { ...vars, CONTROL_PLANE_TOKEN: 'control-plane-token', TURSO_GROUP_TOKEN: 'group-token' },
  });
});
afterAll(async () => {
  await worker?.dispose();
});

describe('the Worker example', () => {
  it('asks for nodejs_compat in its wrangler.toml', () => {
    expect(toml).toMatch(/^compatibility_flags = \["nodejs_compat"\]$/m);
  });

  it('loads in workerd and answers a request without a token with 401 problem+json, offline', async () => {
    const res = await worker.fetch('https://acme.app.example.com/');
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(await res.json()).toMatchObject({ code: 'INVALID_TOKEN' });
    expect(worker.unexpected).toEqual([]);
  });
});
