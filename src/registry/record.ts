/**
 * Helpers shared by the registries: turning a `TenantRecordInput` into a stored
 * `TenantRecord`, checking list filters, and the wording of conflict errors. Both
 * registries use them, so both accept and reject exactly the same inputs.
 */
import {
  TenantDatabaseSchema,
  TenantPlanSchema,
  TenantQuotaSchema,
  TenantRecordInputSchema,
  TenantStatusSchema,
} from '../protocol/index.js';
import type { TenantRecord, TenantRecordInput } from '../protocol/index.js';
import type { TenantListFilter } from './types.js';

const RECORD_FIELDS = new Set(Object.keys(TenantRecordInputSchema.shape));
const DB_FIELDS = new Set(Object.keys(TenantDatabaseSchema.shape));
const QUOTA_FIELDS = new Set(Object.keys(TenantQuotaSchema.shape));

/**
 * Validates `input` and returns the record to store: a new plain object that shares nothing
 * with `input` (mutating the input afterwards changes nothing stored).
 *
 * - Domains are lowercased, deduplicated and sorted (the stored order is canonical, so every
 *   registry returns the same array).
 * - Defaults: `domains: []`, `plan: 'free'`, `status: 'active'`, `db: {}`.
 * - `createdAt` is kept from `existing`; for a new record it is `input.createdAt` when given
 *   (an import keeps its history), else `nowIso`. `updatedAt` is always `nowIso`.
 * - Optional fields that are absent stay absent (no `undefined`-valued keys).
 *
 * Throws a `TypeError` naming the bad field, e.g. `tenant record: id: not a valid tenant id`.
 * Unknown fields (at the top level, in `db` and in `quotas`) are rejected too: a misspelt
 * quota would otherwise silently mean "no limit".
 *
 * @example
 * normalizeRecord({ id: 'acme', domains: ['Acme.COM'] }, undefined, new Date().toISOString())
 * // → { id: 'acme', domains: ['acme.com'], plan: 'free', status: 'active', db: {}, createdAt, updatedAt }
 */
export function normalizeRecord(input: TenantRecordInput, existing: TenantRecord | undefined, nowIso: string): TenantRecord {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new TypeError('tenant record: expected an object');
  }
  rejectUnknown(input, RECORD_FIELDS, '');
  if (isPlainObject(input.db)) rejectUnknown(input.db, DB_FIELDS, 'db.');
  if (isPlainObject(input.quotas)) rejectUnknown(input.quotas, QUOTA_FIELDS, 'quotas.');

  // Domains are matched case-insensitively: accept any case, store lowercase.
  const candidate = Array.isArray(input.domains)
    ? { ...input, domains: input.domains.map((d: unknown) => (typeof d === 'string' ? d.toLowerCase() : d)) }
    : input;
  const parsed = TenantRecordInputSchema.safeParse(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new TypeError(`tenant record: ${fieldName(issue.path)}: ${issue.message}`, { cause: parsed.error });
  }
  const value = parsed.data;

  const record: TenantRecord = {
    id: value.id,
    ...(value.slug === undefined ? {} : { slug: value.slug }),
    domains: [...new Set(value.domains ?? [])].sort(),
    plan: value.plan ?? 'free',
    ...(value.region === undefined ? {} : { region: value.region }),
    status: value.status ?? 'active',
    db: copyDefined(value.db ?? {}),
    ...(value.quotas === undefined ? {} : { quotas: copyDefined(value.quotas) }),
    createdAt: existing?.createdAt ?? value.createdAt ?? nowIso,
    updatedAt: nowIso,
  };
  return record;
}

/** The filter of `list()`, checked: a `TypeError` naming the bad field otherwise. */
export interface CheckedListFilter {
  status: TenantListFilter['status'];
  plan: TenantListFilter['plan'];
  /** `undefined` means all. */
  limit: number | undefined;
  offset: number;
}

/** Checks a `list()` filter (`status`, `plan` known values; `limit`, `offset` integers ≥ 0). */
export function checkListFilter(filter: TenantListFilter | undefined): CheckedListFilter {
  if (filter === undefined) return { status: undefined, plan: undefined, limit: undefined, offset: 0 };
  if (typeof filter !== 'object' || filter === null) throw new TypeError('list: filter must be an object');
  const { status, plan, limit, offset } = filter;
  if (status !== undefined && !TenantStatusSchema.safeParse(status).success) {
    throw new TypeError(`list: filter.status must be one of ${TenantStatusSchema.options.join(', ')}`);
  }
  if (plan !== undefined && !TenantPlanSchema.safeParse(plan).success) {
    throw new TypeError(`list: filter.plan must be one of ${TenantPlanSchema.options.join(', ')}`);
  }
  if (limit !== undefined && !(Number.isSafeInteger(limit) && limit >= 0)) {
    throw new TypeError('list: filter.limit must be an integer >= 0');
  }
  if (offset !== undefined && !(Number.isSafeInteger(offset) && offset >= 0)) {
    throw new TypeError('list: filter.offset must be an integer >= 0');
  }
  return { status, plan, limit, offset: offset ?? 0 };
}

/** `new Date(now()).toISOString()`, with a clear error when the injected clock misbehaves. */
export function isoNow(now: () => number): string {
  const ms = now();
  if (typeof ms !== 'number' || !Number.isFinite(ms)) throw new TypeError('registry clock: now() must return a finite number of milliseconds');
  return new Date(ms).toISOString();
}

/** Checks the optional `now` option of a registry factory. */
export function clockOption(now: unknown, factory: string): () => number {
  if (now === undefined) return Date.now;
  if (typeof now !== 'function') throw new TypeError(`${factory}: now must be a function returning milliseconds`);
  return now as () => number;
}

/** Wording of a conflict: `tenant record: domain "acme.com" already belongs to tenant "acme"`. */
export function conflictError(field: 'slug' | 'domain', value: string, owner: string, cause?: unknown): TypeError {
  return new TypeError(`tenant record: ${field} "${value}" already belongs to tenant "${owner}"`, withCause(cause));
}

/**
 * Wording of an id/slug clash. A tenant's id doubles as its slug (a slug lookup falls back to
 * the id), so a slug may not be another tenant's id and an id may not be another tenant's slug:
 * otherwise `acme.app.example.com` could reach a tenant other than `acme`.
 */
export function nameClashError(field: 'slug' | 'id', value: string, owner: string, cause?: unknown): TypeError {
  return field === 'slug'
    ? new TypeError(`tenant record: slug "${value}" is the id of tenant "${owner}"`, withCause(cause))
    : new TypeError(`tenant record: id "${value}" is the slug of tenant "${owner}"`, withCause(cause));
}

function withCause(cause: unknown): ErrorOptions | undefined {
  return cause === undefined ? undefined : { cause };
}

function rejectUnknown(value: object, known: ReadonlySet<string>, prefix: string): void {
  for (const key of Object.keys(value)) {
    if (!known.has(key)) throw new TypeError(`tenant record: ${prefix}${key}: unknown field`);
  }
}

function isPlainObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A copy without `undefined`-valued keys. */
function copyDefined<T extends object>(value: T): T {
  const copy: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) if (v !== undefined) copy[key] = v;
  return copy as T;
}

function fieldName(path: readonly PropertyKey[]): string {
  if (path.length === 0) return 'record';
  let name = '';
  for (const part of path) {
    if (typeof part === 'number') name += `[${part}]`;
    else name += name === '' ? String(part) : `.${String(part)}`;
  }
  return name;
}
