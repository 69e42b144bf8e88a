/**
 * The last step of `npm run bench`: gathers the scenario files the bench scripts wrote
 * (`bench/results/scenarios/<script>.json`, format in bench/scenarios.ts) into
 * `bench/results.md` (tables per script, machine notes, targets met and missed) and
 * `bench/results.json` (everything, flat list of scenarios included).
 *
 *   npx tsx bench/report.ts           write the report from the files present
 *   npx tsx bench/report.ts --reset   delete the scenario files (the first step of `npm run bench`,
 *                                     so a report never mixes in figures of an earlier run)
 *
 * Exits 1 when a scenario file cannot be read or has the wrong shape, or when there is none.
 */
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SCENARIOS_DIR } from './scenarios.js';
import type { Scenario, ScenarioFile } from './scenarios.js';

const MD_PATH = fileURLToPath(new URL('./results.md', import.meta.url));
const JSON_PATH = fileURLToPath(new URL('./results.json', import.meta.url));
const SVG_NAME = 'throughput-vs-tenants.svg';
/** Section order of the scripts `npm run bench` runs; files of other scripts follow, by name. */
const ORDER = ['run', 'run-node24', 'tenants', 'pool', 'registry', 'provisioning', 'diagnostics', 'deploy'];
/** Scripts `npm run bench` always runs: the report says when one of them left no file. */
const EXPECTED = ['run', 'tenants', 'pool', 'registry', 'provisioning', 'diagnostics'];

class ReportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReportError';
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const isNumberOrNull = (v: unknown): boolean => v === null || (typeof v === 'number' && Number.isFinite(v));

/** Reads and checks one scenario file. */
function readScenarioFile(path: string): ScenarioFile {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ReportError(`${path}: not readable JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  const where = (what: string): ReportError => new ReportError(`${path}: ${what}`);
  if (!isObject(raw)) throw where('not an object');
  for (const key of ['script', 'title', 'startedAt', 'finishedAt', 'method'] as const) {
    if (typeof raw[key] !== 'string') throw where(`"${key}" must be a string`);
  }
  if (typeof raw['quick'] !== 'boolean') throw where('"quick" must be a boolean');
  const machine = raw['machine'];
  if (!isObject(machine) || typeof machine['node'] !== 'string' || typeof machine['cpuModel'] !== 'string' || typeof machine['cores'] !== 'number') {
    throw where('"machine" must hold node, cpuModel, cores, loadavgStart, loadavgEnd');
  }
  if (!Array.isArray(raw['scenarios'])) throw where('"scenarios" must be an array');
  raw['scenarios'].forEach((s: unknown, i: number) => {
    const at = (what: string): ReportError => where(`scenarios[${i}]: ${what}`);
    if (!isObject(s)) throw at('not an object');
    for (const key of ['scenario', 'baseline', 'unit', 'notes'] as const) {
      if (typeof s[key] !== 'string') throw at(`"${key}" must be a string`);
    }
    if (typeof s['tenantryValue'] !== 'number' || !Number.isFinite(s['tenantryValue'])) throw at('"tenantryValue" must be a finite number');
    if (!isNumberOrNull(s['baselineValue'])) throw at('"baselineValue" must be a number or null');
    if (!isNumberOrNull(s['ratio'])) throw at('"ratio" must be a number or null');
    if (s['target'] !== undefined && typeof s['target'] !== 'string') throw at('"target" must be a string');
    if (s['pass'] !== undefined && typeof s['pass'] !== 'boolean') throw at('"pass" must be a boolean');
  });
  return raw as unknown as ScenarioFile;
}

// ---------------------------------------------------------------------------------------------
// Formatting

/** A figure with its unit: whole numbers (and all from 100 up) with separators, else 3 significant digits. */
function value(v: number | null, unit: string): string {
  if (v === null) return '';
  const abs = Math.abs(v);
  const text = Number.isInteger(v) || abs >= 100 ? Math.round(v).toLocaleString('en-US') : abs >= 10 ? v.toFixed(1) : abs >= 1 || abs === 0 ? v.toFixed(2) : v.toPrecision(2);
  return `${text} ${unit}`;
}

/**
 * `1.07×` (`1.072×` with `precise`, for rows with a target, so a ratio just past it does not
 * print as equal to it); far below 1 also as a fraction (`0.0043× (1/233)`).
 */
function ratio(r: number | null, precise = false): string {
  if (r === null) return '';
  if (r >= 0.1 || r <= 0) return `${r.toFixed(precise ? 3 : 2)}×`;
  return `${r.toPrecision(2)}× (1/${Math.round(1 / r).toLocaleString('en-US')})`;
}

/** Keeps a table cell on one row. */
const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function sectionTable(file: ScenarioFile): string {
  const head = ['#', 'scenario', 'baseline', 'baseline value', 'tenantry', 'ratio', 'target', 'result', 'notes'];
  const lines = [`| ${head.join(' | ')} |`, '| --- | --- | --- | ---: | ---: | ---: | --- | --- | --- |'];
  for (const s of file.scenarios) {
    const result = s.pass === undefined ? '' : s.pass ? 'PASS' : '**MISSED**';
    lines.push(
      `| ${[s.id ?? '', s.scenario, s.baseline, value(s.baselineValue, s.unit), value(s.tenantryValue, s.unit), ratio(s.ratio, s.target !== undefined), s.target ?? '', result, s.notes].map(cell).join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

const load = (v: number): string => v.toFixed(2);
const minutes = (seconds: number): string => (seconds >= 90 ? `${(seconds / 60).toFixed(1)} min` : `${Math.round(seconds)} s`);

function markdown(files: ScenarioFile[], generatedAt: Date): string {
  const out: string[] = [];
  const first = files[0]!;
  const quick = files.filter((f) => f.quick).map((f) => f.script);
  const started = files.map((f) => f.startedAt).sort()[0]!;
  const finished = files.map((f) => f.finishedAt).sort().at(-1)!;
  const totalSeconds = files.reduce((sum, f) => sum + f.elapsedSeconds, 0);
  out.push('# tenantry benchmark results', '');
  out.push(
    `Written by \`npm run bench\` (bench/report.ts) on ${generatedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC from the scenario files of ${files.length} bench scripts ` +
      `(${minutes(totalSeconds)} of benchmarks). Method, knobs and how to read the figures: [bench/README.md](README.md). ` +
      'Every ratio is tenantry ÷ its baseline measured in the same run (below 1: tenantry lower). Targets that are missed are marked **MISSED**; they are reported, not hidden.',
    '',
  );
  if (quick.length > 0) {
    out.push(`> **QUICK smoke run** (${quick.join(', ')}): \`BENCH_QUICK=1\` counts are too small for the figures to mean anything.`, '');
  }
  const missing = EXPECTED.filter((name) => !files.some((f) => f.script === name));
  if (missing.length > 0) out.push(`> Not in this report (no scenario file): ${missing.map((m) => `bench/${m}.ts`).join(', ')}.`, '');

  out.push('## Machine', '');
  out.push('| | |', '| --- | --- |');
  out.push(`| Node | ${first.machine.node} (${first.machine.platform}) |`);
  out.push(`| CPU | ${first.machine.cores} × ${cell(first.machine.cpuModel)} |`);
  out.push(`| cores | ${first.machine.cores} |`);
  out.push(`| date | ${started.slice(0, 16).replace('T', ' ')} → ${finished.slice(0, 16).replace('T', ' ')} UTC |`);
  out.push(`| load average (1 min), start → end of each script | ${files.map((f) => `${f.script} ${load(f.machine.loadavgStart)} → ${load(f.machine.loadavgEnd)}`).join('; ')} |`);
  const others = files.filter((f) => f.machine.node !== first.machine.node || f.machine.cpuModel !== first.machine.cpuModel);
  if (others.length > 0) out.push(`| note | ${others.map((f) => `${f.script} ran on ${f.machine.node}, ${cell(f.machine.cpuModel)}`).join('; ')} |`);
  out.push('');
  out.push(
    'A shared 2-core VM: other work on the host only ever adds time, and both sides of a comparison take turns so that it falls on both. ' +
      'Compare ratios, not absolute figures, and read the spread in the notes before trusting a PASS or a MISSED near its target.',
    '',
  );

  const targeted = files.flatMap((f) => f.scenarios.filter((s) => s.target !== undefined).map((s) => ({ file: f, s })));
  const met = targeted.filter(({ s }) => s.pass === true);
  const missed = targeted.filter(({ s }) => s.pass !== true);
  out.push('## Targets', '');
  out.push(`${met.length} of ${targeted.length} targets met.${missed.length === 0 ? '' : ' Missed:'}`, '');
  for (const { file, s } of missed) {
    out.push(`- ${cell(s.scenario)} (${file.script}${s.id === undefined ? '' : ` ${s.id}`}): ${value(s.tenantryValue, s.unit)}${s.ratio === null ? '' : `, ratio ${ratio(s.ratio, true)}`}; target ${s.target}`);
  }
  if (missed.length > 0) out.push('');

  for (const file of files) {
    out.push(`## ${file.title}`, '');
    if (file.quick) out.push('_QUICK smoke run: not meaningful._', '');
    out.push(sectionTable(file), '');
    out.push(`${file.method}`, '');
    out.push(
      `_${file.script}: ${file.startedAt.slice(0, 16).replace('T', ' ')} UTC, ${minutes(file.elapsedSeconds)}, load ${load(file.machine.loadavgStart)} → ${load(file.machine.loadavgEnd)}._`,
      '',
    );
    if (file.script === 'tenants' && existsSync(fileURLToPath(new URL(`./${SVG_NAME}`, import.meta.url)))) {
      out.push(`![Throughput vs active tenants](${SVG_NAME})`, '');
    }
  }
  return `${out.join('\n').trimEnd()}\n`;
}

// ---------------------------------------------------------------------------------------------
// Main

function main(): number {
  if (process.argv.includes('--reset')) {
    rmSync(SCENARIOS_DIR, { recursive: true, force: true });
    console.log(`report: cleared ${SCENARIOS_DIR}`);
    return 0;
  }
  const names = existsSync(SCENARIOS_DIR) ? readdirSync(SCENARIOS_DIR).filter((n) => n.endsWith('.json')) : [];
  if (names.length === 0) throw new ReportError(`no scenario files in ${SCENARIOS_DIR}: run the bench scripts first (npm run bench)`);
  const files = names.map((n) => readScenarioFile(join(SCENARIOS_DIR, n)));
  const rank = (script: string): number => {
    const i = ORDER.indexOf(script);
    return i === -1 ? ORDER.length : i;
  };
  files.sort((a, b) => rank(a.script) - rank(b.script) || a.script.localeCompare(b.script));
  const generatedAt = new Date();
  writeFileSync(MD_PATH, markdown(files, generatedAt));
  const flat: (Scenario & { script: string })[] = files.flatMap((f) => f.scenarios.map((s) => ({ script: f.script, ...s })));
  writeFileSync(
    JSON_PATH,
    `${JSON.stringify({ generatedAt: generatedAt.toISOString(), machine: files[0]!.machine, scripts: files, scenarios: flat }, null, 2)}\n`,
  );
  const targeted = flat.filter((s) => s.target !== undefined);
  console.log(
    `report: ${flat.length} scenarios from ${files.map((f) => f.script).join(', ')}; ${targeted.filter((s) => s.pass).length} of ${targeted.length} targets met; ` +
      `written to ${MD_PATH} and ${JSON_PATH}`,
  );
  return 0;
}

try {
  process.exitCode = main();
} catch (err) {
  console.error(err instanceof ReportError ? `report failed: ${err.message}` : err);
  process.exitCode = 1;
}
