#!/usr/bin/env node
/**
 * Runs the unit suite (`vitest run`) on a given Node.js major version, with the official binary
 * found or fetched by scripts/node-binary.mjs (cached in .cache/node<major>/).
 *
 * Usage: node scripts/test-on-node.mjs <major> [vitest args]
 *   e.g. node scripts/test-on-node.mjs 22
 *        node scripts/test-on-node.mjs 24 test/pool-close.test.ts
 * Tests that import dist/ need `npm run build` first (npm run test:node22 does it).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { nodeBinary, root } from './node-binary.mjs';

const [majorArgument, ...vitestArgs] = process.argv.slice(2);
const major = Number(majorArgument);
if (majorArgument === undefined || !/^\d+$/.test(majorArgument) || major < 1) {
  console.error('usage: node scripts/test-on-node.mjs <node major, e.g. 22> [vitest args]');
  process.exit(2);
}

let node;
try {
  node = nodeBinary(major, { log: (message) => console.log(`test-on-node: ${message}`) });
} catch (err) {
  console.error(`test-on-node: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
console.log(`test-on-node: vitest run on Node ${spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim()} (${node})`);
const run = spawnSync(node, [vitest, 'run', ...vitestArgs], { cwd: root, stdio: 'inherit' });
if (run.error !== undefined) throw run.error;
process.exit(run.status ?? 1);
