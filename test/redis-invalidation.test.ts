import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { RedisOptions } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { InvalidationBus, InvalidationHandlers } from '../src/registry/invalidation.js';
import { redisInvalidationBus } from '../src/redis/index.js';
import { startPrivateRedis } from './helpers/redis-server.js';
import type { PrivateRedis } from './helpers/redis-server.js';

const SHARED = { host: '127.0.0.1', port: 6379 } as const;

let channels = 0;
/** A channel no other test (or concurrent test run) uses. */
function freshChannel(): string {
  channels += 1;
  return `tenantry:test:inv:${process.pid}:${Date.now()}:${channels}`;
}

/** Handlers that record every call. */
function recorder() {
  const invalidated: string[] = [];
  const events: ('disconnected' | 'resynced')[] = [];
  const handlers: InvalidationHandlers = {
    invalidate: (id) => void invalidated.push(id),
    disconnected: () => void events.push('disconnected'),
    resynced: () => void events.push('resynced'),
  };
  return { handlers, invalidated, events, count: (e: 'disconnected' | 'resynced') => events.filter((x) => x === e).length };
}

/** Polls `check` every 5 ms; resolves with the elapsed ms, rejects after `limitMs`. */
async function until(check: () => boolean, limitMs = 5_000): Promise<number> {
  const started = performance.now();
  while (!check()) {
    if (performance.now() - started > limitMs) throw new Error(`condition not met within ${limitMs} ms`);
    await sleep(5);
  }
  return performance.now() - started;
}

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  vi.restoreAllMocks();
});

function connect(options: RedisOptions = SHARED): Redis {
  const client = new Redis(options);
  client.on('error', () => {}); // reconnect errors are expected in the fault tests
  cleanups.push(() => client.disconnect());
  return client;
}

function bus(options: Parameters<typeof redisInvalidationBus>[0]): InvalidationBus {
  const created = redisInvalidationBus(options);
  cleanups.push(() => created.close());
  return created;
}

describe('redisInvalidationBus on a shared Redis', () => {
  it('a publish on one instance reaches both instances within a second', async () => {
    const channel = freshChannel();
    const a = recorder();
    const b = recorder();
    const busA = bus({ client: connect(), channel });
    const busB = bus({ client: connect(), channel });
    await Promise.all([busA.start(a.handlers), busB.start(b.handlers)]);

    const started = performance.now();
    await busA.publish('acme');
    await until(() => a.invalidated.includes('acme') && b.invalidated.includes('acme'), 1_000);
    const ms = performance.now() - started;
    expect(ms).toBeLessThan(1_000);
    expect(a.invalidated).toEqual(['acme']);
    expect(b.invalidated).toEqual(['acme']);

    await busB.publish('globex');
    await until(() => a.invalidated.length === 2 && b.invalidated.length === 2, 1_000);
    expect(a.invalidated).toEqual(['acme', 'globex']);
    expect(b.invalidated).toEqual(['acme', 'globex']);
    expect(a.events).toEqual([]);
    expect(b.events).toEqual([]);
  });

  it('ignores malformed messages and rejects malformed publishes with a TypeError', async () => {
    const channel = freshChannel();
    const raw = connect();
    const r = recorder();
    const b = bus({ client: connect(), channel });
    await b.start(r.handlers);

    await raw.publish(channel, '');
    await raw.publish(channel, 'x'.repeat(64));
    await raw.publish(`${channel}:other`, 'elsewhere'); // another channel: never delivered
    await raw.publish(channel, 'x'.repeat(63));
    await raw.publish(channel, 'ok');
    // Messages from one connection arrive in order: once 'ok' is in, the others were seen.
    await until(() => r.invalidated.includes('ok'), 1_000);
    expect(r.invalidated).toEqual(['x'.repeat(63), 'ok']);

    await expect(b.publish('')).rejects.toBeInstanceOf(TypeError);
    await expect(b.publish('x'.repeat(64))).rejects.toBeInstanceOf(TypeError);
    await expect(b.publish(42 as unknown as string)).rejects.toBeInstanceOf(TypeError);
    await expect(b.publish(undefined as unknown as string)).rejects.toBeInstanceOf(TypeError);
  });

  it('validates its options', () => {
    const client = connect();
    expect(() => redisInvalidationBus(undefined as never)).toThrow(TypeError);
    expect(() => redisInvalidationBus({ client: {} as Redis })).toThrow(/options.client/);
    expect(() => redisInvalidationBus({ client, channel: '' })).toThrow(/options.channel/);
    expect(() => redisInvalidationBus({ client, subscriber: client })).toThrow(/options.subscriber/);
  });

  it('close() stops delivery, quits the subscriber it created and is idempotent', async () => {
    const channel = freshChannel();
    const a = recorder();
    const b = recorder();
    const clientB = connect();
    const duplicate = vi.spyOn(clientB, 'duplicate');
    const busA = bus({ client: connect(), channel });
    const busB = bus({ client: clientB, channel });
    expect(duplicate).not.toHaveBeenCalled(); // nothing connects before start()
    await Promise.all([busA.start(a.handlers), busB.start(b.handlers)]);
    expect(duplicate).toHaveBeenCalledTimes(1);
    const owned = duplicate.mock.results[0]!.value as Redis;
    expect(owned.status).toBe('ready');

    await busB.close();
    await busB.close();
    expect(owned.status).toBe('end');
    expect(clientB.status).toBe('ready'); // the user's client stays open

    await busA.publish('acme');
    await until(() => a.invalidated.includes('acme'), 1_000);
    await busA.publish('after');
    await until(() => a.invalidated.includes('after'), 1_000);
    await sleep(50);
    expect(b.invalidated).toEqual([]);
    // publish() only needs the user's client.
    await busB.publish('still-publishes');
    await until(() => a.invalidated.includes('still-publishes'), 1_000);
    await expect(busB.start(b.handlers)).rejects.toThrow(/after close/);
  });

  it('does not close a user-supplied subscriber, only unsubscribes from its channel', async () => {
    const channel = freshChannel();
    const other = freshChannel();
    const subscriber = connect();
    const r = recorder();
    const client = connect();
    const duplicate = vi.spyOn(client, 'duplicate');
    const b = bus({ client, subscriber, channel });
    const listeners = (['message', 'ready', 'close', 'end', 'error'] as const).map((e) => subscriber.listenerCount(e));

    await b.start(r.handlers);
    expect(duplicate).not.toHaveBeenCalled();
    await b.publish('acme');
    await until(() => r.invalidated.includes('acme'), 1_000);

    // The subscriber is the user's: they may listen to other channels on it.
    const mine: string[] = [];
    subscriber.on('message', (from: string, message: string) => {
      if (from === other) mine.push(message);
    });
    await subscriber.subscribe(other);

    await b.close();
    expect(subscriber.status).toBe('ready');
    expect((['message', 'ready', 'close', 'end', 'error'] as const).map((e) => subscriber.listenerCount(e))).toEqual(
      listeners.map((n, i) => (i === 0 ? n + 1 : n)), // + the test's own 'message' listener
    );
    await client.publish(channel, 'after-close');
    await client.publish(other, 'hello');
    await until(() => mine.includes('hello'), 1_000);
    expect(r.invalidated).toEqual(['acme']);
    await subscriber.unsubscribe(other);
    expect(await subscriber.ping()).toBe('PONG');
  });

  it('a handler that throws is reported and does not stop the bus', async () => {
    const channel = freshChannel();
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    const seen: string[] = [];
    const b = bus({ client: connect(), channel });
    await b.start({
      invalidate: (id) => {
        seen.push(id);
        if (id === 'boom') throw new Error('handler failed');
      },
      disconnected: () => {},
      resynced: () => {},
    });
    await b.publish('boom');
    await b.publish('next');
    await until(() => seen.includes('next'), 1_000);
    expect(seen).toEqual(['boom', 'next']);
    expect(errors).toHaveBeenCalledTimes(1);
    expect(String(errors.mock.calls[0]![0])).toMatch(/handlers.invalidate threw/);
  });

  it("an 'error' that leaves the connection up: disconnected, then resynced after SUBSCRIBE is confirmed again", async () => {
    const channel = freshChannel();
    const subscriber = connect();
    const r = recorder();
    const b = bus({ client: connect(), subscriber, channel });
    await b.start(r.handlers);
    subscriber.emit('error', new Error('something went wrong'));
    expect(r.events).toEqual(['disconnected']);
    await until(() => r.count('resynced') === 1, 1_000);
    await b.publish('acme');
    await until(() => r.invalidated.includes('acme'), 1_000);
    expect(r.events).toEqual(['disconnected', 'resynced']);
  });

  it('start() can be called only once', async () => {
    const b = bus({ client: connect(), channel: freshChannel() });
    const r = recorder();
    await b.start(r.handlers);
    await expect(b.start(r.handlers)).rejects.toThrow(/only once/);
  });
});

describe('redisInvalidationBus when Redis goes away', () => {
  let server: PrivateRedis;
  beforeAll(async () => {
    server = await startPrivateRedis();
  });
  afterAll(async () => {
    await server.dispose();
  });

  /** The settings the quota store recommends, plus a quick reconnect; the duplicate inherits them. */
  const options = (): RedisOptions => ({
    host: server.host,
    port: server.port,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: () => 50,
  });

  it('calls disconnected once per outage, resynced once it is subscribed again, and delivers again', async () => {
    const channel = freshChannel();
    const errors = vi.spyOn(console, 'error');
    const client = connect(options());
    const a = recorder();
    const b = recorder();
    const busA = bus({ client, channel });
    const busB = bus({ client, channel });
    await Promise.all([busA.start(a.handlers), busB.start(b.handlers)]);
    await busA.publish('before');
    await until(() => a.invalidated.includes('before') && b.invalidated.includes('before'), 1_000);

    for (let outage = 1; outage <= 2; outage++) {
      await server.stop();
      await until(() => a.count('disconnected') === outage && b.count('disconnected') === outage, 2_000);
      // Reconnect attempts keep failing every 50 ms: still one call per outage.
      await sleep(300);
      expect(a.events.length).toBe(2 * outage - 1);
      expect(b.events.length).toBe(2 * outage - 1);
      await expect(busA.publish('lost')).rejects.toThrow(); // Redis down: publish rejects

      await server.start();
      await until(() => a.count('resynced') === outage && b.count('resynced') === outage, 5_000);
      // the publishing connection reconnects on its own schedule (no offline queue)
      await until(() => client.status === 'ready', 5_000);
      await busA.publish(`after-${outage}`);
      await until(() => a.invalidated.includes(`after-${outage}`) && b.invalidated.includes(`after-${outage}`), 1_000);
    }
    expect(a.events).toEqual(['disconnected', 'resynced', 'disconnected', 'resynced']);
    expect(b.events).toEqual(['disconnected', 'resynced', 'disconnected', 'resynced']);
    expect(a.invalidated).toEqual(['before', 'after-1', 'after-2']);
    expect(b.invalidated).toEqual(['before', 'after-1', 'after-2']);
    expect(errors).not.toHaveBeenCalled();
  });

  it('resyncs with a user-supplied subscriber that does not resubscribe by itself', async () => {
    const channel = freshChannel();
    const client = connect(options());
    const subscriber = connect({ ...options(), autoResubscribe: false });
    const r = recorder();
    const b = bus({ client, subscriber, channel });
    await b.start(r.handlers);

    await server.stop();
    await until(() => r.count('disconnected') === 1, 2_000);
    await server.start();
    await until(() => r.count('resynced') === 1, 5_000);
    // the publishing connection reconnects on its own schedule (no offline queue)
    await until(() => client.status === 'ready', 5_000);
    await b.publish('back');
    await until(() => r.invalidated.includes('back'), 1_000);
    expect(r.events).toEqual(['disconnected', 'resynced']);
  });

  it('start() waits while Redis is down and close() releases everything without hanging', async () => {
    const channel = freshChannel();
    await server.stop();
    try {
      const client = connect(options());
      const b = redisInvalidationBus({ client, channel });
      const r = recorder();
      let settled: unknown = 'pending';
      const started = b.start(r.handlers).then(
        () => (settled = 'resolved'),
        (err: unknown) => (settled = err),
      );
      await sleep(200);
      expect(settled).toBe('pending');
      const t = performance.now();
      await b.close();
      expect(performance.now() - t).toBeLessThan(500);
      await started;
      expect(settled).toBeInstanceOf(Error);
      expect(r.events).toEqual([]); // never subscribed: nothing to report
    } finally {
      await server.start();
    }
  });

  it('start() resolves once Redis comes up', async () => {
    const channel = freshChannel();
    await server.stop();
    const client = connect(options());
    const r = recorder();
    const b = bus({ client, channel });
    const started = b.start(r.handlers);
    await sleep(100);
    await server.start();
    await started;
    await b.publish('first');
    await until(() => r.invalidated.includes('first'), 1_000);
    expect(r.events).toEqual([]);
  });
});
