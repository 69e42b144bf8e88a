/**
 * An in-process registry: records in Maps, gone when the process exits. For tests, examples
 * and deployments whose tenants are fixed in code.
 */
import type { TenantRecord, TenantRecordInput } from '../protocol/index.js';
import { checkListFilter, clockOption, conflictError, isoNow, nameClashError, normalizeRecord } from './record.js';
import type { TenantListFilter, TenantRecordUpdater, TenantRegistry } from './types.js';

/** Options of {@link memoryRegistry}. */
export interface MemoryRegistryOptions {
  /** Millisecond clock for `createdAt` / `updatedAt` (tests drive it). Default `Date.now`. */
  now?: () => number;
}

/**
 * A registry held in memory. Records are validated like every registry's (a `TypeError`
 * naming the field), slugs and domains are unique across tenants, and every method returns
 * copies, so callers cannot change stored state by mutating what they get or what they put.
 *
 * `initialRecords` are stored at once (in order; a later record with the same id replaces an
 * earlier one); an invalid or conflicting one throws here, not at the first lookup.
 *
 * @example
 * const registry = memoryRegistry([
 *   { id: 'acme', domains: ['acme.com'], plan: 'pro' },
 *   { id: 'globex', slug: 'globex-corp' },
 * ]);
 * await registry.findByDomain('ACME.com'); // the acme record
 */
export function memoryRegistry(initialRecords?: TenantRecordInput[], options: MemoryRegistryOptions = {}): TenantRegistry {
  if (initialRecords !== undefined && !Array.isArray(initialRecords)) {
    throw new TypeError('memoryRegistry: initialRecords must be an array of tenant records');
  }
  if (typeof options !== 'object' || options === null) throw new TypeError('memoryRegistry: options must be an object');
  const registry = new MemoryRegistry(clockOption(options.now, 'memoryRegistry'));
  for (const input of initialRecords ?? []) registry.putSync(input);
  return registry;
}

class MemoryRegistry implements TenantRegistry {
  readonly #now: () => number;
  readonly #byId = new Map<string, TenantRecord>();
  /** slug → tenant id */
  readonly #bySlug = new Map<string, string>();
  /** domain → tenant id */
  readonly #byDomain = new Map<string, string>();
  /** tenant id → the tail of its queue of `update` calls */
  readonly #updating = new Map<string, Promise<void>>();

  constructor(now: () => number) {
    this.#now = now;
  }

  async get(id: string): Promise<TenantRecord | undefined> {
    return copy(this.#byId.get(id));
  }

  async findBySlug(slug: string): Promise<TenantRecord | undefined> {
    const id = this.#bySlug.get(slug);
    return id === undefined ? undefined : copy(this.#byId.get(id));
  }

  async findByDomain(domain: string): Promise<TenantRecord | undefined> {
    if (typeof domain !== 'string') return undefined;
    const id = this.#byDomain.get(domain.toLowerCase());
    return id === undefined ? undefined : copy(this.#byId.get(id));
  }

  async list(filter?: TenantListFilter): Promise<TenantRecord[]> {
    const { status, plan, limit, offset } = checkListFilter(filter);
    const ids = [...this.#byId.keys()].sort(compareIds);
    const out: TenantRecord[] = [];
    let skipped = 0;
    for (const id of ids) {
      if (limit !== undefined && out.length >= limit) break;
      const record = this.#byId.get(id)!;
      if (status !== undefined && record.status !== status) continue;
      if (plan !== undefined && record.plan !== plan) continue;
      if (skipped < offset) {
        skipped++;
        continue;
      }
      out.push(structuredClone(record));
    }
    return out;
  }

  async put(input: TenantRecordInput): Promise<TenantRecord> {
    return this.putSync(input);
  }

  /** Updates of one tenant run one after the other (`fn` may be async); other tenants' do not wait. */
  update(id: string, fn: TenantRecordUpdater): Promise<TenantRecord | undefined> {
    if (typeof fn !== 'function') return Promise.reject(new TypeError('update: fn must be a function returning the new record'));
    const previous = this.#updating.get(id) ?? Promise.resolve();
    const run = previous.then(async () => {
      const current = this.#byId.get(id);
      if (current === undefined) return undefined;
      const next = await fn(structuredClone(current));
      if (next?.id !== id) throw new TypeError(`update: fn returned a record with id "${String(next?.id)}" for tenant "${id}"`);
      return this.putSync(next);
    });
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.#updating.set(id, settled);
    void settled.then(() => {
      if (this.#updating.get(id) === settled) this.#updating.delete(id);
    });
    return run;
  }

  async delete(id: string): Promise<boolean> {
    const record = this.#byId.get(id);
    if (record === undefined) return false;
    this.#unindex(record);
    this.#byId.delete(id);
    return true;
  }

  /** Validates, checks conflicts and stores; synchronous so it is atomic. */
  putSync(input: TenantRecordInput): TenantRecord {
    const existing = typeof input?.id === 'string' ? this.#byId.get(input.id) : undefined;
    const record = normalizeRecord(input, existing, isoNow(this.#now));
    this.#checkConflicts(record);
    if (existing !== undefined) this.#unindex(existing);
    this.#byId.set(record.id, record);
    if (record.slug !== undefined) this.#bySlug.set(record.slug, record.id);
    for (const domain of record.domains) this.#byDomain.set(domain, record.id);
    return structuredClone(record);
  }

  #checkConflicts(record: TenantRecord): void {
    const { id, slug } = record;
    if (slug !== undefined) {
      const owner = this.#bySlug.get(slug);
      if (owner !== undefined && owner !== id) throw conflictError('slug', slug, owner);
      if (slug !== id && this.#byId.has(slug)) throw nameClashError('slug', slug, slug);
    }
    const slugOwner = this.#bySlug.get(id);
    if (slugOwner !== undefined && slugOwner !== id) throw nameClashError('id', id, slugOwner);
    for (const domain of record.domains) {
      const owner = this.#byDomain.get(domain);
      if (owner !== undefined && owner !== id) throw conflictError('domain', domain, owner);
    }
  }

  #unindex(record: TenantRecord): void {
    if (record.slug !== undefined && this.#bySlug.get(record.slug) === record.id) this.#bySlug.delete(record.slug);
    for (const domain of record.domains) {
      if (this.#byDomain.get(domain) === record.id) this.#byDomain.delete(domain);
    }
  }
}

function copy(record: TenantRecord | undefined): TenantRecord | undefined {
  return record === undefined ? undefined : structuredClone(record);
}

/** Code-unit order, the same as SQLite's default BINARY collation. */
function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
