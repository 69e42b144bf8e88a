/**
 * Server processes and load: each bench server runs in its own child process (plain `node`,
 * no TypeScript loader) and reports its own CPU time over IPC; autocannon drives it from this
 * process.
 */
import { execFileSync, fork } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

/** A failure that makes the figures meaningless: a server did not start, or requests failed. */
export class BenchError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BenchError';
  }
}

export type Framework = 'hono' | 'express' | 'fastify' | 'hono-registry' | 'hono-tenants';

const SCRIPTS: Record<Framework, string> = {
  hono: fileURLToPath(new URL('./servers/hono.mjs', import.meta.url)),
  express: fileURLToPath(new URL('./servers/express.mjs', import.meta.url)),
  fastify: fileURLToPath(new URL('./servers/fastify.mjs', import.meta.url)),
  // bench/registry.ts: the same Hono tenancy server on a libSQL or a PostgreSQL registry
  'hono-registry': fileURLToPath(new URL('./servers/hono-registry.mjs', import.meta.url)),
  // bench/tenants.ts: Hono tenancy + a query per request over many tenants
  'hono-tenants': fileURLToPath(new URL('./servers/hono-tenants.mjs', import.meta.url)),
};

const START_TIMEOUT_MS = 20_000;
const IPC_TIMEOUT_MS = 10_000;

/**
 * Pins every thread of process `pid` to CPU `cpu` (a number, or a taskset list such as `'0-1'`)
 * with `taskset` (Linux). Returns false when that is not possible; the bench then runs unpinned.
 */
export function pin(pid: number, cpu: number | string): boolean {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Every child started and not yet gone, so that an early exit can kill them. */
const live = new Set<ChildProcess>();

/** Kills every bench server still running (SIGKILL, by the pid this process forked). */
export function killAll(): void {
  for (const child of live) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  live.clear();
}

type ChildMessage =
  | { type: 'ready'; port: number }
  | { type: 'failed'; message: string }
  | { type: 'cpu'; id: number; usage: NodeJS.CpuUsage; memory: number }
  | { type: 'stopped' };

/** CPU time of a server process, in microseconds, and its resident memory in bytes. */
export interface CpuSample {
  userUs: number;
  systemUs: number;
  rss: number;
}

/** One bench server in its own process. */
export class BenchServer {
  readonly name: string;
  readonly port: number;
  readonly #child: ChildProcess;
  #nextId = 1;
  readonly #pending = new Map<number, (sample: CpuSample) => void>();

  private constructor(name: string, child: ChildProcess, port: number) {
    this.name = name;
    this.#child = child;
    this.port = port;
    child.on('message', (raw: ChildMessage) => {
      if (raw.type !== 'cpu') return;
      const resolve = this.#pending.get(raw.id);
      this.#pending.delete(raw.id);
      resolve?.({ userUs: raw.usage.user, systemUs: raw.usage.system, rss: raw.memory });
    });
  }

  /**
   * Forks `bench/servers/<framework>.mjs <variant>` and waits until it listens. `execPath`: the
   * node binary to run it on (default: the one running the bench).
   */
  static start(framework: Framework, variant: string, env: Record<string, string>, cpu?: number, execPath?: string): Promise<BenchServer> {
    const name = `${framework}/${variant}`;
    const child = fork(SCRIPTS[framework], [variant], {
      execArgv: [], // plain node: no tsx loader in the measured process
      ...(execPath === undefined ? {} : { execPath }),
      env: { ...process.env, ...env, NODE_ENV: 'production' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    live.add(child);
    child.once('exit', () => live.delete(child));
    return new Promise<BenchServer>((resolve, reject) => {
      const fail = (message: string): void => {
        clearTimeout(timer);
        child.removeListener('message', onMessage);
        child.removeListener('exit', onExit);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        reject(new BenchError(`server ${name} failed to start: ${message}`));
      };
      const timer = setTimeout(() => fail(`no "ready" within ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void =>
        fail(`exited before listening (code ${code}, signal ${signal})`);
      const onMessage = (msg: ChildMessage): void => {
        if (msg.type === 'failed') fail(msg.message);
        if (msg.type !== 'ready') return;
        clearTimeout(timer);
        child.removeListener('message', onMessage);
        child.removeListener('exit', onExit);
        if (cpu !== undefined && child.pid !== undefined && !pin(child.pid, cpu)) {
          fail(`could not pin it to CPU ${cpu} (taskset failed)`);
          return;
        }
        resolve(new BenchServer(name, child, msg.port));
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
      child.once('error', (err) => fail(err.message));
    });
  }

  /** The server process's `process.cpuUsage()`. */
  cpu(): Promise<CpuSample> {
    const id = this.#nextId++;
    return new Promise<CpuSample>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new BenchError(`server ${this.name} did not answer a cpu request`));
      }, IPC_TIMEOUT_MS);
      this.#pending.set(id, (sample) => {
        clearTimeout(timer);
        resolve(sample);
      });
      this.#child.send({ cmd: 'cpu', id });
    });
  }

  /** Asks the server to close (tenantry included), then makes sure the process is gone. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.send({ cmd: 'stop' });
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

/** What one autocannon run did. */
export interface LoadResult {
  requests: number;
  durationMs: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

/**
 * Sends exactly `amount` `GET /notes` requests over `connections` keep-alive connections.
 * Throws a {@link BenchError} on any connection error, timeout or non-2xx answer.
 */
export async function load(
  server: BenchServer,
  opts: {
    amount: number;
    connections: number;
    headers: Record<string, string>;
    phase: string;
    /**
     * Changes each request before it is sent (autocannon's `setupRequest`), e.g. to spread the
     * requests over many tenants; it must return the request.
     */
    setupRequest?: (request: { headers?: Record<string, string>; path?: string }) => { headers?: Record<string, string>; path?: string };
  },
): Promise<LoadResult> {
  // autocannon only notices the end at its next sample tick (`sampleInt`): take the wall time
  // of the last response instead, and keep the tick short so the server idles little.
  let answered = 0;
  let lastResponse = 0n;
  const start = process.hrtime.bigint();
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: `http://127.0.0.1:${server.port}/notes`,
        connections: opts.connections,
        amount: opts.amount,
        headers: opts.headers,
        timeout: 10,
        sampleInt: 100,
        ...(opts.setupRequest === undefined ? {} : { requests: [{ setupRequest: opts.setupRequest as never }] }),
      },
      (err, res) => (err ? reject(new BenchError(`autocannon failed against ${server.name}`, { cause: err })) : resolve(res)),
    );
    instance.on('response', () => {
      if (++answered === opts.amount) lastResponse = process.hrtime.bigint();
    });
  });
  const end = lastResponse === 0n ? process.hrtime.bigint() : lastResponse;
  const durationMs = Number(end - start) / 1e6;
  const requests = result['1xx'] + result['2xx'] + result['3xx'] + result['4xx'] + result['5xx'];
  const out: LoadResult = { requests, durationMs, non2xx: result.non2xx, errors: result.errors, timeouts: result.timeouts };
  if (out.errors > 0 || out.timeouts > 0 || out.non2xx > 0) {
    const codes = `1xx ${result['1xx']}, 2xx ${result['2xx']}, 3xx ${result['3xx']}, 4xx ${result['4xx']}, 5xx ${result['5xx']}`;
    throw new BenchError(
      `server ${server.name} (${opts.phase}): ${out.errors} errors, ${out.timeouts} timeouts, ${out.non2xx} non-2xx answers (${codes})`,
    );
  }
  if (result['2xx'] < opts.amount) {
    throw new BenchError(`server ${server.name} (${opts.phase}): ${result['2xx']} of ${opts.amount} requests answered`);
  }
  return out;
}

/** Response headers a route must (`present`) or must not (`absent`) answer with. */
export interface HeaderExpectations {
  present?: readonly string[];
  absent?: readonly string[];
}

/**
 * One `GET /notes` with `node:http` (fetch would replace a `host` header with its own): the
 * route must answer 200 and the expected JSON, with the headers of `expectHeaders.present` (e.g.
 * `ratelimit` for a rate-limited variant) and none of `absent`.
 */
export async function checkRoute(server: BenchServer, headers: Record<string, string>, expected: unknown, expectHeaders: HeaderExpectations = {}): Promise<void> {
  let res: { status: number; headers: IncomingHttpHeaders; body: string };
  try {
    res = await new Promise((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: server.port, path: '/notes', headers, agent: false }, (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
        incoming.on('end', () => resolve({ status: incoming.statusCode ?? 0, headers: incoming.headers, body: Buffer.concat(chunks).toString('utf8') }));
        incoming.on('error', reject);
      });
      req.setTimeout(10_000, () => req.destroy(new Error('no answer within 10 s')));
      req.on('error', reject);
      req.end();
    });
  } catch (err) {
    throw new BenchError(`server ${server.name}: GET /notes failed`, { cause: err });
  }
  const body = res.body;
  if (res.status !== 200) throw new BenchError(`server ${server.name}: GET /notes answered ${res.status}: ${body.slice(0, 300)}`);
  if (body !== JSON.stringify(expected)) throw new BenchError(`server ${server.name}: GET /notes answered an unexpected body: ${body.slice(0, 300)}`);
  for (const name of expectHeaders.present ?? []) {
    if (res.headers[name] === undefined) throw new BenchError(`server ${server.name}: GET /notes answered without a ${name} header`);
  }
  for (const name of expectHeaders.absent ?? []) {
    if (res.headers[name] !== undefined) throw new BenchError(`server ${server.name}: GET /notes answered with a ${name} header it should not send`);
  }
}
