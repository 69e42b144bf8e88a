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
 *   Validation and normalisation are those of `normalizeRecord()` (`./record.ts`): a
 *   `TypeError` naming the field, domains lowercased, deduplicated and sorted. A slug may
 *   not be another tenant's id, nor an id another tenant's slug, because a slug lookup falls
 *   back to the id (`acme.app.example.com` must not reach another tenant).
 * - `list` rejects with a `TypeError` for an invalid filter (unknown status or plan, negative
 *   or fractional limit/offset).
 * - `delete` resolves to `true` when a record was removed.
 * - Returned records are the caller's to keep: mutating one (or the input of `put`) never
 *   changes stored state.
 * - `update` (optional; memory, libSQL and PostgreSQL have it) is an atomic read-modify-write of
 *   one tenant: concurrent `update`s of one tenant never lose each other's changes, even from
 *   several processes. tenantry's lifecycle changes (suspend, resume, destroy, plan) use it
 *   when the registry has it, and `get` then `put` otherwise (where the last writer wins).
 */
export interface TenantRegistry {
  get(id: string): Promise<TenantRecord | undefined>;
  findBySlug(slug: string): Promise<TenantRecord | undefined>;
  findByDomain(domain: string): Promise<TenantRecord | undefined>;
  list(filter?: TenantListFilter): Promise<TenantRecord[]>;
  put(record: TenantRecordInput): Promise<TenantRecord>;
  delete(id: string): Promise<boolean>;
  /**
   * Atomic read-modify-write: passes a copy of the current record to `fn` and stores the whole
   * record it returns (same id; the rules of `put`). When another writer changed the tenant in
   * between, the registry either waits for it (a row lock) or calls `fn` again with the fresh
   * record (optimistic versioning), so `fn` must not have side effects. Resolves to the stored
   * record, or `undefined` without calling `fn` when there is no such tenant. Rejects with a
   * `TypeError` when `fn` returns another id. Optional.
   */
  update?(id: string, fn: TenantRecordUpdater): Promise<TenantRecord | undefined>;
  /**
   * Creates or upgrades the registry's tables, idempotently. Optional: registries that create
   * their tables on first use (libSQL) have none; PostgreSQL's must run before first use
   * (`tenantry migrate-control-plane` calls it).
   */
  migrate?(): Promise<void>;
  /** Release connections. Optional. */
  close?(): Promise<void>;
}

/**
 * Builds the record to store from the current one in {@link TenantRegistry.update}. It gets a
 * copy (mutate it freely) and returns the whole new record with the same id. It may run more
 * than once (optimistic registries retry it on a concurrent change): keep it free of side effects.
 */
export type TenantRecordUpdater = (current: TenantRecord) => TenantRecordInput | Promise<TenantRecordInput>;
