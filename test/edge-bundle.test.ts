/**
 * The edge build (`dist/edge`, export conditions `workerd` / `edge-light` / `browser`): what a
 * Worker bundler makes of it, what it does at module load, and how it refuses Node-only options.
 * Runs on Node against the built package; test/workerd/ runs the same build inside workerd.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import type { Metafile } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as nodeBuild from '../src/index.js';

const root = join(import.meta.dirname, '..');
const dist = join(root, 'dist');
const ENTRY = "export * from 'tenantry'; export * from 'tenantry/hono'; export * from 'tenantry/turso';";
/** What wrangler passes to esbuild for a Worker. */
const WORKER_CONDITIONS = ['workerd', 'worker', 'browser'];
const FORBIDDEN = /\bnode:(?:fs|path|child_process|os)\b|\brequire\(\s*["'](?:fs|path|child_process|os)["']|\bfrom\s*["'](?:fs|path|child_process|os)(?:\/[a-z]+)?["']/;

/** tenantry's dependencies (left as imports when only tenantry's own code is wanted). */
const DEPENDENCIES = ['@libsql/*', 'jose', 'lru-cache', 'zod', 'hono'];

/**
 * Bundles the package's three edge entries the way a Worker bundler does (`tenantry` resolves
 * to this repository through its own `exports`); with `ownCodeOnly`, dependencies stay imports.
 */
async function bundle(options: { conditions: string[]; ownCodeOnly?: boolean; define?: Record<string, string> }) {
  const result = await build({
    stdin: { contents: ENTRY, resolveDir: root, loader: 'js' },
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    conditions: options.conditions,
    mainFields: ['browser', 'module', 'main'],
    external: options.ownCodeOnly === true ? ['node:*', ...DEPENDENCIES] : ['node:*'],
    ...(options.define === undefined ? {} : { define: options.define }),
    metafile: true,
    logLevel: 'silent',
  });
  return { text: result.outputFiles[0]!.text, metafile: result.metafile };
}

function externalImports(metafile: Metafile): string[] {
  const found = new Set<string>();
  for (const output of Object.values(metafile.outputs)) {
    for (const imported of output.imports) if (imported.external) found.add(imported.path);
  }
  return [...found].sort();
}

beforeAll(() => {
  expect(existsSync(join(dist, 'edge', 'index.js')), 'dist/edge is missing: run `npm run build` (npm test does)').toBe(true);
});

describe('the edge build as a Worker bundler sees it', () => {
  it('is what the workerd, edge-light and browser conditions resolve tenantry to, and node gets the full build', async () => {
    for (const condition of ['workerd', 'edge-light', 'browser']) {
      const { metafile } = await bundle({ conditions: [condition] });
      const ours = Object.keys(metafile.inputs).filter((input) => input.startsWith('dist/'));
      expect(ours.length, condition).toBeGreaterThan(0);
      expect(ours.every((input) => input.startsWith('dist/edge/')), `${condition}: ${ours.join(', ')}`).toBe(true);
    }
    const { metafile } = await bundle({ conditions: ['node'], ownCodeOnly: true });
    const ours = Object.keys(metafile.inputs).filter((input) => input.startsWith('dist/'));
    expect(ours).toContain('dist/index.js');
    expect(ours.some((input) => input.startsWith('dist/edge/'))).toBe(false);
  });

  it('imports no node:fs, node:path, node:child_process or node:os, with every dependency bundled', async () => {
    const { text, metafile } = await bundle({ conditions: WORKER_CONDITIONS });
    // only what workerd's nodejs_compat provides and the request path needs
    expect(externalImports(metafile)).toEqual(['node:async_hooks', 'node:diagnostics_channel']);
    expect(text).not.toMatch(FORBIDDEN);
    const inputs = Object.keys(metafile.inputs);
    expect(inputs).toContain('node_modules/@libsql/client/lib-esm/web.js');
    expect(inputs.some((input) => input.startsWith('node_modules/libsql/') || input.endsWith('@libsql/client/lib-esm/node.js'))).toBe(false);
  });

  it('imports @libsql/client/web itself, so bundlers without runtime conditions still get the web client', async () => {
    const { metafile } = await bundle({ conditions: WORKER_CONDITIONS, ownCodeOnly: true });
    const libsql = externalImports(metafile).filter((path) => path.startsWith('@libsql/'));
    expect(libsql).toEqual(['@libsql/client/web']);
  });

  it('has the same exports as the Node build', async () => {
    const edge = (await import(pathToFileURL(join(dist, 'edge', 'index.js')).href)) as Record<string, unknown>;
    expect(Object.keys(edge).sort()).toEqual(Object.keys(nodeBuild).sort());
  });
});

describe('module load of the edge build', () => {
  let dir: string;
  beforeAll(() => {
    // inside node_modules so that the bundle's package imports resolve from the repository
    const cache = join(root, 'node_modules', '.cache');
    mkdirSync(cache, { recursive: true });
    dir = mkdtempSync(join(cache, 'tenantry-edge-probe-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads `process` only once createTenantry() runs, never at module load', async () => {
    // every `process` of tenantry's own code goes through a counting getter
    const probe = 'globalThis.__tenantryProcessProbe';
    const { text } = await bundle({
      conditions: WORKER_CONDITIONS,
      ownCodeOnly: true,
      define: { process: probe, 'globalThis.process': probe },
    });
    expect(text).toContain('__tenantryProcessProbe'); // the probe is wired in (tenantry does read process, later)
    writeFileSync(join(dir, 'edge.mjs'), text);
    writeFileSync(
      join(dir, 'main.mjs'),
      `let reads = 0;
      Object.defineProperty(globalThis, '__tenantryProcessProbe', { get() { reads++; return process; } });
      const edge = await import('./edge.mjs');
      const atLoad = reads;
      edge.createTenantry({ registry: edge.memoryRegistry([]), databases: { urlTemplate: 'libsql://{tenant}.example.test' }, resolvers: [edge.fromHeader()] });
      console.log(JSON.stringify({ atLoad, afterCreate: reads }));`,
    );
    const out = execFileSync(process.execPath, [join(dir, 'main.mjs')], { encoding: 'utf8', cwd: dir });
    const { atLoad, afterCreate } = JSON.parse(out.trim()) as { atLoad: number; afterCreate: number };
    expect(atLoad).toBe(0);
    expect(afterCreate).toBeGreaterThan(0); // the probe counts: createTenantry reads NODE_ENV
  });

  it('loads with no `process` global at all, dependencies included', async () => {
    const { text } = await bundle({ conditions: WORKER_CONDITIONS });
    writeFileSync(join(dir, 'full.mjs'), text);
    writeFileSync(
      join(dir, 'bare.mjs'),
      `const saved = globalThis.process;
      delete globalThis.process;
      let result;
      try {
        const edge = await import('./full.mjs');
        const tenantry = edge.createTenantry({ registry: edge.memoryRegistry([{ id: 'acme' }]), databases: { urlTemplate: 'libsql://{tenant}.example.test' }, resolvers: [edge.fromHeader()] });
        result = { exports: Object.keys(edge).length, mode: (await tenantry.resolveTenant({ tenantId: 'acme' })).mode };
      } finally {
        globalThis.process = saved;
      }
      console.log(JSON.stringify(result));`,
    );
    const out = execFileSync(process.execPath, [join(dir, 'bare.mjs')], { encoding: 'utf8', cwd: dir });
    const result = JSON.parse(out.trim()) as { exports: number; mode: string };
    expect(result.exports).toBeGreaterThan(50);
    expect(result.mode).toBe('development');
  });
});
