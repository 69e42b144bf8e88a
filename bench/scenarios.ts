/**
 * The common results format of the benchmarks. Every bench script describes what it measured as
 * a list of {@link Scenario}s and writes them with {@link writeScenarios} to
 * `bench/results/scenarios/<script>.json` (git-ignored); `bench/report.ts` then gathers every
 * file there into `bench/results.md` and `bench/results.json`.
 *
 * A script that is not written in TypeScript can write the same JSON by hand: the shape is
 * {@link ScenarioFile}, one file per script, named after the script.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Folder of the per-script files (`bench/results/` is git-ignored). */
export const SCENARIOS_DIR = fileURLToPath(new URL('./results/scenarios/', import.meta.url));

/** One measured scenario: tenantry against a baseline measured in the same run. */
export interface Scenario {
  /** Short id within the script, e.g. `'1'`, `'R2'`, `'P1'` (optional). */
  id?: string;
  /** What tenantry ran, in one line. */
  scenario: string;
  /** What it is compared with, in a few words; `''` when the row stands alone. */
  baseline: string;
  /** The baseline's figure, in `unit`; `null` without a baseline. */
  baselineValue: number | null;
  /** tenantry's figure, in `unit`. */
  tenantryValue: number;
  /** Unit of both values, e.g. `'µs CPU/req'`, `'ns/call'`, `'req/s'`, `'ms'`, `'MiB'`, `'count'`. */
  unit: string;
  /** Always `tenantryValue / baselineValue` (below 1: tenantry lower); `null` without a baseline. */
  ratio: number | null;
  /** The target in words, in the terms of `ratio` or of `tenantryValue`, e.g. `'≤ 1.20×'`, `'≤ 1 µs'`. */
  target?: string;
  /** Whether the target was met (present when `target` is). */
  pass?: boolean;
  /** Spread, counts, caveats: whatever a reader needs to trust the row. */
  notes: string;
}

/** The machine a script ran on. */
export interface MachineNotes {
  node: string;
  platform: string;
  cpuModel: string;
  cores: number;
  /** 1-minute load average when the script started and when it ended. */
  loadavgStart: number;
  loadavgEnd: number;
}

/** What one script writes: `bench/results/scenarios/<script>.json`. */
export interface ScenarioFile {
  /** The script's name, e.g. `'run'`, `'registry'`. */
  script: string;
  /** Section title in the report. */
  title: string;
  startedAt: string;
  finishedAt: string;
  elapsedSeconds: number;
  /** A `BENCH_QUICK=1` smoke run: figures are not meaningful. */
  quick: boolean;
  machine: MachineNotes;
  /** Method, in a sentence or three (printed under the section's table). */
  method: string;
  scenarios: Scenario[];
}

/** Machine notes, taking the end load average now. */
export function machineNotes(loadavgStart: number): MachineNotes {
  return {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    loadavgStart,
    loadavgEnd: loadavg()[0]!,
  };
}

/** `tenantryValue / baselineValue`, or `null` when there is no usable baseline. */
export function ratioOf(tenantryValue: number, baselineValue: number | null): number | null {
  if (baselineValue === null || !Number.isFinite(baselineValue) || baselineValue === 0) return null;
  return tenantryValue / baselineValue;
}

/**
 * Writes `bench/results/scenarios/<script>.json` and returns its path. Throws on a scenario
 * whose value is not a finite number, or whose `pass` is given without a `target`.
 */
export function writeScenarios(file: Omit<ScenarioFile, 'finishedAt' | 'elapsedSeconds'>): string {
  if (!/^[a-z0-9-]+$/.test(file.script)) throw new TypeError(`writeScenarios: script name "${file.script}" must be lowercase letters, digits and dashes`);
  for (const s of file.scenarios) {
    if (!Number.isFinite(s.tenantryValue)) throw new TypeError(`writeScenarios: "${s.scenario}" has no finite tenantryValue (${s.tenantryValue})`);
    if (s.pass !== undefined && s.target === undefined) throw new TypeError(`writeScenarios: "${s.scenario}" has pass without target`);
  }
  const finishedAt = new Date();
  const out: ScenarioFile = {
    ...file,
    finishedAt: finishedAt.toISOString(),
    elapsedSeconds: (finishedAt.getTime() - Date.parse(file.startedAt)) / 1000,
  };
  mkdirSync(SCENARIOS_DIR, { recursive: true });
  const path = join(SCENARIOS_DIR, `${file.script}.json`);
  writeFileSync(path, `${JSON.stringify(out, null, 2)}\n`);
  return path;
}
