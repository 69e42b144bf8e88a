/**
 * The Redis invalidation bus: one pub/sub channel shared by every instance of a deployment, so a
 * change made on one instance (suspend, resume, destroy, plan change, `invalidateCache`) drops
 * the cached record and pooled clients on all of them.
 */
import type { Redis } from 'ioredis';
import type { InvalidationBus, InvalidationHandlers } from '../registry/invalidation.js';
import { resolveHeartbeat, startHeartbeat } from './heartbeat.js';
import type { HeartbeatOptions } from './heartbeat.js';

/** Options of {@link redisInvalidationBus}. */
export interface RedisInvalidationBusOptions {
  /**
   * The ioredis connection `publish()` sends on. It stays yours: the bus never connects, quits
   * or disconnects it. Unless `subscriber` is given, the bus subscribes on `client.duplicate()`.
   */
  client: Redis;
  /**
   * A dedicated connection to subscribe on (a connection in subscriber mode can run nothing but
   * pub/sub commands). It stays yours: `close()` unsubscribes from `channel` and leaves it open.
   * Default: `client.duplicate()`, created by `start()` and quit by `close()`.
   */
  subscriber?: Redis;
  /** The pub/sub channel. Every instance of a deployment must use the same one. Default `'tenantry:invalidate'`. */
  channel?: string;
  /**
   * Detects a subscriber link that stays open but carries nothing (a proxy or NAT dropping
   * traffic), which pub/sub alone cannot tell from a quiet channel: every `intervalMs` the bus
   * sends `PING` on the subscriber; with no answer within `timeoutMs` it treats the bus as down,
   * exactly as a closed connection (`handlers.disconnected()`), and drops the subscriber's socket
   * with `disconnect(true)` so ioredis reconnects (this applies to a `subscriber` you passed too).
   * A reconnect whose handshake stays unanswered for an interval is dropped again. Once
   * subscribed again, `handlers.resynced()` follows as after any outage. `false` turns it off.
   * Default `{ intervalMs: 5_000, timeoutMs: 3_000 }`: a dead link is noticed within 8 seconds.
   */
  heartbeat?: HeartbeatOptions | false;
}

const DEFAULT_CHANNEL = 'tenantry:invalidate';
/** Longest tenant id (a DNS label); same limit as the resolvers. */
const MAX_TENANT_ID_LENGTH = 63;
/** How long `close()` waits for `UNSUBSCRIBE` / `QUIT` before it drops the connection. */
const CLOSE_TIMEOUT_MS = 1_000;

function isTenantId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_TENANT_ID_LENGTH;
}

function isRedis(value: unknown, methods: readonly string[]): value is Redis {
  return (
    typeof value === 'object' &&
    value !== null &&
    methods.every((m) => typeof (value as Record<string, unknown>)[m] === 'function')
  );
}

/** Settles with `promise`, or resolves `undefined` after `ms`; never rejects. */
async function settleWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  try {
    await Promise.race([promise.then(
      () => undefined,
      () => undefined,
    ), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * An {@link InvalidationBus} on Redis pub/sub. `publish(tenantId)` is `PUBLISH channel tenantId`
 * on `client`; every bus subscribed to the channel (this one included) calls
 * `handlers.invalidate(tenantId)`. Messages that are no tenant id (empty, longer than 63
 * characters) are ignored.
 *
 * Pub/sub delivers at most once: a message published while a subscriber is disconnected is
 * lost. So the bus watches its subscriber connection: when it closes, ends or fails after the
 * subscription was confirmed, `handlers.disconnected()` is called (once per outage); when ioredis
 * has reconnected, the bus confirms the subscription again (`SUBSCRIBE`, which is idempotent, so
 * this also works with `autoResubscribe: false`) and then calls `handlers.resynced()` once.
 * Anything published after `resynced` is delivered. A link that stays open but goes silent is
 * caught by the heartbeat (`options.heartbeat`, a `PING` every 5 s by default) and handled the
 * same way, after the bus has dropped the dead socket (reported once per outage on `console.error`).
 *
 * `start()` resolves once Redis confirmed the `SUBSCRIBE`; while Redis is unreachable it waits
 * for ioredis to reconnect. It rejects when Redis refuses the `SUBSCRIBE` (e.g. an ACL), when the
 * subscriber connection ends for good (its `retryStrategy` gave up) or when `close()` is called
 * first.
 *
 * A handler that throws is reported with `console.error` and does not stop the bus. The bus
 * listens for `'error'` on the subscriber, so a lost connection never becomes an unhandled
 * `'error'` event.
 *
 * `close()` stops the heartbeat, unsubscribes, quits the subscriber when the bus created it, and
 * is idempotent.
 *
 * @example
 * import Redis from 'ioredis';
 * import { createTenantry } from 'tenantry';
 * import { redisInvalidationBus } from 'tenantry/redis';
 * const redis = new Redis(process.env.REDIS_URL);
 * const tenantry = createTenantry({ invalidation: redisInvalidationBus({ client: redis }) });
 */
export function redisInvalidationBus(options: RedisInvalidationBusOptions): InvalidationBus {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('redisInvalidationBus: options must be an object with a `client`');
  }
  const { client } = options;
  if (!isRedis(client, ['publish'])) {
    throw new TypeError('redisInvalidationBus: options.client must be an ioredis Redis client');
  }
  const supplied = options.subscriber;
  if (supplied !== undefined && !isRedis(supplied, ['subscribe', 'unsubscribe', 'on', 'off'])) {
    throw new TypeError('redisInvalidationBus: options.subscriber must be an ioredis Redis client');
  }
  if (supplied === undefined && !isRedis(client, ['duplicate'])) {
    throw new TypeError('redisInvalidationBus: options.client must be an ioredis Redis client (it has no duplicate()); pass options.subscriber');
  }
  if (supplied !== undefined && (supplied as unknown) === (client as unknown)) {
    throw new TypeError('redisInvalidationBus: options.subscriber must be a dedicated connection, not options.client');
  }
  const channel = options.channel ?? DEFAULT_CHANNEL;
  if (typeof channel !== 'string' || channel.length === 0) {
    throw new TypeError('redisInvalidationBus: options.channel must be a non-empty string');
  }
  const heartbeat = resolveHeartbeat(options.heartbeat, 'redisInvalidationBus: options.heartbeat');

  /** `idle` → start() → `starting` → confirmed → `up` ⇄ `down`; `closed` from anywhere. */
  let phase: 'idle' | 'starting' | 'up' | 'down' | 'closed' = 'idle';
  /** Bumped on every sign of a lost connection, so a late confirmation cannot end a newer outage. */
  let epoch = 0;
  let handlers: InvalidationHandlers | undefined;
  let subscriber: Redis | undefined;
  let started: { resolve: () => void; reject: (err: unknown) => void } | undefined;
  let closing: Promise<void> | undefined;
  let stopHeartbeat: (() => void) | undefined;

  function report(what: string, err: unknown): void {
    console.error(`tenantry: redisInvalidationBus (${channel}): ${what}`, err);
  }

  function call(name: keyof InvalidationHandlers, ...args: [] | [string]): void {
    const target = handlers;
    if (target === undefined) return;
    try {
      const result: unknown = (target[name] as (...a: string[]) => unknown)(...args);
      if (result instanceof Promise) result.catch((err: unknown) => report(`handlers.${name} rejected`, err));
    } catch (err) {
      report(`handlers.${name} threw`, err);
    }
  }

  function settleStart(err?: unknown): void {
    const pending = started;
    if (pending === undefined) return;
    started = undefined;
    if (err === undefined) pending.resolve();
    else pending.reject(err);
  }

  /** Sends `SUBSCRIBE` when the connection is ready; its confirmation starts or resyncs the bus. */
  function confirmSubscription(): void {
    const sub = subscriber;
    if (sub === undefined || phase === 'closed' || phase === 'up' || sub.status !== 'ready') return;
    const at = epoch;
    sub.subscribe(channel).then(
      () => {
        if (phase === 'closed' || at !== epoch) return;
        if (phase === 'starting') {
          phase = 'up';
          settleStart();
        } else if (phase === 'down') {
          phase = 'up';
          call('resynced');
        }
      },
      (err: unknown) => {
        if (phase === 'closed') return;
        // A dropped connection: the next 'ready' tries again. Redis refusing it: report.
        if (sub.status !== 'ready') return;
        if (phase === 'starting') settleStart(err);
        else report('SUBSCRIBE failed after a reconnect', err);
      },
    );
  }

  function outage(): void {
    if (phase === 'closed') return;
    epoch += 1;
    if (phase === 'up') {
      phase = 'down';
      call('disconnected');
    }
  }

  const onMessage = (from: string, message: string): void => {
    if (phase === 'closed' || from !== channel || !isTenantId(message)) return;
    call('invalidate', message);
  };
  const onReady = (): void => confirmSubscription();
  const onClose = (): void => outage();
  const onEnd = (): void => {
    outage();
    if (phase === 'starting') settleStart(new Error(`redisInvalidationBus: the subscriber connection ended before ${channel} was subscribed`));
  };
  const onError = (): void => {
    // Usually followed by 'close' (ioredis reconnects and 'ready' resubscribes). An error that
    // leaves the connection up is checked once the current tick is over: SUBSCRIBE again.
    outage();
    setImmediate(confirmSubscription);
  };

  /** A missed heartbeat: down as on a closed connection; a new socket, as the old one is dead. */
  function silent(reason: string): void {
    const sub = subscriber;
    if (phase === 'closed' || sub === undefined) return;
    if (phase === 'up') console.error(`tenantry: redisInvalidationBus (${channel}): the subscriber connection went silent (${reason}); reconnecting`);
    outage();
    sub.disconnect(true);
  }

  function detach(sub: Redis): void {
    sub.off('message', onMessage);
    sub.off('ready', onReady);
    sub.off('close', onClose);
    sub.off('end', onEnd);
    sub.off('error', onError);
  }

  return {
    async publish(tenantId: string): Promise<void> {
      if (!isTenantId(tenantId)) {
        throw new TypeError(`redisInvalidationBus.publish: tenantId must be a string of 1 to ${MAX_TENANT_ID_LENGTH} characters`);
      }
      await client.publish(channel, tenantId);
    },

    start(h: InvalidationHandlers): Promise<void> {
      if (phase === 'closed') return Promise.reject(new Error('redisInvalidationBus: start() after close()'));
      if (phase !== 'idle') return Promise.reject(new Error('redisInvalidationBus: start() may be called only once'));
      if (
        typeof h !== 'object' ||
        h === null ||
        typeof h.invalidate !== 'function' ||
        typeof h.disconnected !== 'function' ||
        typeof h.resynced !== 'function'
      ) {
        return Promise.reject(new TypeError('redisInvalidationBus.start: handlers must have invalidate, disconnected and resynced functions'));
      }
      handlers = h;
      phase = 'starting';
      const promise = new Promise<void>((resolve, reject) => {
        started = { resolve, reject };
      });
      let sub: Redis;
      try {
        sub = supplied ?? client.duplicate();
      } catch (err) {
        phase = 'idle';
        handlers = undefined;
        settleStart(err);
        return promise;
      }
      subscriber = sub;
      sub.on('message', onMessage);
      sub.on('ready', onReady);
      sub.on('close', onClose);
      sub.on('end', onEnd);
      sub.on('error', onError);
      if (heartbeat !== undefined) stopHeartbeat = startHeartbeat(sub, heartbeat, silent);
      if (sub.status === 'ready') confirmSubscription();
      else if (sub.status === 'wait') sub.connect().catch(() => {}); // lazyConnect; failures arrive as events
      else if (sub.status === 'end') onEnd();
      return promise;
    },

    close(): Promise<void> {
      closing ??= (async () => {
        phase = 'closed';
        settleStart(new Error('redisInvalidationBus: closed before the subscription was confirmed'));
        handlers = undefined;
        stopHeartbeat?.();
        const sub = subscriber;
        subscriber = undefined;
        if (sub === undefined) return;
        // Our 'error' listener stays on until we are done with the connection.
        if (sub.status === 'ready') await settleWithin(sub.unsubscribe(channel), CLOSE_TIMEOUT_MS);
        // A user's subscriber that is reconnecting: queued, it runs right after ioredis resubscribes.
        else if (supplied !== undefined && sub.status !== 'end' && sub.status !== 'wait') sub.unsubscribe(channel).catch(() => {});
        if (supplied === undefined) {
          const status = (): string => sub.status;
          if (status() !== 'end') {
            const ended = new Promise<void>((resolve) => sub.once('end', () => resolve()));
            if (status() === 'ready') await settleWithin(sub.quit(), CLOSE_TIMEOUT_MS);
            // Waiting for 'end' only makes sense with a socket: disconnect() while 'reconnecting'
            // just cancels the reconnect timer and ioredis emits nothing more.
            const socketOpen = ['connecting', 'connect', 'ready'].includes(status());
            if (status() !== 'end') sub.disconnect(); // also ends a hung QUIT or a pending reconnect
            if (socketOpen) await settleWithin(ended, CLOSE_TIMEOUT_MS);
          }
        }
        detach(sub);
      })();
      return closing;
    },
  };
}
