/**
 * Instance B of the invalidation-latency bench (bench/registry.ts), in its own process: a
 * tenantry on the bench's PostgreSQL registry and Redis bus, whose cache keeps records for 10
 * minutes (only the bus can make it drop one). Plain `.mjs` on the built package, started with
 * `fork` (it needs the IPC channel).
 *
 * Each time the bus makes this instance drop a tenant, it takes `process.hrtime.bigint()` (the
 * system's monotonic clock, the same in every process of the machine) right after the drop,
 * then resolves the tenant again (which loads and caches its new state) and reports
 * `{ type: 'dropped', tenantId, at, outcome }` (`outcome`: `'active'` or the error code).
 * `{ cmd: 'resolve', tenantId }` resolves a tenant on demand (`{ type: 'resolved', outcome }`).
 *
 * Environment: BENCH_PG_URL, BENCH_PG_SCHEMA, BENCH_REDIS_URL, BENCH_CHANNEL, BENCH_DATA_DIR.
 */
import { Redis } from 'ioredis';
import { createTenantry, fromHeader } from '../../dist/index.js';
import { postgresRegistry } from '../../dist/postgres.js';
import { redisInvalidationBus } from '../../dist/redis.js';

if (typeof process.send !== 'function') {
  console.error('invalidation peer: start me with child_process.fork (I need an IPC channel)');
  process.exit(2);
}
const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`invalidation peer: ${name} is required`);
  return value;
};

const registry = postgresRegistry({ connectionString: env('BENCH_PG_URL'), schema: env('BENCH_PG_SCHEMA') });
const redis = new Redis(env('BENCH_REDIS_URL'), { maxRetriesPerRequest: 1 });
redis.on('error', (err) => console.error(`invalidation peer: redis: ${err.message}`));
const inner = redisInvalidationBus({ client: redis, channel: env('BENCH_CHANNEL') });

let tenantry;
const outcome = (tenantId) =>
  tenantry.resolveTenant({ tenantId }).then(
    () => 'active',
    (err) => (typeof err?.code === 'string' ? err.code : `error: ${String(err?.message ?? err)}`),
  );

// The bus as tenantry sees it, with a probe after each drop of a cached record.
const bus = {
  publish: (tenantId) => inner.publish(tenantId),
  close: () => inner.close(),
  start: (handlers) =>
    inner.start({
      ...handlers,
      invalidate(tenantId) {
        handlers.invalidate(tenantId);
        const at = process.hrtime.bigint();
        void outcome(tenantId).then((o) => process.send({ type: 'dropped', tenantId, at: String(at), outcome: o }));
      },
    }),
};

tenantry = createTenantry({
  resolvers: [fromHeader()],
  registry,
  dataDir: env('BENCH_DATA_DIR'),
  invalidation: bus,
  cache: { ttlMs: 600_000 },
});

process.on('message', async (msg) => {
  if (msg?.cmd === 'resolve') {
    process.send({ type: 'resolved', id: msg.id, outcome: await outcome(msg.tenantId) });
  } else if (msg?.cmd === 'stop') {
    try {
      await tenantry.close();
      await registry.close();
      await redis.quit();
    } finally {
      process.send({ type: 'stopped' }, () => process.exit(0));
    }
  }
});
process.on('disconnect', () => process.exit(0));

try {
  await tenantry.ready();
  process.send({ type: 'ready' });
} catch (err) {
  process.send({ type: 'failed', message: String(err?.stack ?? err) });
  process.exitCode = 1;
  process.disconnect();
}
