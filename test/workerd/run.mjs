#!/usr/bin/env node
/**
 * Runs the workerd tests (test/workerd/*.workerd.ts) with Node >= 22, which Miniflare needs.
 * On an older Node it uses scripts/node-binary.mjs: $TENANTRY_NODE22 (a node binary), the copy
 * cached in .cache/node22/, or a fresh copy fetched into that cache with
 * `npm pack node-<os>-<arch>@22` (the official binary, as an npm package) and reused afterwards.
 *
 * Usage: node test/workerd/run.mjs [vitest args]   (npm run test:workerd builds dist first)
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { nodeBinary, root } from '../../scripts/node-binary.mjs';

const node22 = () =>
  nodeBinary(22, {
    atLeast: true,
    log: (message) => console.log(`test:workerd: Node ${process.versions.node} is too old for Miniflare; ${message}`),
  });

const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
const run = spawnSync(node22(), [vitest, 'run', '--config', join('test', 'workerd', 'vitest.config.ts'), ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
});
if (run.error !== undefined) throw run.error;
process.exit(run.status ?? 1);
