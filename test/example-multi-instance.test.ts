import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers/env.js';

const root = join(import.meta.dirname, '..');
const demo = join(root, 'examples', 'multi-instance', 'demo.ts');
const tsx = join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs');
const databaseUrl = 'postgres://postgres@127.0.0.1:5432/test';
// A schema (and so a pub/sub channel) of its own: other runs of the demo or the suite never meet this one.
const schema = `tenantry_example_test_${process.pid}_${Date.now().toString(36)}`;

describe('examples/multi-instance', () => {
  afterAll(async () => {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    } finally {
      await client.end();
    }
  });

  it('runs the demo: two instances, a suspension on one refused by the other, exit code 0', async () => {
    expect(existsSync(join(root, 'dist', 'postgres.js')), 'dist/ is missing: run `npm run build` (npm test does)').toBe(true);
    const { dir, cleanup } = tempDir();
    try {
      const run = await new Promise<{ code: number | null; out: string }>((resolve) => {
        execFile(
          process.execPath,
          [tsx, demo],
          {
            cwd: root,
            // The demo's own 1 s promise is the bench's to measure: here only the behaviour counts.
            env: { ...process.env, DATABASE_URL: databaseUrl, TENANTRY_SCHEMA: schema, TENANTRY_DATA_DIR: dir, DEMO_DEADLINE_MS: '10000' },
            timeout: 60_000,
            killSignal: 'SIGKILL',
          },
          (err, stdout, stderr) => resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : null, out: `${stdout}\n${stderr}` }),
        );
      });
      expect(run.code, run.out).toBe(0);
      expect(run.out).toMatch(/B refuses acme\s+b\s+403 TENANT_SUSPENDED/);
      expect(run.out).toMatch(/B serves acme again\s+b\s+200/);
      expect(run.out).toMatch(/all checks passed/);
    } finally {
      cleanup();
    }
  }, 70_000);
});
