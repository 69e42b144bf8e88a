import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers/env.js';

const dist = join(import.meta.dirname, '..', 'dist');

describe('the built package', () => {
  it('shares one tenant context between its ESM and CommonJS builds', () => {
    expect(existsSync(join(dist, 'index.cjs')), 'dist/ is missing: run `npm run build` (npm test does)').toBe(true);
    const { dir, cleanup } = tempDir();
    const script = `
      import { createRequire } from 'node:module';
      const require = createRequire(import.meta.url);
      const esm = await import(${JSON.stringify(pathToFileURL(join(dist, 'index.js')).href)});
      const cjs = require(${JSON.stringify(join(dist, 'index.cjs'))});
      const tenantry = esm.createTenantry({
        registry: esm.memoryRegistry([{ id: 'acme' }]),
        databases: { urlTemplate: ${JSON.stringify(pathToFileURL(dir).href + '/{tenant}.db')} },
      });
      const seen = await tenantry.withTenant('acme', async () => {
        const db = await cjs.getTenantClient();
        return [cjs.getTenant().tenantId, (await db.execute('select 1 as one')).rows[0].one];
      });
      await tenantry.close();
      console.log(JSON.stringify(seen));
    `;
    try {
      const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
      expect(JSON.parse(out.trim())).toEqual(['acme', 1]);
    } finally {
      cleanup();
    }
  });
});
