import { afterEach, describe, expect, it, vi } from 'vitest';
import { poolFixture } from './helpers/pool.js';

const { connection, recordingPool } = poolFixture();
afterEach(() => {
  vi.useRealTimers();
});

/** A fake millisecond clock starting at 0 (the pool must cope with a clock that starts at 0). */
function fakeClock() {
  let time = 0;
  return {
    now: () => time,
    advance: (ms: number) => {
      time += ms;
    },
  };
}

describe('ClientPool idle TTL', () => {
  it('closes a client idle for longer than idleTtlMs when the pool purges', async () => {
    const clock = fakeClock();
    const { pool, opened, evicted } = recordingPool({ idleTtlMs: 1_000, now: clock.now });
    pool.acquire('a', connection('a')).release();

    clock.advance(1_000);
    expect(pool.purgeStale()).toBe(0); // exactly idleTtlMs old: still fresh
    expect(opened[0]?.closes).toBe(0);

    clock.advance(1);
    expect(pool.purgeStale()).toBe(1);
    expect(opened[0]?.closes).toBe(1);
    expect(evicted).toEqual([['a', 'expire']]);
    expect(pool.stats()).toMatchObject({ size: 0, evictions: 1, closed: 1 });
    await pool.close();
  });

  it('restarts the idle age of a client on every acquire', async () => {
    const clock = fakeClock();
    const { pool, opened } = recordingPool({ idleTtlMs: 1_000, now: clock.now });
    pool.acquire('a', connection('a')).release();
    clock.advance(600);
    pool.acquire('a', connection('a')).release();
    clock.advance(600);
    expect(pool.purgeStale()).toBe(0);
    expect(opened[0]?.closes).toBe(0);
    clock.advance(401);
    expect(pool.purgeStale()).toBe(1);
    await pool.close();
  });

  it('does not expire a leased client, and restarts its idle age when it is released', async () => {
    const clock = fakeClock();
    const { pool, opened, evicted } = recordingPool({ idleTtlMs: 1_000, now: clock.now });
    const busy = pool.acquire('a', connection('a'));
    pool.acquire('b', connection('b')).release();

    clock.advance(5_000);
    expect(pool.purgeStale()).toBe(1); // only the idle b
    expect(evicted).toEqual([['b', 'expire']]);
    expect(opened[0]?.closes).toBe(0);
    expect((await busy.client.execute('select 1 as one')).rows[0]?.one).toBe(1);

    clock.advance(5_000);
    const again = pool.acquire('a', connection('a')); // still pooled: a hit, not a new client
    expect(again.client).toBe(busy.client);
    expect(pool.stats()).toMatchObject({ hits: 1, opens: 2 });
    again.release();

    clock.advance(5_000);
    busy.release(); // the end of the use counts as use
    clock.advance(1_000);
    expect(pool.purgeStale()).toBe(0);
    clock.advance(1);
    expect(pool.purgeStale()).toBe(1);
    expect(opened[0]?.closes).toBe(1);
    await pool.close();
  });

  it('opens a new client when the pooled one expired before the sweeper ran', async () => {
    const clock = fakeClock();
    const { pool, opened, evicted } = recordingPool({ idleTtlMs: 1_000, now: clock.now });
    pool.acquire('a', connection('a')).release();
    clock.advance(1_001);
    const lease = pool.acquire('a', connection('a'));
    expect(evicted).toEqual([['a', 'expire']]);
    expect(opened).toHaveLength(2);
    expect(opened[0]?.closes).toBe(1);
    expect(pool.stats()).toMatchObject({ misses: 2, hits: 0, size: 1 });
    lease.release();
    await pool.close();
  });

  it('sweeps on an interval of its own that starts with the first client and stops on close', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const clock = fakeClock();
    const { pool, opened } = recordingPool({ idleTtlMs: 1_000, sweepIntervalMs: 250, now: clock.now });
    expect(vi.getTimerCount()).toBe(0);

    pool.acquire('a', connection('a')).release();
    pool.acquire('b', connection('b')).release();
    expect(vi.getTimerCount()).toBe(1); // one timer for the pool, none per client

    clock.advance(1_001);
    vi.advanceTimersByTime(249);
    expect(opened.map((o) => o.closes)).toEqual([0, 0]);
    vi.advanceTimersByTime(1);
    expect(opened.map((o) => o.closes)).toEqual([1, 1]);

    await pool.close();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('sweeps every idleTtlMs by default when that is under a minute', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const clock = fakeClock();
    const { pool, opened } = recordingPool({ idleTtlMs: 2_000, now: clock.now });
    pool.acquire('a', connection('a')).release();
    clock.advance(2_001);
    vi.advanceTimersByTime(1_999);
    expect(opened[0]?.closes).toBe(0);
    vi.advanceTimersByTime(1);
    expect(opened[0]?.closes).toBe(1);
    await pool.close();
  });
});
