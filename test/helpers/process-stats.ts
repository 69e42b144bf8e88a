/**
 * Figures of the test process itself: open file descriptors, resident memory, and a full
 * garbage collection for tests that count descriptors.
 */
import fs from 'node:fs';
import v8 from 'node:v8';
import vm from 'node:vm';

const FD_DIR = '/proc/self/fd';

/** True where `/proc/self/fd` can be read (Linux). */
export const CAN_COUNT_FDS = fs.existsSync(FD_DIR);

/** Open file descriptors of this process (entries of `/proc/self/fd`). */
export function openFileDescriptors(): number {
  return fs.readdirSync(FD_DIR).length;
}

/** Resident set size in MiB, one decimal. */
export function rssMiB(): number {
  return Math.round((process.memoryUsage.rss() / 1_048_576) * 10) / 10;
}

/**
 * Runs a full garbage collection a few times and lets finalizers run in between. libsql 0.5
 * (under `@libsql/client` 0.18) releases a `file:` connection's descriptor only when the
 * statements prepared on it are collected, so descriptors return to the OS at the first GC
 * after `close()` (see `ClientPool.close()`). Works without `--expose-gc` on the command line.
 */
export async function collectGarbage(rounds = 3): Promise<void> {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  for (let i = 0; i < rounds; i++) {
    gc();
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** The `q`-quantile (0..1) of `values` (sorted copy, nearest rank). */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}
