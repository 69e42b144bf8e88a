import { afterEach, describe, expect, it, vi } from 'vitest';
import { memoryQuotaStore } from '../src/quota/memory-store.js';
import { fixedWindowStep, slidingWindowStep, type FixedWindowState, type WindowState } from '../src/quota/sliding-window.js';
import { quotaKey, type CounterRequest } from '../src/quota/types.js';

function prng(seed: number): () => number {
  let s = seed | 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A store on a fake clock the test moves by hand. */
function clocked(options: { maxKeys?: number; start?: number } = {}) {
  const clock = { now: options.start ?? 1_700_000_000_000 };
  const store = memoryQuotaStore({ now: () => clock.now, ...(options.maxKeys === undefined ? {} : { maxKeys: options.maxKeys }) });
  return { clock, store };
}

const rate = (key: string, cost = 1, limit = 5, windowMs = 1000): CounterRequest => ({ key, limit, windowMs, cost });

afterEach(() => {
  vi.useRealTimers();
});

describe('memory quota store', () => {
  it('decides exactly as the pure step functions, key by key', () => {
    const rnd = prng(2024);
    const { clock, store } = clocked();
    const sliding = new Map<string, WindowState | undefined>();
    const fixed = new Map<string, FixedWindowState | undefined>();
    for (let i = 0; i < 20_000; i++) {
      clock.now += Math.floor(rnd() * 300);
      const key = `k${Math.floor(rnd() * 8)}`;
      const limit = 1 + (key.charCodeAt(1) % 7) * 3;
      const windowMs = [1000, 60_000, 1][key.charCodeAt(1) % 3]!;
      const cost = rnd() < 0.1 ? 0 : 1 + Math.floor(rnd() * Math.min(limit, 3));
      if (rnd() < 0.5) {
        const request = { key: `s:${key}`, limit, windowMs, cost };
        const expected = slidingWindowStep(sliding.get(key), clock.now, request);
        sliding.set(key, expected.state);
        expect(store.slidingWindow(request)).toEqual(expected.decision);
      } else {
        const request = { key: `f:${key}`, limit, windowMs, cost };
        const expected = fixedWindowStep(fixed.get(key), clock.now, request);
        fixed.set(key, expected.state);
        expect(store.fixedWindow(request)).toEqual(expected.decision);
      }
    }
  });

  it('answers synchronously, with a decision and not a promise', () => {
    const { store } = clocked();
    expect(store.name).toBe('memory');
    const decision = store.slidingWindow(rate('a'));
    expect(decision).not.toBeInstanceOf(Promise);
    expect(decision).toEqual({ allowed: true, limit: 5, remaining: 4, resetMs: 1000, count: 1 });
    expect(store.fixedWindow(rate('b'))).toEqual({ allowed: true, limit: 5, remaining: 4, resetMs: 1000, count: 1 });
  });

  it('keeps the counters of different keys apart', () => {
    const { store } = clocked();
    const acme = quotaKey('acme', 'apiRateLimit');
    const globex = quotaKey('globex', 'apiRateLimit');
    for (let i = 0; i < 5; i++) store.slidingWindow(rate(acme));
    expect(store.slidingWindow(rate(acme)).allowed).toBe(false);
    expect(store.slidingWindow(rate(globex))).toMatchObject({ allowed: true, count: 1 });
    expect(store.fixedWindow(rate(quotaKey('acme', 'maxDeploymentsPerDay')))).toMatchObject({ allowed: true, count: 1 });
  });

  it('holds at most maxKeys counters and starts an evicted key over', () => {
    const { store } = clocked({ maxKeys: 3 });
    for (let i = 0; i < 5; i++) store.slidingWindow(rate('first'));
    expect(store.slidingWindow(rate('first')).allowed).toBe(false);
    for (let i = 0; i < 100; i++) {
      store.slidingWindow(rate(`other-${i}`));
      expect(store.size).toBeLessThanOrEqual(3);
    }
    expect(store.size).toBe(3);
    expect(store.slidingWindow(rate('first'))).toMatchObject({ allowed: true, count: 1 });
  });

  it('evicts the least recently used key, not the busiest', () => {
    const { store } = clocked({ maxKeys: 2 });
    for (let i = 0; i < 5; i++) store.slidingWindow(rate('hot'));
    store.slidingWindow(rate('cold'));
    store.slidingWindow(rate('hot', 0)); // a read also marks the key as used
    store.slidingWindow(rate('new'));
    expect(store.slidingWindow(rate('hot')).allowed).toBe(false);
    expect(store.slidingWindow(rate('cold', 0)).count).toBe(0);
  });

  it('stores nothing for a read of an unknown key', () => {
    const { store } = clocked();
    expect(store.slidingWindow(rate('a', 0))).toEqual({ allowed: true, limit: 5, remaining: 5, resetMs: 1000, count: 0 });
    expect(store.fixedWindow(rate('b', 0))).toMatchObject({ allowed: true, count: 0 });
    expect(store.size).toBe(0);
  });

  it('rolls windows on the injected clock', () => {
    const { clock, store } = clocked({ start: 10_000 });
    for (let i = 0; i < 5; i++) store.slidingWindow(rate('a'));
    // Full: wait for the next window (1000 ms), where these 5 fade one unit per 200 ms.
    expect(store.slidingWindow(rate('a'))).toMatchObject({ allowed: false, resetMs: 1200 });
    clock.now += 1000;
    expect(store.slidingWindow(rate('a'))).toMatchObject({ allowed: false, count: 5, resetMs: 200 });
    clock.now += 200;
    expect(store.slidingWindow(rate('a'))).toMatchObject({ allowed: true, count: 5 });
    clock.now += 2000;
    expect(store.slidingWindow(rate('a'))).toMatchObject({ allowed: true, count: 1 });
  });

  it('uses Date.now by default', () => {
    vi.useFakeTimers({ now: Date.UTC(2025, 0, 1, 12, 0, 0, 250) });
    const store = memoryQuotaStore();
    expect(store.fixedWindow(rate('a', 1, 5, 1000))).toMatchObject({ allowed: true, resetMs: 750 });
  });

  it('starts no timers', () => {
    vi.useFakeTimers();
    const store = memoryQuotaStore({ maxKeys: 10 });
    for (let i = 0; i < 50; i++) {
      store.slidingWindow(rate(`k${i}`));
      store.fixedWindow(rate(`f${i}`));
    }
    expect(vi.getTimerCount()).toBe(0);
  });

  it('forgets every counter on close() and keeps working', async () => {
    const { store } = clocked();
    for (let i = 0; i < 5; i++) store.slidingWindow(rate('a'));
    await store.close();
    expect(store.size).toBe(0);
    expect(store.slidingWindow(rate('a'))).toMatchObject({ allowed: true, count: 1 });
  });

  it('starts a key over when it is used with the other algorithm', () => {
    const { store } = clocked();
    for (let i = 0; i < 5; i++) store.slidingWindow(rate('a'));
    expect(store.fixedWindow(rate('a'))).toMatchObject({ allowed: true, count: 1 });
    expect(store.size).toBe(1);
  });

  it('throws a TypeError naming the field for a bad request, and stores nothing', () => {
    const { store } = clocked();
    expect(() => store.slidingWindow(rate('a', 6))).toThrow(/^slidingWindow: cost must be an integer from 0 to limit \(5\), got 6$/);
    expect(() => store.fixedWindow(rate('a', 1, 0))).toThrow(TypeError);
    expect(() => store.fixedWindow(rate('a', 1, 0))).toThrow(/limit must be/);
    expect(() => store.slidingWindow({ key: 42 as unknown as string, limit: 5, windowMs: 1000, cost: 1 })).toThrow(/key must be a string/);
    expect(store.size).toBe(0);
    const broken = memoryQuotaStore({ now: () => Number.NaN });
    expect(() => broken.slidingWindow(rate('a'))).toThrow(/now must be a finite number/);
    expect(broken.size).toBe(0);
  });

  it.each([
    [{ maxKeys: 0 }, /maxKeys must be an integer ≥ 1, got 0/],
    [{ maxKeys: 1.5 }, /maxKeys must be/],
    [{ maxKeys: Number.POSITIVE_INFINITY }, /maxKeys must be/],
    [{ maxKeys: '10' as unknown as number }, /maxKeys must be/],
    [{ now: 123 as unknown as () => number }, /now must be a function/],
    [null as unknown as object, /options must be an object/],
  ])('refuses options %o at creation', (options, message) => {
    expect(() => memoryQuotaStore(options)).toThrow(TypeError);
    expect(() => memoryQuotaStore(options)).toThrow(message);
  });

  it('takes well under a microsecond per call (measured, not asserted)', () => {
    const store = memoryQuotaStore();
    const keys = Array.from({ length: 1000 }, (_, i) => quotaKey(`tenant-${i}`, 'apiRateLimit'));
    const requests = keys.map((key) => ({ key, limit: 600, windowMs: 60_000, cost: 1 }));
    const calls = 1_000_000;
    let allowed = 0;
    for (let i = 0; i < 200_000; i++) store.slidingWindow(requests[i % 1000]!); // warm up
    const started = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) if (store.slidingWindow(requests[i % 1000]!).allowed) allowed++;
    const ns = Number(process.hrtime.bigint() - started) / calls;
    const fixedStarted = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) store.fixedWindow({ key: keys[i % 1000]!, limit: 600, windowMs: 86_400_000, cost: 1 });
    const fixedNs = Number(process.hrtime.bigint() - fixedStarted) / calls;
    console.log(
      `memory store: slidingWindow ${ns.toFixed(0)} ns/call, fixedWindow ${fixedNs.toFixed(0)} ns/call ` +
        `(${calls} calls over 1000 keys, Date.now clock; ${allowed} allowed)`,
    );
    expect(allowed).toBeGreaterThan(0);
  });
});
