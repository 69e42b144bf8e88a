/**
 * Finds or fetches an official Node.js binary of a given major version, for running the tests on
 * a Node other than the one on PATH. Used by scripts/test-on-node.mjs and test/workerd/run.mjs.
 *
 * Lookup order: $TENANTRY_NODE<major> (a node binary), the copy cached in .cache/node<major>/,
 * or a fresh copy fetched into that cache with `npm pack node-<os>-<arch>@<major>` (the official
 * binary shipped as an npm package, under package/bin/node) and reused afterwards.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** Repository root (the folder holding package.json and .cache/). */
export const root = join(import.meta.dirname, '..');

/**
 * Major version of a node binary, read from `<binary> --version`.
 * @param {string} nodeBinary path of a node executable
 * @returns {number} the major version (NaN when the output is not a Node version)
 */
export function nodeMajor(nodeBinary) {
  const version = execFileSync(nodeBinary, ['--version'], { encoding: 'utf8' }).trim();
  return Number(/^v(\d+)\./.exec(version)?.[1]);
}

/**
 * Path of a node binary of exactly the given major version (or at least it, with `atLeast`).
 * Returns the running node when it fits, else $TENANTRY_NODE<major>, else the cached copy, else
 * fetches one from the npm registry into .cache/node<major>/.
 * @param {number} major the Node.js major version, e.g. 22
 * @param {{ atLeast?: boolean, log?: (message: string) => void }} [options] `atLeast`: any newer
 *   major also fits (the running node is used when it does); `log`: progress messages
 * @returns {string} absolute path of the node binary
 */
export function nodeBinary(major, options = {}) {
  if (!Number.isInteger(major) || major < 1) throw new Error(`node major must be a positive integer, got ${major}`);
  const fits = (found) => (options.atLeast ? found >= major : found === major);
  if (fits(Number(process.versions.node.split('.')[0]))) return process.execPath;
  const variable = `TENANTRY_NODE${major}`;
  const given = process.env[variable];
  if (given !== undefined && given !== '') {
    if (!fits(nodeMajor(given))) throw new Error(`${variable}=${given} is not Node ${major}${options.atLeast ? '+' : ''}`);
    return given;
  }
  const cache = join(root, '.cache', `node${major}`);
  const cached = join(cache, 'package', 'bin', process.platform === 'win32' ? 'node.exe' : 'node');
  if (existsSync(cached) && fits(nodeMajor(cached))) return cached;
  const os = process.platform === 'win32' ? 'win' : process.platform;
  const name = `node-${os}-${process.arch}@${major}`;
  (options.log ?? console.log)(`fetching ${name} into .cache/node${major}`);
  rmSync(cache, { recursive: true, force: true });
  mkdirSync(cache, { recursive: true });
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const tarball = execFileSync(npm, ['pack', name, '--pack-destination', cache, '--silent'], { encoding: 'utf8', cwd: cache })
    .trim()
    .split('\n')
    .pop();
  execFileSync('tar', ['-xzf', join(cache, tarball), '-C', cache]);
  rmSync(join(cache, tarball));
  if (!existsSync(cached) || !fits(nodeMajor(cached))) throw new Error(`${name} did not unpack to ${cached}`);
  return cached;
}
