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
  body: { notes?: { text: string }[]; code?: string };
}

function call(method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : {} }));
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

server.close();
await tenantry.close();
rmSync(dataDir, { recursive: true, force: true });

const cut = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
console.log('\ntenantry notes demo\n');
console.log(`${'check'.padEnd(30)} ${'how'.padEnd(26)} ${'status'.padEnd(6)} ${'result'.padEnd(52)} ok`);
for (const r of rows) {
  console.log(`${r.check.padEnd(30)} ${r.how.padEnd(26)} ${String(r.status).padEnd(6)} ${cut(r.result, 52).padEnd(52)} ${r.ok ? 'yes' : 'NO'}`);
}
const failed = rows.filter((r) => !r.ok).length;
console.log(failed === 0 ? '\nall checks passed' : `\n${failed} check(s) failed`);
process.exit(failed === 0 ? 0 : 1);
