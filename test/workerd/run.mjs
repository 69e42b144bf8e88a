#!/usr/bin/env node
/**
 * Runs the workerd tests (test/workerd/*.workerd.ts) with Node >= 22, which Miniflare needs.
 * On an older Node it uses, in this order: $TENANTRY_NODE22 (a node binary), the copy cached in
 * .cache/node22/, or a fresh copy fetched into that cache with `npm pack node-<os>-<arch>@22`
 * (the official binary, as an npm package) and reused afterwards.
 *
 * Usage: node test/workerd/run.mjs [vitest args]   (npm run test:workerd builds dist first)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');
const cache = join(root, '.cache', 'node22');

function major(nodeBinary) {
  const version = execFileSync(nodeBinary, ['--version'], { encoding: 'utf8' }).trim();
  return Number(/^v(\d+)\./.exec(version)?.[1]);
}

function node22() {
  if (Number(process.versions.node.split('.')[0]) >= 22) return process.execPath;
  const given = process.env.TENANTRY_NODE22;
  if (given !== undefined && given !== '') {
    if (major(given) < 22) throw new Error(`TENANTRY_NODE22=${given} is not Node >= 22`);
    return given;
  }
  const cached = join(cache, 'package', 'bin', process.platform === 'win32' ? 'node.exe' : 'node');
  if (existsSync(cached) && major(cached) >= 22) return cached;
  const os = process.platform === 'win32' ? 'win' : process.platform;
  const name = `node-${os}-${process.arch}@22`;
  console.log(`test:workerd: Node ${process.versions.node} is too old for Miniflare; fetching ${name} into .cache/node22`);
  rmSync(cache, { recursive: true, force: true });
  mkdirSync(cache, { recursive: true });
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const tarball = execFileSync(npm, ['pack', name, '--pack-destination', cache, '--silent'], { encoding: 'utf8', cwd: cache })
    .trim()
    .split('\n')
    .pop();
  execFileSync('tar', ['-xzf', join(cache, tarball), '-C', cache]);
  rmSync(join(cache, tarball));
  if (!existsSync(cached) || major(cached) < 22) throw new Error(`${name} did not unpack to ${cached}`);
  return cached;
}

const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
const run = spawnSync(node22(), [vitest, 'run', '--config', join('test', 'workerd', 'vitest.config.ts'), ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
});
if (run.error !== undefined) throw run.error;
process.exit(run.status ?? 1);
