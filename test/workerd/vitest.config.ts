/**
 * The workerd tests (`npm run test:workerd`): the Worker of test/workerd/worker.ts inside real
 * workerd through Miniflare, which needs Node >= 22 (test/workerd/run.mjs provides it). Their
 * files end in `.workerd.ts` so that the main `vitest run` (Node 20) does not pick them up.
 */
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: join(import.meta.dirname, '..', '..'),
  test: {
    include: ['test/workerd/**/*.workerd.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
