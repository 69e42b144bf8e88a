/**
 * Running the built `tenantry` CLI (dist/cli.js) from tests: `ensureCliBuilt()` rebuilds the
 * JavaScript of dist (no type declarations, no clean) when it is missing or older than src/,
 * one test file at a time; `cli()` spawns it in a working directory.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const ROOT = join(import.meta.dirname, '..', '..');
export const CLI = join(ROOT, 'dist', 'cli.js');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

function isFresh(): boolean {
  try {
    return statSync(CLI).mtimeMs >= newestMtime(join(ROOT, 'src'));
  } catch {
    return false;
  }
}

/**
 * Makes sure dist/cli.js is built from the current src/ (`npm test` builds first, so this is
 * usually a no-op). A lock in the temp folder keeps parallel test files from building at once.
 */
export async function ensureCliBuilt(): Promise<void> {
  if (isFresh()) return;
  const lock = join(tmpdir(), `tenantry-cli-build-${Buffer.from(ROOT).toString('hex').slice(-32)}.lock`);
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // a lock left by a killed run is taken over after two minutes
      if (Date.now() - statSync(lock).mtimeMs > 120_000) rmdirSync(lock);
      else await sleep(100);
    }
  }
  try {
    if (isFresh()) return;
    const { build } = await import('tsup');
    await build({ dts: false, clean: false, silent: true });
  } finally {
    rmdirSync(lock);
  }
}

/** What a run of the CLI printed, and its exit code. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of {@link cli}. */
export interface CliOptions {
  cwd: string;
  /** Written to stdin (a pipe, so never a terminal). Default: nothing (stdin closed). */
  input?: string;
  /** The file to run. Default: `node dist/cli.js`; a path here is executed directly (shebang). */
  executable?: string;
}

/** Runs the CLI with `args` in `options.cwd`. */
export function cli(args: readonly string[], options: CliOptions): Promise<CliResult> {
  const [file, argv] = options.executable === undefined ? [process.execPath, [CLI, ...args]] : [options.executable, [...args]];
  return new Promise((resolve, reject) => {
    const child = execFile(file, argv, { cwd: options.cwd, encoding: 'utf8', timeout: 20_000 }, (error, stdout, stderr) => {
      if (error !== null && typeof error.code !== 'number') {
        reject(Object.assign(error, { stdout, stderr }));
        return;
      }
      resolve({ code: error === null ? 0 : (error.code as number), stdout, stderr });
    });
    child.stdin?.end(options.input ?? '');
  });
}
