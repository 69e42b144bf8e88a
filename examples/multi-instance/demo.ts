/**
 * `npm run example:multi`: a non-interactive tour of the multi-instance example. Runs the deploy
 * step (`registry.migrate()`), starts two instances (A and B) as child processes on two ports,
 * provisions a tenant through A, shows that both serve it, then suspends, resumes, re-plans and
 * destroys it through A and measures how long B takes to follow each change. Stops both
 * instances and exits 0 only when every answer was the expected one.
 *
 * Environment: `DATABASE_URL`, `REDIS_URL`, `TENANTRY_SCHEMA`, `TENANTRY_DATA_DIR` (default: a
 * fresh temp folder, removed at the end), `DEMO_DEADLINE_MS` (how long B may take to follow a
 * change, default 1000).
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL, DEFAULT_SCHEMA, controlPlane } from './app.js';

const TENANT = 'acme';
const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 5_000;
const POLL_MS = 5;

const deadlineMs = Number(process.env['DEMO_DEADLINE_MS'] ?? 1_000);
if (!Number.isInteger(deadlineMs) || deadlineMs < 1) {
  console.error(`DEMO_DEADLINE_MS must be a positive integer (got "${process.env['DEMO_DEADLINE_MS']}")`);
  process.exit(2);
}
const ownDataDir = process.env['TENANTRY_DATA_DIR'] ? undefined : mkdtempSync(join(tmpdir(), 'tenantry-multi-'));
const settings = {
  databaseUrl: process.env['DATABASE_URL'] || DEFAULT_DATABASE_URL,
  redisUrl: process.env['REDIS_URL'] || DEFAULT_REDIS_URL,
  schema: process.env['TENANTRY_SCHEMA'] || DEFAULT_SCHEMA,
  dataDir: process.env['TENANTRY_DATA_DIR'] || ownDataDir!,
  // Shared by both instances, made up for this run (never printed).
  secretKey: randomBytes(32).toString('base64url'),
  adminToken: randomBytes(24).toString('base64url'),
};

// ---------------------------------------------------------------------------------------------
// The two instances

interface Instance {
  name: string;
  base: string;
  child: ChildProcess;
}

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

const serverFile = fileURLToPath(new URL('./server.ts', import.meta.url));
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

function startInstance(name: string): Promise<Instance> {
  const child = fork(serverFile, [], {
    execArgv: ['--import', tsxLoader],
    env: {
      ...process.env,
      PORT: '0', // any free port; the instance reports it
      INSTANCE: name,
      DATABASE_URL: settings.databaseUrl,
      REDIS_URL: settings.redisUrl,
      TENANTRY_SCHEMA: settings.schema,
      TENANTRY_DATA_DIR: settings.dataDir,
      TENANTRY_SECRET_KEY: settings.secretKey,
      ADMIN_TOKEN: settings.adminToken,
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`instance ${name} did not start within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`instance ${name} exited before listening (code ${code}, signal ${signal})`));
    });
    child.on('message', (msg: { type?: string; port?: number }) => {
      if (msg.type !== 'ready' || typeof msg.port !== 'number') return;
      clearTimeout(timer);
      resolve({ name, base: `http://127.0.0.1:${msg.port}`, child });
    });
  });
}

async function stopInstance(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  const code = await exited;
  clearTimeout(timer);
  return code;
}

// ---------------------------------------------------------------------------------------------
// Requests and checks

interface Answer {
  status: number;
  instance: string | null;
  body: { code?: string; plan?: string; status?: string; notes?: { text: string; instance: string }[]; error?: string };
}

async function call(target: Instance, method: string, path: string, body?: unknown, admin = false): Promise<Answer> {
  const headers: Record<string, string> = admin ? { authorization: `Bearer ${settings.adminToken}` } : { 'x-tenant-id': TENANT };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${target.base}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await res.text();
  let parsed: Answer['body'] = {};
  try {
    parsed = text === '' ? {} : (JSON.parse(text) as Answer['body']);
  } catch {
    parsed = { error: text.slice(0, 200) };
  }
  return { status: res.status, instance: res.headers.get('x-instance'), body: parsed };
}

const describe = (a: Answer): string => `${a.status}${a.body.code ? ` ${a.body.code}` : ''}`;

interface Row {
  step: string;
  via: string;
  answer: string;
  detail: string;
  ok: boolean;
}
const rows: Row[] = [];

/** Records a check; an unexpected answer stops the tour (the rest would only repeat the failure). */
function check(step: string, via: Instance, answer: Answer, ok: boolean, detail = ''): void {
  rows.push({ step, via: via.name, answer: describe(answer), detail, ok });
  if (!ok) throw new Error(`unexpected answer to "${step}" from instance ${via.name}: ${JSON.stringify(answer)}`);
}

/**
 * Asks `target` for the tenant's notes every few ms until `wanted(answer)`, and resolves the ms
 * elapsed since `since`. Before that only `stale` answers (what the instance served before the
 * change) are acceptable; anything else, or no change within the deadline, fails the check.
 */
async function follow(step: string, target: Instance, since: number, wanted: (a: Answer) => boolean, stale: (a: Answer) => boolean): Promise<void> {
  let answer = await call(target, 'GET', '/notes');
  let stalePolls = 0;
  while (!wanted(answer)) {
    if (!stale(answer)) check(step, target, answer, false, 'neither the old nor the new state');
    if (performance.now() - since > deadlineMs) check(step, target, answer, false, `still the old state after ${deadlineMs} ms`);
    stalePolls += 1;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    answer = await call(target, 'GET', '/notes');
  }
  const took = performance.now() - since;
  const ok = took <= deadlineMs;
  const how = stalePolls === 0 ? 'already at the first request' : `after ${stalePolls} stale answer${stalePolls === 1 ? '' : 's'}`;
  check(step, target, answer, ok, `${took.toFixed(1)} ms after A answered (${how})`);
}

const isOk = (a: Answer): boolean => a.status === 200;
const isCode = (code: string) => (a: Answer): boolean => a.body.code === code;

// ---------------------------------------------------------------------------------------------
// The tour

async function tour(a: Instance, b: Instance): Promise<void> {
  const provisioned = await call(a, 'POST', '/admin/tenants', { orgId: TENANT, plan: 'pro' }, true);
  check('provision acme (plan pro)', a, provisioned, provisioned.status === 201 && provisioned.body.status === 'active', `status ${provisioned.body.status}`);

  const written = await call(a, 'POST', '/notes', { text: 'written through A' });
  check('write a note', a, written, written.status === 201);
  const onB = await call(b, 'GET', '/notes');
  const noteOnB = onB.body.notes?.[0];
  check('read it through B', b, onB, onB.status === 200 && onB.instance === 'b' && noteOnB?.text === 'written through A' && noteOnB.instance === 'a', `"${noteOnB?.text}" (written by ${noteOnB?.instance}), plan ${onB.body.plan}`);
  const onA = await call(a, 'GET', '/notes');
  check('read it through A', a, onA, onA.status === 200 && onA.body.plan === 'pro', `plan ${onA.body.plan}`);

  // suspend through A; B has the active record cached for a minute, so only the bus can tell it
  const suspended = await call(a, 'POST', `/admin/tenants/${TENANT}/suspend`, undefined, true);
  let since = performance.now();
  check('suspend acme', a, suspended, suspended.status === 200 && suspended.body.status === 'suspended', `status ${suspended.body.status}`);
  await follow('B refuses acme', b, since, isCode('TENANT_SUSPENDED'), isOk);
  const refusedByA = await call(a, 'GET', '/notes');
  check('A refuses acme', a, refusedByA, refusedByA.status === 403 && refusedByA.body.code === 'TENANT_SUSPENDED');

  const resumed = await call(a, 'POST', `/admin/tenants/${TENANT}/resume`, undefined, true);
  since = performance.now();
  check('resume acme', a, resumed, resumed.status === 200 && resumed.body.status === 'active', `status ${resumed.body.status}`);
  await follow('B serves acme again', b, since, isOk, isCode('TENANT_SUSPENDED'));

  const replanned = await call(a, 'PUT', `/admin/tenants/${TENANT}/plan`, { plan: 'free' }, true);
  since = performance.now();
  check('move acme to plan free', a, replanned, replanned.status === 200 && replanned.body.plan === 'free', `plan ${replanned.body.plan}`);
  await follow('B sees plan free', b, since, (x) => isOk(x) && x.body.plan === 'free', (x) => isOk(x) && x.body.plan === 'pro');

  const destroyed = await call(a, 'DELETE', `/admin/tenants/${TENANT}?immediate=true`, undefined, true);
  since = performance.now();
  check('destroy acme (immediate)', a, destroyed, destroyed.status === 200);
  await follow('B no longer knows acme', b, since, isCode('TENANT_NOT_FOUND'), isOk);
}

let failure: unknown;
const instances: Instance[] = [];
try {
  // The deploy step: tables first, then the instances.
  const registry = controlPlane(settings);
  try {
    await registry.migrate();
    if ((await registry.get(TENANT)) !== undefined) {
      console.log(`removing tenant "${TENANT}" left in schema ${settings.schema} by an earlier run`);
      await registry.delete(TENANT);
    }
  } finally {
    await registry.close();
  }
  console.log(`control plane: schema ${settings.schema} migrated; tenant databases in ${settings.dataDir}/tenants`);
  instances.push(...(await Promise.all([startInstance('a'), startInstance('b')])));
  await tour(instances[0]!, instances[1]!);
} catch (err) {
  failure = err;
} finally {
  const codes = await Promise.all(instances.map((i) => stopInstance(i.child)));
  await Promise.all([...children].map((child) => stopInstance(child))); // one that never got ready
  codes.forEach((code, i) => {
    if (code !== 0) {
      rows.push({ step: 'clean shutdown', via: instances[i]!.name, answer: `exit ${code}`, detail: '', ok: false });
    }
  });
  if (ownDataDir !== undefined) rmSync(ownDataDir, { recursive: true, force: true });
}

console.log(`\ntenantry multi-instance demo (two processes; B must follow A within ${deadlineMs} ms)\n`);
console.log(`${'step'.padEnd(28)} ${'via'.padEnd(4)} ${'answer'.padEnd(22)} ${'detail'.padEnd(58)} ok`);
for (const r of rows) console.log(`${r.step.padEnd(28)} ${r.via.padEnd(4)} ${r.answer.padEnd(22)} ${r.detail.padEnd(58)} ${r.ok ? 'yes' : 'NO'}`);
if (failure !== undefined) console.error(`\ndemo failed: ${failure instanceof Error ? failure.message : String(failure)}`);
const failed = failure !== undefined || rows.some((r) => !r.ok);
console.log(failed ? '\nthe demo did not go as expected' : '\nall checks passed');
process.exit(failed ? 1 : 0);
