/**
 * Graceful shutdown of a real process on the built package: a child process (test/helpers/
 * shutdown-child.mjs) serves requests with Hono, Redis quotas, the Redis invalidation bus, a
 * warm pool and the embedded control plane; with requests in flight it stops its server, calls
 * `tenantry.close()` and quits its own Redis client. Every request must be answered, every
 * client closed, and the process must then exit by itself with code 0 — no timer, socket or
 * connection of tenantry's may keep it alive.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers/env.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CHILD = fileURLToPath(new URL('./helpers/shutdown-child.mjs', import.meta.url));
/** Generous: the child needs a second or two; a process kept alive by a handle never exits. */
const EXIT_BOUND_MS = 25_000;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** False when the bound passed and the child had to be killed. */
  exitedByItself: boolean;
  lines: Record<string, unknown>[];
  stderr: string;
}

function run(args: string[]): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    let exitedByItself = true;
    const bound = setTimeout(() => {
      exitedByItself = false;
      child.kill('SIGKILL');
    }, EXIT_BOUND_MS);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(bound);
      const lines = stdout
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      resolve({ code, signal, exitedByItself, lines, stderr });
    });
  });
}

describe('graceful shutdown', () => {
  it.skipIf(!existsSync(`${ROOT}/dist/index.js`))(
    'a process on the built package exits by itself after tenantry.close(), with every in-flight request answered',
    async () => {
      const { dir, cleanup } = tempDir('tenantry-shutdown-');
      const prefix = `tenantry:test:shutdown:${process.pid}:${Date.now()}:`;
      try {
        const exit = await run([dir, '6379', prefix]);
        const diagnostics = JSON.stringify({ lines: exit.lines, stderr: exit.stderr.slice(0, 4_000) });
        expect(exit.exitedByItself, diagnostics).toBe(true);
        expect(exit.code, diagnostics).toBe(0);
        expect(exit.lines.map((l) => l['event']), diagnostics).toEqual(['listening', 'in-flight', 'closed']);

        const inFlight = exit.lines[1] as { requests: number; stats: { pool: { leased: number } } };
        expect(inFlight.requests).toBe(8);
        expect(inFlight.stats.pool.leased).toBe(8); // 8 transactions held 8 clients of a pool of 4

        const closed = exit.lines[2] as { statuses: number[]; stats: { pool: Record<string, number> } };
        expect(closed.statuses).toEqual(Array<number>(8).fill(200));
        expect(closed.stats.pool).toMatchObject({ size: 0, leased: 0 });
        expect(closed.stats.pool['closed']).toBe(closed.stats.pool['opens']);
      } finally {
        cleanup();
        const redis = new Redis({ port: 6379 });
        const keys = await redis.keys(`${prefix}*`);
        if (keys.length > 0) await redis.del(...keys);
        redis.disconnect();
      }
    },
    60_000,
  );
});
