/**
 * Small helpers shared by the bench scripts: integer knobs from the environment, and the
 * statistics every script reports (median, nearest-rank percentile).
 */

/**
 * The integer in environment variable `name`, or `fallback` when it is unset or empty. Anything
 * else than an integer ≥ `min` ends the process with exit code 2 and says why.
 */
export function intEnv(name: string, fallback: number, min = 1): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    console.error(`${name} must be an integer >= ${min} (got "${raw}")`);
    process.exit(2);
  }
  return value;
}

/** The median of `values` (NaN when empty). */
export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Nearest-rank percentile `p` (0–100) of `values` (NaN when empty; with 10 samples, p95 is the slowest). */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1]!;
}
