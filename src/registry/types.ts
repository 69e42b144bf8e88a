import type { TenantPlan, TenantRecord, TenantRecordInput, TenantStatus } from '../protocol/index.js';

/** Filter of `registry.list()`. All fields optional; results are ordered by id. */
export interface TenantListFilter {
  status?: TenantStatus;
  plan?: TenantPlan;
  /** At most this many records (default: all). */
  limit?: number;
  /** Skip this many records first (default 0). */
  offset?: number;
}

/**
 * Where tenant records live (the control plane). Implementations: `memoryRegistry()`,
 * `libsqlRegistry({ url })`, and your own. All of them pass one shared test suite.
 *
 * Contract:
 * - `get`, `findBySlug`, `findByDomain` resolve to `undefined` for an unknown tenant and reject
 *   only when the store itself fails.
 * - `findByDomain` matches case-insensitively (domains are stored lowercased).
 * - `put` inserts or updates by id, validates the record, keeps `createdAt` of an existing
 *   record, sets `updatedAt`, and rejects with a `TypeError` when the slug or a domain already
 *   belongs to another tenant. It resolves to the stored record.
 * - `delete` resolves to `true` when a record was removed.
 */
export interface TenantRegistry {
  get(id: string): Promise<TenantRecord | undefined>;
  findBySlug(slug: string): Promise<TenantRecord | undefined>;
  findByDomain(domain: string): Promise<TenantRecord | undefined>;
  list(filter?: TenantListFilter): Promise<TenantRecord[]>;
  put(record: TenantRecordInput): Promise<TenantRecord>;
  delete(id: string): Promise<boolean>;
  /** Release connections. Optional. */
  close?(): Promise<void>;
}
