/**
 * The invalidation bus's heartbeat against a dead link: a TCP proxy in front of the machine's
 * Redis black-holes the subscriber's traffic without closing its socket, so only the heartbeat
 * (a PING on the subscriber) can tell the link is gone. The bus then reports `disconnected` (the
 * instance trusts cached records for one second at most), drops the socket, keeps trying while
 * the link stays dead, and reports `resynced` once it has subscribed again.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createTenantry, fromHeader, libsqlRegistry } from '../src/index.js';
import type { Tenantry } from '../src/index.js';
import type { InvalidationHandlers } from '../src/registry/invalidation.js';
import { startHeartbeat } from '../src/redis/heartbeat.js';
import { redisInvalidationBus } from '../src/redis/index.js';
import { tempDir } from './helpers/env.js';
import { startTcpProxy } from './helpers/tcp-proxy.js';

const REDIS = { host: '127.0.0.1', port: 6379 } as const;
/** Fast heartbeats, so the test waits for events instead of seconds (a timeout a loaded machine still meets). */
const FAST = { intervalMs: 100, timeoutMs: 2_000 } as const;

let channels = 0;
const freshChannel = (): string => `tenantry:test:heartbeat:${process.pid}:${Date.now()}:${(channels += 1)}`;

/** Polls `check` until it holds (reconnects and deliveries take a moment). */
async function until(check: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await check())) await sleep(5);
}

function recorder() {
  const invalidated: string[] = [];
  const events: ('disconnected' | 'resynced')[] = [];
  const handlers: InvalidationHandlers = {
    invalidate: (id) => void invalidated.push(id),
    disconnected: () => void events.push('disconnected'),
    resynced: () => void events.push('resynced'),
  };
  return { handlers, invalidated, events };
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  vi.restoreAllMocks();
});

function connect(port: number): Redis {
  const client = new Redis({ ...REDIS, port, retryStrategy: () => 20, disconnectTimeout: 50 });
  client.on('error', () => {}); // the dropped connection reports errors while it reconnects
  cleanups.push(() => client.disconnect());
  return client;
}

async function proxy() {
  const started = await startTcpProxy(REDIS);
  cleanups.push(() => started.close());
  return started;
}

describe('redisInvalidationBus heartbeat', () => {
  it('reports a black-holed subscriber as disconnected, keeps retrying while the link is dead, and resyncs once it is back', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => {});
    const link = await proxy();
    const channel = freshChannel();
    const publisher = connect(REDIS.port);
    const watched = recorder();
    const unwatched = recorder();
    const bus = redisInvalidationBus({ client: publisher, subscriber: connect(link.port), channel, heartbeat: FAST });
    const deaf = redisInvalidationBus({ client: publisher, subscriber: connect(link.port), channel, heartbeat: false });
    cleanups.push(() => bus.close(), () => deaf.close());
    await Promise.all([bus.start(watched.handlers), deaf.start(unwatched.handlers)]);
    await publisher.publish(channel, 'before');
    await until(() => watched.invalidated.includes('before') && unwatched.invalidated.includes('before'));

    await link.cut('blackhole'); // sockets stay open, nothing passes
    await until(() => watched.events.includes('disconnected'));
    expect(console.error).toHaveBeenCalledWith(expect.stringContaining('went silent'));
    // The reconnect lands on the same dead link (accepted, never answered): dropped and tried again.
    const acceptedAtDetection = link.accepted;
    await until(() => link.accepted >= acceptedAtDetection + 2);
    expect(watched.events).toEqual(['disconnected']); // once per outage
    expect(unwatched.events).toEqual([]); // without a heartbeat, the dead link goes unnoticed
    await publisher.publish(channel, 'lost');

    await link.restore();
    await until(() => watched.events.length === 2);
    expect(watched.events).toEqual(['disconnected', 'resynced']);
    await publisher.publish(channel, 'after');
    await until(() => watched.invalidated.includes('after'));
    expect(watched.invalidated).toEqual(['before', 'after']); // 'lost' was published while cut
  });

  it('stays up on a live link through many heartbeats, and stops pinging once closed', async () => {
    const channel = freshChannel();
    const subscriber = connect(REDIS.port);
    const pings = vi.spyOn(subscriber, 'ping');
    const watched = recorder();
    const bus = redisInvalidationBus({ client: connect(REDIS.port), subscriber, channel, heartbeat: { intervalMs: 5, timeoutMs: 5_000 } });
    cleanups.push(() => bus.close());
    await bus.start(watched.handlers);
    await until(() => pings.mock.calls.length >= 20);
    expect(watched.events).toEqual([]);
    await bus.close();
    const sent = pings.mock.calls.length;
    await sleep(50); // ten intervals
    expect(pings.mock.calls.length).toBe(sent);
    expect(subscriber.status).toBe('ready'); // a subscriber you pass stays yours and open
  });

  it('does not take an ioredis commandTimeout rejection of its PING for an answer', async () => {
    const link = await proxy();
    const connection = new Redis({ ...REDIS, port: link.port, retryStrategy: () => null });
    connection.on('error', () => {});
    cleanups.push(() => connection.disconnect());
    await until(() => connection.status === 'ready');
    connection.options.commandTimeout = 5; // only now: the connection handshake is not to time out on a loaded machine
    const reasons: string[] = [];
    const stop = startHeartbeat(connection, { intervalMs: 10, timeoutMs: 100 }, (reason) => void reasons.push(reason));
    cleanups.push(stop);
    await link.cut('blackhole');
    await until(() => reasons.length > 0); // each PING is rejected after 5 ms, and still counts as unanswered
    expect(reasons[0]).toMatch(/no answer to PING within 100 ms/);
    const pings = vi.spyOn(connection, 'ping');
    await sleep(50); // five intervals: reported once, the heartbeat waits for that socket to close
    expect(pings).not.toHaveBeenCalled();
    expect(reasons).toHaveLength(1);
  });

  it('does not report a live link as silent after the event loop was blocked past the timeout', async () => {
    const connection = connect(REDIS.port);
    await until(() => connection.status === 'ready');
    const ping = connection.ping.bind(connection);
    let blocked = 0;
    vi.spyOn(connection, 'ping').mockImplementation(() => {
      const reply = ping();
      if (blocked < 5) {
        // Block the loop after its poll phase, before the answer is read: once unblocked, the
        // loop runs the due timeout timer first and reads the answer only after it.
        setImmediate(() => {
          blocked += 1;
          const end = Date.now() + 300;
          while (Date.now() < end);
        });
      }
      return reply;
    });
    const reasons: string[] = [];
    const stop = startHeartbeat(connection, { intervalMs: 10, timeoutMs: 100 }, (reason) => void reasons.push(reason));
    cleanups.push(stop);
    await until(() => blocked === 5);
    await sleep(150); // the last timer, and the check after it
    expect(reasons).toEqual([]);
  });

  it('refuses heartbeat options that are not positive numbers of milliseconds, naming the option', () => {
    const client = connect(REDIS.port);
    for (const heartbeat of [{ intervalMs: 0 }, { timeoutMs: -1 }, { intervalMs: Number.NaN }, { timeoutMs: '50' }, { intervalMs: 2 ** 31 }]) {
      expect(() => redisInvalidationBus({ client, heartbeat: heartbeat as never })).toThrow(/options\.heartbeat\.(intervalMs|timeoutMs) must be a number/);
    }
    expect(() => redisInvalidationBus({ client, heartbeat: true as never })).toThrow(/options\.heartbeat must be false or an object/);
    expect(() => redisInvalidationBus({ client, heartbeat: false })).not.toThrow();
  });
});

const ask = (tenantry: Tenantry, id: string): Promise<number> =>
  tenantry.handle(new Request('http://app.test/', { headers: { 'x-tenant-id': id } }), async () => new Response('ok')).then((r) => r.status);

describe('an instance whose invalidation subscriber goes silent', () => {
  it('trusts cached records for one second at most once the heartbeat misses, then drops its cache when the link is back', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => {});
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const link = await proxy();
    const channel = freshChannel();
    const a = createTenantry({
      dataDir: dir,
      registry: libsqlRegistry({ url: `file:${dir}/control-plane.db` }),
      resolvers: [fromHeader()],
      invalidation: redisInvalidationBus({ client: connect(REDIS.port), channel }),
    });
    let now = 1_000_000;
    const subscriber = connect(link.port);
    const sockets = { closed: 0 };
    subscriber.on('close', () => void (sockets.closed += 1));
    const b = createTenantry({
      dataDir: dir,
      registry: libsqlRegistry({ url: `file:${dir}/control-plane.db` }),
      resolvers: [fromHeader()],
      cache: { ttlMs: 60_000 },
      now: () => now,
      invalidation: redisInvalidationBus({ client: connect(REDIS.port), subscriber, channel, heartbeat: FAST }),
    });
    cleanups.push(() => a.close(), () => b.close());
    await Promise.all([a.ready(), b.ready()]);

    await a.provisioning.provisionTenant({ orgId: 'acme' });
    expect(await ask(b, 'acme')).toBe(200); // cached by b for a minute

    // The link dies silently: b's socket stays open, so only the heartbeat can notice.
    await link.cut('blackhole');
    await a.provisioning.suspendTenant('acme'); // published, never delivered to b
    await until(() => sockets.closed > 0); // the heartbeat missed and b dropped the dead socket
    now += 500;
    expect(await ask(b, 'acme')).toBe(200); // stale, but within the degraded TTL of one second
    now += 1_000;
    expect(await ask(b, 'acme')).toBe(403); // re-read from the registry, not trusted for a minute

    // Still dead: a resumes the tenant, b misses that too.
    await a.provisioning.resumeTenant('acme');
    expect(await ask(b, 'acme')).toBe(403);

    // Back: b subscribes again and drops its cache, with its clock standing still.
    await link.restore();
    await until(async () => (await ask(b, 'acme')) === 200);
    await a.provisioning.suspendTenant('acme');
    await until(async () => (await ask(b, 'acme')) === 403); // delivered again
    await a.provisioning.resumeTenant('acme');
    await until(async () => (await ask(b, 'acme')) === 200);
    const record = (await a.registry.get('acme'))!;
    await a.registry.put({ ...record, status: 'suspended' }); // a change nobody publishes
    now += 5_000;
    expect(await ask(b, 'acme')).toBe(200); // the full TTL is trusted again
  });
});
