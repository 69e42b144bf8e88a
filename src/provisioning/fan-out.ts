/**
 * Fan-out helpers shared by `migrateTenants` and the deploy pipeline: the `concurrency` option,
 * progress callbacks that never break a run, and running one job per tenant of an array with
 * bounded concurrency (workers take the next tenant while there is one and no stop was asked for).
 */

/**
 * Runs `work(item, index)` for each item, `concurrency` at a time. Once `stopped()` returns
 * true no new item is started (those running finish). `work` must not reject: it reports.
 * Returns the indexes that were never started.
 */
export async function fanOut<T>(items: readonly T[], concurrency: number, work: (item: T, index: number) => Promise<void>, stopped: () => boolean): Promise<number[]> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length && !stopped()) {
      const index = next++;
      await work(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return Array.from({ length: items.length - next }, (_, i) => next + i);
}

/** Calls `onProgress`; a throwing (or rejecting) callback is logged, never fatal. */
export function notify<P>(onProgress: ((progress: P) => void) | undefined, progress: P, where: string): void {
  if (onProgress === undefined) return;
  const complain = (err: unknown): void => console.error(`tenantry: ${where}: onProgress threw`, err);
  try {
    const returned: unknown = onProgress(progress);
    if (typeof returned === 'object' && returned !== null && typeof (returned as PromiseLike<unknown>).then === 'function') {
      (returned as PromiseLike<unknown>).then(undefined, complain);
    }
  } catch (err) {
    complain(err);
  }
}

/** Validates a concurrency option: an integer ≥ 1 (default 8). */
export function concurrencyOf(value: unknown, where: string): number {
  if (value === undefined) return 8;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) throw new TypeError(`${where}: options.concurrency must be an integer ≥ 1 (got ${String(value)})`);
  return value;
}
