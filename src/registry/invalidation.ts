/**
 * The contract of a cross-instance invalidation bus: when one tenantry instance changes a
 * tenant (suspend, resume, destroy, plan change, `invalidateCache`), every other instance drops
 * its cached record and pooled clients. Implementation: `redisInvalidationBus()` from
 * `tenantry/redis`.
 */

/** What a bus tells the tenantry instance it is attached to. */
export interface InvalidationHandlers {
  /** Another instance (or this one) invalidated `tenantId`: drop it locally. */
  invalidate(tenantId: string): void;
  /**
   * The bus lost its subscription: messages may be missed from now on, so cached records must
   * not be trusted for long (tenantry shortens its cache TTL until `resynced`).
   */
  disconnected(): void;
  /** The subscription is back: tenantry drops every cached record and restores its TTL. */
  resynced(): void;
}

/** A cross-instance invalidation bus. */
export interface InvalidationBus {
  /** Tells every instance (this one included) that `tenantId` changed. Rejects when it cannot. */
  publish(tenantId: string): Promise<void>;
  /** Starts delivering to `handlers`; resolves once subscribed. Called once by tenantry. */
  start(handlers: InvalidationHandlers): Promise<void>;
  /** Stops delivering and releases what the bus created itself. */
  close(): Promise<void>;
}
