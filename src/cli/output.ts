/**
 * Output of the `tenantry` command: aligned tables, key/value blocks, JSON, and the figures in
 * them (durations, bytes). Every function returns a string; the caller writes it.
 */
import type { TenantRecord } from '../protocol/index.js';

/** A writable text stream (process.stdout / process.stderr, or a test double). */
export interface TextStream {
  write(chunk: string): unknown;
  /** True on a terminal. */
  isTTY?: boolean;
  /** Width of the terminal, when it is one. */
  columns?: number;
}

/** A cell as printed: control characters (newlines, escapes) become spaces, empty becomes `-`. */
export function cell(value: unknown): string {
  if (value === undefined || value === null || value === '') return '-';
  // eslint-disable-next-line no-control-regex
  return String(value).replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ');
}

/**
 * Rows under an upper-case header, columns aligned with two spaces (the last one unpadded).
 *
 * @example
 * table(['id', 'status'], [['acme', 'active']]) // 'ID    STATUS\nacme  active\n'
 */
export function table(header: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const all = [header.map((h) => h.toUpperCase()), ...rows.map((row) => row.map(cell))];
  const widths = header.map((_, i) => Math.max(...all.map((row) => (row[i] ?? '').length)));
  return all.map((row) => row.map((value, i) => (i === row.length - 1 ? value : value.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n') + '\n';
}

/**
 * Labelled values, one a line, labels aligned.
 *
 * @example
 * keyValues([['id', 'acme'], ['plan', 'pro']]) // 'id    acme\nplan  pro\n'
 */
export function keyValues(pairs: readonly (readonly [string, unknown])[]): string {
  const width = Math.max(...pairs.map(([key]) => key.length));
  return pairs.map(([key, value]) => `${key.padEnd(width)}  ${cell(value)}`).join('\n') + '\n';
}

/** `value` as indented JSON and a newline. */
export function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/**
 * A duration for people: `850 ms`, `12.3 s`, `4m 05s`, `2h 03m`.
 *
 * @example
 * formatDuration(65_000) // '1m 05s'
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h ${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
}

/**
 * A byte count for people: `512 B`, `1.5 KiB`, `20.0 MiB`.
 *
 * @example
 * formatBytes(1536) // '1.5 KiB'
 */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]!}`;
}

/** A record as printed: the database token is left out (tokens are never printed). */
export function printableRecord(record: TenantRecord): Omit<TenantRecord, 'db'> & { db: { url?: string } } {
  const { authToken: _token, ...db } = record.db;
  return { ...record, db };
}

/** An error as printed in a table or JSON: `code: message` when it has a string code. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}
