/**
 * Events a tenantry instance emits. Listeners cost nothing when there are none: payloads are
 * only built when someone listens.
 */
import type { TenantryErrorCode } from './errors/index.js';
import type { ProvisioningStep } from './protocol/index.js';

/** Payload of each event. */
export interface TenantryEvents {
  /** A request (or `withTenant` call) entered a tenant scope. */
  'tenant:resolved': { tenantId: string; source: string; requestId: string };
  /** A request was refused before reaching a handler. */
  'tenant:rejected': { code: TenantryErrorCode; status: number; message: string };
  /** The pool opened a client for a tenant. */
  'pool:open': { tenantId: string };
  /** The pool retired a client (LRU, idle TTL, invalidation, replacement, close). */
  'pool:evict': { tenantId: string; reason: string };
  /** A provisioning step ended (completed, failed or skipped). */
  'provisioning:step': { tenantId: string; step: ProvisioningStep };
  /** The quota store (or a gauge) failed; the quota's fail mode decided the outcome. */
  'quota:store-error': { store: string; message: string };
}

/** Name of a tenantry event. */
export type TenantryEventName = keyof TenantryEvents;

/** A listener of event `E`. */
export type TenantryListener<E extends TenantryEventName> = (payload: TenantryEvents[E]) => void;

/**
 * A tiny synchronous emitter. A throwing listener is isolated from the request path: its error
 * is reported on `console.error` and the other listeners still run.
 */
export class TenantryEmitter {
  readonly #listeners = new Map<TenantryEventName, Set<(payload: never) => void>>();

  /** True when at least one listener waits for `event`. */
  has(event: TenantryEventName): boolean {
    const set = this.#listeners.get(event);
    return set !== undefined && set.size > 0;
  }

  on<E extends TenantryEventName>(event: E, listener: TenantryListener<E>): () => void {
    let set = this.#listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener as (payload: never) => void);
    return () => {
      set.delete(listener as (payload: never) => void);
    };
  }

  emit<E extends TenantryEventName>(event: E, payload: TenantryEvents[E]): void {
    const set = this.#listeners.get(event);
    if (set === undefined) return;
    for (const listener of set) {
      try {
        (listener as TenantryListener<E>)(payload);
      } catch (err) {
        console.error(`tenantry: a listener of "${event}" threw`, err);
      }
    }
  }
}
