/**
 * `npm run demo`: a non-interactive tour of the notes example. Starts it on a free port with a
 * fresh data folder, checks tenant isolation and refusals, prints a table, and exits 0 only
 * when every check held.
 */
import { serve } from '@hono/node-server';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { createNotesApp, createNotesTenantry, seedDemoTenants } from './app.js';

const jwtSecret = 'notes-demo-secret-0123456789-abcdefghijklmnop';
const dataDir = mkdtempSync(join(tmpdir(), 'tenantry-demo-'));
const tenantry = createNotesTenantry({ dataDir, jwtSecret });
await seedDemoTenants(tenantry);
const server = serve({ fetch: createNotesApp(tenantry).fetch, port: 0, hostname: '127.0.0.1' });
await new Promise<void>((resolve) => server.once('listening', () => resolve()));
const port = (server.address() as AddressInfo).port;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: { notes?: { text: string }[]; code?: string };
}

function call(method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? JSON.parse(text) : {} }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const token = (tenant: string) =>
  new SignJWT({ tenant_id: tenant })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer('notes-example')
    .setAudience('notes-api')
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(jwtSecret));

const host = (sub?: string) => (sub ? `${sub}.localhost:${port}` : `localhost:${port}`);
const texts = (a: Answer) => (a.body.notes ?? []).map((n) => n.text).join(' | ');

const rows: { check: string; how: string; status: number; result: string; ok: boolean }[] = [];
const check = (name: string, how: string, answer: Answer, ok: boolean, result: string) =>
  rows.push({ check: name, how, status: answer.status, result, ok });

const statuses = await Promise.all(['acme', 'globex'].map((id) => tenantry.provisioning.getTenantStatus(id)));
rows.push({
  check: 'tenants provisioned',
  how: 'provisionTenant',
  status: 0,
  result: statuses.map((r) => `${r.tenantId}: ${r.status} (${r.plan})`).join(', '),
  ok: statuses.every((r) => r.status === 'active'),
});

await call('POST', '/notes', { host: host('acme'), 'content-type': 'application/json' }, JSON.stringify({ text: 'acme secret plan' }));

const acme = await call('GET', '/notes', { host: host('acme') });
check('acme sees its notes', 'subdomain acme.localhost', acme, acme.status === 200 && texts(acme).includes('acme secret plan') && !texts(acme).includes('Globex'), texts(acme));

const globex = await call('GET', '/notes', { host: host(), 'x-tenant-id': 'globex' });
check('globex sees only its notes', 'header x-tenant-id', globex, globex.status === 200 && !texts(globex).includes('acme') && texts(globex).includes('Globex'), texts(globex));

const jwtAcme = await call('GET', '/notes', { host: host(), authorization: `Bearer ${await token('acme')}` });
check('JWT for acme', 'Bearer token', jwtAcme, jwtAcme.status === 200 && texts(jwtAcme).includes('acme secret plan'), texts(jwtAcme));

const mismatch = await call('GET', '/notes', { host: host('globex'), authorization: `Bearer ${await token('acme')}` });
check('acme JWT on globex subdomain', 'JWT + subdomain', mismatch, mismatch.status === 403 && mismatch.body.code === 'TENANT_MISMATCH', mismatch.body.code ?? '');

const unknown = await call('GET', '/notes', { host: host(), 'x-tenant-id': 'initech' });
check('unknown tenant', 'header initech', unknown, unknown.status === 404 && unknown.body.code === 'TENANT_NOT_FOUND', unknown.body.code ?? '');

const none = await call('GET', '/notes', { host: host() });
check('no tenant at all', 'no header', none, none.status === 401 && none.body.code === 'TENANT_NOT_RESOLVED', none.body.code ?? '');

// quotas: globex is on the free plan (10 notes, 30 requests a minute) and has 1 note
let posted = 0;
let refused: Answer | undefined;
for (let i = 2; i <= 11; i++) {
  const res = await call('POST', '/notes', { host: host('globex'), 'content-type': 'application/json' }, JSON.stringify({ text: `globex note ${i}` }));
  if (res.status === 201) posted++;
  else refused = res;
}
check('11th note of a free tenant', 'POST /notes x10', refused ?? { status: 0, headers: {}, body: {} }, posted === 9 && refused?.status === 403 && refused.body.code === 'QUOTA_EXCEEDED', `${posted} more posted, then ${refused?.body.code ?? 'nothing refused'}`);

let limited: Answer | undefined;
for (let i = 0; i < 40 && limited === undefined; i++) {
  const res = await call('GET', '/notes', { host: host('globex') });
  if (res.status === 429) limited = res;
}
const rateHeaders = limited ? `RateLimit: ${String(limited.headers['ratelimit'])}; Retry-After: ${String(limited.headers['retry-after'])}` : 'never limited';
check('free plan: 30 requests/minute', 'GET /notes in a loop', limited ?? { status: 0, headers: {}, body: {} }, limited?.status === 429 && limited.body.code === 'RATE_LIMITED' && /^"free";r=0;t=\d+$/.test(String(limited.headers['ratelimit'])) && limited.headers['ratelimit-policy'] === '"free";q=30;w=60' && Number(limited.headers['retry-after']) >= 1, rateHeaders);

// lifecycle: suspend acme, then resume it
await tenantry.provisioning.suspendTenant('acme');
const suspended = await call('GET', '/notes', { host: host('acme') });
check('acme suspended', 'suspendTenant', suspended, suspended.status === 403 && suspended.body.code === 'TENANT_SUSPENDED', suspended.body.code ?? '');
await tenantry.provisioning.resumeTenant('acme');
const resumed = await call('GET', '/notes', { host: host('acme') });
check('acme resumed', 'resumeTenant', resumed, resumed.status === 200 && texts(resumed).includes('acme secret plan'), texts(resumed));

server.close();
await tenantry.close();
rmSync(dataDir, { recursive: true, force: true });

const cut = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
const width = 60;
console.log('\ntenantry notes demo\n');
console.log(`${'check'.padEnd(30)} ${'how'.padEnd(26)} ${'status'.padEnd(6)} ${'result'.padEnd(width)} ok`);
for (const r of rows) {
  console.log(`${r.check.padEnd(30)} ${r.how.padEnd(26)} ${(r.status === 0 ? '-' : String(r.status)).padEnd(6)} ${cut(r.result, width).padEnd(width)} ${r.ok ? 'yes' : 'NO'}`);
}
const failed = rows.filter((r) => !r.ok).length;
console.log(failed === 0 ? '\nall checks passed' : `\n${failed} check(s) failed`);
process.exit(failed === 0 ? 0 : 1);
