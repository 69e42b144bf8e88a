/**
 * `tenantry/redis`: quota counters in Redis, shared by every instance of a deployment, and the
 * cross-instance invalidation bus on Redis pub/sub.
 * Needs the optional peer dependency `ioredis` (≥ 5).
 *
 * @example
 * import Redis from 'ioredis';
 * import { createTenantry } from 'tenantry';
 * import { redisQuotaStore } from 'tenantry/redis';
 *
 * const redis = new Redis(process.env.REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
 * const tenantry = createTenantry({ quotaStore: redisQuotaStore({ client: redis }) });
 */
export { redisQuotaStore } from './redis-store.js';
export type { RedisQuotaStore, RedisQuotaStoreOptions } from './redis-store.js';
export { redisInvalidationBus } from './invalidation.js';
export type { RedisInvalidationBusOptions } from './invalidation.js';
export type { HeartbeatOptions } from './heartbeat.js';
