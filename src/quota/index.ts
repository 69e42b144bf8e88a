/**
 * Quotas per plan: counters (rate, deployments per day) in a store, gauges (tables, rows,
 * bytes, users) measured in the tenant database.
 */
export { memoryQuotaStore } from './memory-store.js';
export type { MemoryQuotaStoreOptions } from './memory-store.js';
export { QuotaService, DAY_MS, RATE_WINDOW_MS, rateHeaders } from './service.js';
export type { QuotaCheckOptions, QuotaCheckResult, QuotaReason, RateAdmission } from './service.js';
export { QUOTA_NAMES } from './options.js';
export type { FailMode, QuotaOptions } from './options.js';
export { quotaKey } from './types.js';
export type { CounterDecision, CounterRequest, QuotaName, QuotaStore } from './types.js';
