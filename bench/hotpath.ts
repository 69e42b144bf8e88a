/**
 * The request path of `tenancy()` without the network: the real `node:http` server (parser,
 * IncomingMessage, ServerResponse), `@hono/node-server`, Hono and tenantry, fed through an
 * in-memory socket. No sockets, no epoll, no load generator sharing the CPU, so the figures move
 * much less than the HTTP rows of `bench/run.ts`, and the process is deterministic enough for
 * instruction counts (callgrind).
 *
 *   npm run build && npx tsx bench/hotpath.ts            # CPU µs/req per variant, ratios to bare
 *   HOTPATH_ROUNDS=7 HOTPATH_REQUESTS=50000 npx tsx bench/hotpath.ts
 *
 * Each variant runs in its own fresh process per round (AsyncLocalStorage's hooks are
 * process-wide on Node 20: a bare app in the same process would pay for them too). Variants:
 * `bare`, `context-storage` (hono/context-storage: AsyncLocalStorage alone), `tenancy-header`
 * (`fromHeader()`, handler awaits `getTenantClient()`), `tenancy-jwt` (`fromJwt()`, one
 * repeated HS256 token, same handler). 10 connections, keep-alive, one request at a time each.
 *
 * Instruction counts (stable on a busy machine; counts instructions, not time):
 *
 *   CG=1 valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.%p \
 *     node --single-threaded --import tsx bench/hotpath.ts --child tenancy-header 8000 13000
 *
 * zeroes the counters after the warm-up (8000 requests) and dumps them after the measured ones
 * (`callgrind_control`, from valgrind); read `summary:` in `/tmp/cg.<pid>.1`. Run it twice with
 * different measured counts (e.g. 3000 and 13000) and divide the difference by the difference
 * of the counts: that removes what still changes right after the warm-up (JIT, GC).
 */
import { execFileSync, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';

const VARIANTS = ['bare', 'context-storage', 'tenancy-header', 'tenancy-jwt'] as const;
type Variant = (typeof VARIANTS)[number];
const SECRET = 'hotpath-secret-0123456789abcdef0123456789abcdef';
const CONNECTIONS = 10;

if (process.argv[2] === '--child') {
  await child(process.argv[3] as Variant, Number(process.argv[4]), Number(process.argv[5]));
} else {
  await parent();
}

async function parent(): Promise<void> {
  const rounds = Number(process.env['HOTPATH_ROUNDS'] ?? 5);
  const requests = Number(process.env['HOTPATH_REQUESTS'] ?? 30_000);
  const warmup = Number(process.env['HOTPATH_WARMUP'] ?? 8_000);
  const cpu = new Map<Variant, number[]>(VARIANTS.map((v) => [v, []]));
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? VARIANTS : [...VARIANTS].reverse();
    for (const variant of order) {
      const us = await runChild(variant, warmup, requests);
      cpu.get(variant)!.push(us);
      console.log(`round ${round + 1}/${rounds}  ${variant.padEnd(16)} ${us.toFixed(2)} µs CPU/req`);
    }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const bare = median(cpu.get('bare')!);
  console.log(`\n| variant | µs CPU/req (median) | min–max | ratio to bare |\n| --- | ---: | ---: | ---: |`);
  for (const variant of VARIANTS) {
    const xs = cpu.get(variant)!;
    console.log(`| ${variant} | ${median(xs).toFixed(2)} | ${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)} | ${(median(xs) / bare).toFixed(3)}× |`);
  }
  console.log(`\nnode ${process.version}, ${rounds} rounds × ${requests} requests after ${warmup} warm-up, ${CONNECTIONS} in-memory connections`);
}

function runChild(variant: Variant, warmup: number, requests: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const proc = fork(fileURLToPath(import.meta.url), ['--child', variant, String(warmup), String(requests)], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    });
    proc.on('message', (msg: { cpuUs: number }) => resolve(msg.cpuUs));
    proc.on('exit', (code) => {
      if (code !== 0) reject(new Error(`hotpath: variant ${variant} exited with ${code}`));
    });
  });
}

async function child(variant: Variant, warmup: number, requests: number): Promise<void> {
  const { createServer } = await import('node:http');
  const { getRequestListener } = await import('@hono/node-server');
  const { Hono } = await import('hono');
  const { SignJWT } = await import('jose');
  const NOTES = Object.freeze({ notes: [{ id: 1, text: 'ship the rocket skates' }] });
  const folder = mkdtempSync(join(tmpdir(), 'hotpath-'));
  const token = await new SignJWT({ tenant_id: 'acme' })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer('hotpath')
    .setAudience('hotpath-api')
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(SECRET));
  const app = new Hono();
  let close: () => Promise<void> = async () => undefined;
  if (variant === 'bare') {
    app.get('/notes', async (c) => c.json(NOTES));
  } else if (variant === 'context-storage') {
    const { contextStorage, getContext } = await import('hono/context-storage');
    app.use('*', contextStorage());
    app.get('/notes', async (c) => {
      getContext();
      return c.json(NOTES);
    });
  } else {
    const { createTenantry, fromHeader, fromJwt, getTenantClient, memoryRegistry } = await import('../dist/index.js');
    const { tenancy } = await import('../dist/hono.js');
    const resolver =
      variant === 'tenancy-header' ? fromHeader() : fromJwt({ secret: SECRET, algorithms: ['HS256'], issuer: 'hotpath', audience: 'hotpath-api' });
    const tenantry = createTenantry({
      resolvers: [resolver],
      registry: memoryRegistry([{ id: 'acme' }]),
      databases: { urlTemplate: `file:${folder}/{tenant}.db` },
    });
    close = () => tenantry.close();
    app.use('*', tenancy(tenantry));
    app.get('/notes', async (c) => {
      await getTenantClient();
      return c.json(NOTES);
    });
  }
  const server = createServer(getRequestListener(app.fetch));
  const request = Buffer.from(
    `GET /notes HTTP/1.1\r\nhost: 127.0.0.1:3000\r\nconnection: keep-alive\r\nx-tenant-id: acme\r\nauthorization: Bearer ${token}\r\n\r\n`,
  );

  /** One in-memory connection; calls `onResponse` after each complete 200 response. */
  const connect = (onResponse: () => void): Duplex => {
    let buffered = '';
    const socket = new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        buffered += chunk.toString('latin1');
        for (;;) {
          const end = buffered.indexOf('\r\n\r\n');
          if (end === -1) break;
          const length = /content-length: *(\d+)/i.exec(buffered.slice(0, end));
          const size = end + 4 + (length === null ? 0 : Number(length[1]));
          if (buffered.length < size) break;
          if (!buffered.startsWith('HTTP/1.1 200')) {
            callback(new Error(`hotpath: unexpected answer ${buffered.slice(0, 200)}`));
            return;
          }
          buffered = buffered.slice(size);
          onResponse();
        }
        callback();
      },
    });
    Object.assign(socket, {
      remoteAddress: '127.0.0.1',
      remotePort: 1,
      encrypted: false,
      setTimeout: () => socket,
      setNoDelay: () => socket,
      setKeepAlive: () => socket,
    });
    server.emit('connection', socket);
    return socket;
  };

  const drive = (count: number): Promise<void> =>
    new Promise((resolve) => {
      let sent = 0;
      let answered = 0;
      for (let k = 0; k < CONNECTIONS; k++) {
        const socket = connect(() => {
          answered++;
          if (answered === count) resolve();
          else if (sent < count) {
            sent++;
            socket.push(request);
          }
        });
        sent++;
        socket.push(request);
      }
    });

  await drive(warmup);
  const callgrind = process.env['CG'] === '1';
  if (callgrind) execFileSync('callgrind_control', ['-z', String(process.pid)], { stdio: 'ignore' });
  const before = process.cpuUsage();
  await drive(requests);
  const used = process.cpuUsage(before);
  if (callgrind) execFileSync('callgrind_control', ['-d', String(process.pid)], { stdio: 'ignore' });
  await close();
  rmSync(folder, { recursive: true, force: true });
  const cpuUs = (used.user + used.system) / requests;
  if (process.send !== undefined) process.send({ cpuUs }, () => process.exit(0));
  else {
    console.log(`${variant}: ${cpuUs.toFixed(2)} µs CPU/req`);
    process.exit(0);
  }
}
