/**
 * Progress of `tenantry migrate`: a redrawn bar with counts, rate and ETA on a terminal, plain
 * lines (at most one a second, and the last) otherwise. Written to stderr so that stdout keeps
 * only the result.
 */
import type { MigrationProgress } from '../provisioning/migration-runner.js';
import { formatDuration } from './output.js';
import type { TextStream } from './output.js';

/** Options of {@link MigrationProgressReporter}. */
export interface ProgressOptions {
  /** Tenants to migrate (known up front: the CLI lists them first). */
  total: number;
  /** Redraw a bar (true) or print lines (false). Default: `stream.isTTY === true`. */
  tty?: boolean;
  /** Clock in ms, for throttling. Default `Date.now`. */
  now?: () => number;
  /** Least time between two redraws of the bar. Default 80 ms. */
  redrawMs?: number;
  /** Least time between two plain lines. Default 1000 ms. */
  lineMs?: number;
}

const BAR_WIDTH = 24;

/**
 * Shows migration progress on `stream`. Call {@link MigrationProgressReporter.update} from
 * `onProgress` and {@link MigrationProgressReporter.finish} once the run is over.
 *
 * @example
 * const progress = new MigrationProgressReporter(process.stderr, { total: ids.length });
 * const report = await tenantry.migrate({ tenants: ids, onProgress: (p) => progress.update(p) });
 * progress.finish();
 */
export class MigrationProgressReporter {
  readonly #stream: TextStream;
  readonly #total: number;
  readonly #tty: boolean;
  readonly #now: () => number;
  readonly #redrawMs: number;
  readonly #lineMs: number;
  #last: MigrationProgress | undefined;
  #shownAt: number | undefined;
  #drawn = false;
  #pending = false;

  constructor(stream: TextStream, options: ProgressOptions) {
    this.#stream = stream;
    this.#total = options.total;
    this.#tty = options.tty ?? stream.isTTY === true;
    this.#now = options.now ?? Date.now;
    this.#redrawMs = options.redrawMs ?? 80;
    this.#lineMs = options.lineMs ?? 1000;
  }

  /** Records the progress after one tenant; shows it unless the last showing is too recent. */
  update(progress: MigrationProgress): void {
    this.#last = progress;
    const now = this.#now();
    const last = progress.done >= this.#total;
    const gap = this.#tty ? this.#redrawMs : this.#lineMs;
    if (!last && this.#shownAt !== undefined && now - this.#shownAt < gap) {
      this.#pending = true;
      return;
    }
    this.#show(now);
  }

  /** Shows the last progress if it was held back, and ends the bar's line. */
  finish(): void {
    if (this.#pending) this.#show(this.#now());
    if (this.#tty && this.#drawn) this.#stream.write('\n');
    this.#drawn = false;
  }

  #show(now: number): void {
    const progress = this.#last;
    if (progress === undefined) return;
    this.#shownAt = now;
    this.#pending = false;
    if (this.#tty) {
      let line = progressBar(progress, this.#total);
      const columns = this.#stream.columns;
      if (columns !== undefined && columns > 1 && line.length >= columns) line = line.slice(0, columns - 1);
      this.#stream.write(`\r\u001b[2K${line}`);
      this.#drawn = true;
    } else {
      this.#stream.write(`${progressLine(progress, this.#total)}\n`);
    }
  }
}

/**
 * The bar shown on a terminal.
 *
 * @example
 * progressBar({ done: 12, total: 40, succeeded: 11, failed: 1, skipped: 0, tenantId: 'x', elapsedMs: 2000 }, 40)
 * // 'migrating [#######.................] 12/40  30% | 1 failed | 6.0/s | ETA 4.7 s'
 */
export function progressBar(progress: MigrationProgress, total: number): string {
  const ratio = total === 0 ? 1 : Math.min(1, progress.done / total);
  const filled = Math.round(ratio * BAR_WIDTH);
  const bar = `${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}`;
  const count = `${progress.done}/${total}`.padStart(2 * String(total).length + 1);
  const percent = `${Math.floor(ratio * 100)}%`.padStart(4);
  return `migrating [${bar}] ${count} ${percent} | ${progress.failed} failed | ${rateOf(progress)} | ETA ${etaOf(progress, total)}`;
}

/**
 * The line printed when stderr is not a terminal.
 *
 * @example
 * progressLine({ done: 12, total: 40, succeeded: 11, failed: 1, skipped: 0, tenantId: 'x', elapsedMs: 2000 }, 40)
 * // 'migrate: 12/40 tenants (30%), 11 migrated, 0 up to date, 1 failed, 6.0/s, ETA 4.7 s'
 */
export function progressLine(progress: MigrationProgress, total: number): string {
  const percent = total === 0 ? 100 : Math.floor((Math.min(progress.done, total) / total) * 100);
  return (
    `migrate: ${progress.done}/${total} tenants (${percent}%), ${progress.succeeded} migrated, ${progress.skipped} up to date, ` +
    `${progress.failed} failed, ${rateOf(progress)}, ETA ${etaOf(progress, total)}`
  );
}

function perSecond(progress: MigrationProgress): number | undefined {
  if (progress.elapsedMs <= 0 || progress.done === 0) return undefined;
  return progress.done / (progress.elapsedMs / 1000);
}

function rateOf(progress: MigrationProgress): string {
  const rate = perSecond(progress);
  return rate === undefined ? '-/s' : `${rate.toFixed(1)}/s`;
}

function etaOf(progress: MigrationProgress, total: number): string {
  const left = Math.max(0, total - progress.done);
  if (left === 0) return '0 ms';
  const rate = perSecond(progress);
  return rate === undefined ? '-' : formatDuration((left / rate) * 1000);
}
