import { describe, expect, it } from 'vitest';
import { fixedWindowStep, slidingWindowStep, type FixedWindowState, type WindowState } from '../src/quota/sliding-window.js';
import type { CounterRequest } from '../src/quota/types.js';

/** mulberry32: a small seeded PRNG, so every run sees the same "random" cases. */
function prng(seed: number): () => number {
  let s = seed | 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const req = (limit: number, windowMs: number, cost = 1): CounterRequest => ({ key: 'k', limit, windowMs, cost });

/** A counter driven by a fake clock; records every admitted call as [time, cost]. */
function counter(limit: number, windowMs: number) {
  let state: WindowState | undefined;
  const admitted: Array<[number, number]> = [];
  return {
    admitted,
    call(now: number, cost = 1) {
      const step = slidingWindowStep(state, now, req(limit, windowMs, cost));
      state = step.state;
      if (step.decision.allowed && cost > 0) admitted.push([now, cost]);
      return step.decision;
    },
  };
}

/** Most units admitted in any interval [t, t + d) (the maximum is reached with t at a call). */
function maxInAnyInterval(admitted: Array<[number, number]>, d: number): { units: number; at: number } {
  let best = { units: 0, at: 0 };
  let sum = 0;
  let j = 0;
  for (let i = 0; i < admitted.length; i++) {
    while (j < admitted.length && admitted[j]![0] < admitted[i]![0] + d) sum += admitted[j++]![1];
    if (sum > best.units) best = { units: sum, at: admitted[i]![0] };
    sum -= admitted[i]![1];
  }
  return best;
}

/**
 * Checks the documented bound on every interval that starts at admitted call i and ends just
 * after call j within one window length: at most `limit` if both calls are in one aligned
 * window, else less than `limit × (1 + a)`, with `a` the fraction of its window call j is at.
 */
function assertDocumentedBound(admitted: Array<[number, number]>, limit: number, w: number): void {
  for (let i = 0; i < admitted.length; i++) {
    const start = admitted[i]![0];
    let units = 0;
    for (let j = i; j < admitted.length && admitted[j]![0] < start + w; j++) {
      const t = admitted[j]![0];
      units += admitted[j]![1];
      const sameWindow = Math.floor(t / w) === Math.floor(start / w);
      const bound = sameWindow ? limit : limit * (1 + (t - Math.floor(t / w) * w) / w);
      if (sameWindow ? units > bound : units >= bound + 1e-9) {
        throw new Error(`bound broken: ${units} units in [${start}, ${t}] > ${bound}`);
      }
    }
  }
}

describe('sliding window: the window edge', () => {
  it('admits 60 calls at 59.9 s and almost none at 60.1 s with a limit of 60 per minute (no 2x burst)', () => {
    const c = counter(60, 60_000);
    for (let i = 0; i < 60; i++) expect(c.call(59_900).allowed).toBe(true);
    expect(c.call(59_900).allowed).toBe(false);

    let more = 0;
    for (let i = 0; i < 60; i++) if (c.call(60_100).allowed) more++;
    expect(more).toBe(0); // usage = 60 × 59.9/60 = 59.9: not even one more

    // The previous minute fades linearly: one unit per second frees up.
    expect(c.call(61_000).allowed).toBe(true);
    expect(c.call(61_000).allowed).toBe(false);
    expect(c.call(62_000).allowed).toBe(true);
  });

  it('reports usage, remaining and the end of the window when allowed', () => {
    const c = counter(60, 60_000);
    for (let i = 0; i < 30; i++) c.call(59_000);
    const d = c.call(90_000); // prev 30 at half weight, curr 0, plus this call
    expect(d).toEqual({ allowed: true, limit: 60, remaining: 44, resetMs: 30_000, count: 16 });
  });

  it('forgets the previous window after two windows without calls', () => {
    const c = counter(10, 1000);
    for (let i = 0; i < 10; i++) c.call(999);
    expect(c.call(1000).allowed).toBe(false);
    const d = c.call(2000);
    expect(d).toMatchObject({ allowed: true, count: 1, remaining: 9 });
  });
});

describe('sliding window: how much any interval of one window length admits', () => {
  it('reaches 2 × limit − 1 over a window length when a client starts hammering at the end of a window', () => {
    // The documented worst case, and not an exotic one: all of window 0's limit is used in its
    // last ms, then window 1 assumes those calls were spread evenly over window 0.
    const limit = 60;
    const w = 60_000;
    const c = counter(limit, w);
    for (let t = 59_999; t < 120_000; t++) while (c.call(t).allowed);
    const worst = maxInAnyInterval(c.admitted, w);
    expect(worst.units).toBe(2 * limit - 1);
    assertDocumentedBound(c.admitted, limit, w);
  });

  it('stays within the documented bound under random load, and the worst excess is measured', () => {
    const report: string[] = [];
    let worstExcess = 0;
    for (const scenario of ['steady', 'onset', 'bursty'] as const) {
      let byRatio = { ratio: 0, limit: 0, units: 0 };
      let byUnits = { excess: 0, limit: 0, units: 0 };
      for (let run = 0; run < 60; run++) {
        const rnd = prng(1000 * run + scenario.length);
        const w = 10_000;
        const limit = 5 + Math.floor(rnd() * 96);
        const load = 0.8 + rnd() * 4; // offered units per window, in limits
        const c = counter(limit, w);
        let t = Math.floor(rnd() * w);
        const calls = Math.round(limit * load * 12);
        for (let i = 0; i < calls; i++) {
          const cost = rnd() < 0.8 ? 1 : 1 + Math.floor(rnd() * Math.min(limit, 5));
          if (scenario === 'bursty') t += rnd() < 0.02 ? Math.floor(rnd() * 2 * w) : Math.floor(rnd() * 3);
          else t += Math.floor((-Math.log(1 - rnd()) * w) / (limit * load)); // Poisson arrivals
          c.call(t, cost);
        }
        assertDocumentedBound(c.admitted, limit, w);
        // 'steady': intervals after the first three windows; 'onset': from an idle start.
        const from = scenario === 'steady' ? c.admitted.filter(([at]) => at >= 3 * w) : c.admitted;
        const m = maxInAnyInterval(from, w);
        expect(m.units).toBeLessThanOrEqual(2 * limit - 1);
        if (m.units / limit > byRatio.ratio) byRatio = { ratio: m.units / limit, limit, units: m.units };
        if (m.units - limit > byUnits.excess) byUnits = { excess: m.units - limit, limit, units: m.units };
      }
      worstExcess = Math.max(worstExcess, byUnits.excess);
      report.push(
        `${scenario}: worst ratio ${byRatio.units} units / limit ${byRatio.limit} (+${(byRatio.ratio * 100 - 100).toFixed(1)}%); ` +
          `worst excess +${byUnits.excess} units (${byUnits.units} / limit ${byUnits.limit})`,
      );
    }
    console.log(`sliding window overshoot over any [t, t + w):\n  ${report.join('\n  ')}`);
    expect(worstExcess).toBeGreaterThan(0); // the measurement is live, not vacuous
  });
});

describe('sliding window: weights and reads', () => {
  it('counts a call of cost 5 as 5 units', () => {
    const c = counter(10, 1000);
    expect(c.call(0, 5)).toMatchObject({ allowed: true, count: 5, remaining: 5 });
    expect(c.call(1, 5)).toMatchObject({ allowed: true, count: 10, remaining: 0 });
    expect(c.call(2, 1)).toMatchObject({ allowed: false, count: 10, remaining: 0 });
  });

  it('refuses a weighted call that does not fit although a smaller one would', () => {
    const c = counter(10, 1000);
    c.call(0, 7);
    expect(c.call(1, 5).allowed).toBe(false);
    expect(c.call(1, 3)).toMatchObject({ allowed: true, count: 10 });
  });

  it('reads with cost 0 without consuming, even when the limit is used up', () => {
    const c = counter(10, 1000);
    c.call(500, 10);
    const read = c.call(600, 0);
    expect(read).toEqual({ allowed: true, limit: 10, remaining: 0, resetMs: 400, count: 10 });
    expect(c.call(700, 0).count).toBe(10);
    const fresh = slidingWindowStep(undefined, 600, req(10, 1000, 0));
    expect(fresh.decision).toEqual({ allowed: true, limit: 10, remaining: 10, resetMs: 400, count: 0 });
  });

  it('does not modify the state it is given', () => {
    const state: WindowState = { window: 3, curr: 4, prev: 2 };
    const step = slidingWindowStep(state, 3500, req(10, 1000, 1));
    expect(state).toEqual({ window: 3, curr: 4, prev: 2 });
    expect(step.state).toEqual({ window: 3, curr: 5, prev: 2 });
    const refused = slidingWindowStep(step.state, 3600, req(10, 1000, 10));
    expect(refused.decision.allowed).toBe(false);
    expect(refused.state).toEqual({ window: 3, curr: 5, prev: 2 });
  });
});

describe('sliding window: resetMs after a refusal', () => {
  function allowedAt(state: WindowState, now: number, r: CounterRequest): boolean {
    return slidingWindowStep(state, now, r).decision.allowed;
  }

  it('is the least wait after which the same call is allowed, for many random states', () => {
    const rnd = prng(42);
    let refusals = 0;
    for (let i = 0; i < 50_000; i++) {
      const w = [1, 2, 3, 7, 60, 1000, 60_000, 86_400_000, 999_983][Math.floor(rnd() * 9)]!;
      const limit = 1 + Math.floor(rnd() * [3, 100, 100_000][Math.floor(rnd() * 3)]!);
      const cost = rnd() < 0.5 ? 1 : 1 + Math.floor(rnd() * limit);
      const window = Math.floor(rnd() * 3e7);
      const state: WindowState = { window, curr: Math.floor(rnd() * (limit + 1)), prev: Math.floor(rnd() * (limit + 1)) };
      const now = window * w + Math.floor(rnd() * w);
      const r = req(limit, w, cost);
      const { decision } = slidingWindowStep(state, now, r);
      if (decision.allowed) continue;
      refusals++;
      expect(Number.isInteger(decision.resetMs)).toBe(true);
      expect(decision.resetMs).toBeGreaterThanOrEqual(1);
      if (decision.resetMs > 1) expect(allowedAt(state, now + decision.resetMs - 1, r)).toBe(false);
      expect(allowedAt(state, now + decision.resetMs, r)).toBe(true);
    }
    expect(refusals).toBeGreaterThan(10_000);
  });

  it('agrees with stepping the clock 1 ms at a time, for small windows', () => {
    const rnd = prng(7);
    for (let i = 0; i < 3000; i++) {
      const w = 1 + Math.floor(rnd() * 40);
      const limit = 1 + Math.floor(rnd() * 12);
      const cost = 1 + Math.floor(rnd() * limit);
      const state: WindowState = { window: 10, curr: Math.floor(rnd() * (limit + 1)), prev: Math.floor(rnd() * (limit + 1)) };
      const now = 10 * w + Math.floor(rnd() * w);
      const r = req(limit, w, cost);
      const { decision } = slidingWindowStep(state, now, r);
      if (decision.allowed) continue;
      let x = 1;
      while (!allowedAt(state, now + x, r)) x++;
      expect({ state, now, limit, w, cost, resetMs: decision.resetMs }).toEqual({ state, now, limit, w, cost, resetMs: x });
    }
  });

  it('covers the edges: cost equal to the limit, an empty current window, a window of 1 ms', () => {
    // cost == limit with curr > 0: wait until the window after next, where usage is 0.
    const full = slidingWindowStep({ window: 0, curr: 1, prev: 0 }, 10, req(5, 100, 5));
    expect(full.decision).toMatchObject({ allowed: false, resetMs: 190 });
    // curr == 0 and refused: only the previous window weighs; it fades within this window.
    const fading = slidingWindowStep({ window: 1, curr: 0, prev: 10 }, 100, req(10, 100, 5));
    expect(fading.decision).toMatchObject({ allowed: false, count: 10, resetMs: 50 });
    // w = 1: every ms is a new window.
    const tiny = slidingWindowStep({ window: 5, curr: 1, prev: 0 }, 5, req(1, 1, 1));
    expect(tiny.decision).toMatchObject({ allowed: false, resetMs: 2 });
  });

  it('gives a Retry-After of about one second per unit after the 60 s edge burst', () => {
    const c = counter(60, 60_000);
    for (let i = 0; i < 60; i++) c.call(59_900);
    const d = c.call(60_100);
    expect(d).toMatchObject({ allowed: false, remaining: 0, resetMs: 900 });
    expect(c.call(60_100 + 899).allowed).toBe(false);
    expect(c.call(60_100 + 900).allowed).toBe(true);
  });
});

describe('fixed window', () => {
  const DAY = 86_400_000;

  it('counts per aligned window and starts over at the UTC day boundary', () => {
    let state: FixedWindowState | undefined;
    const call = (now: number, cost = 1) => {
      const step = fixedWindowStep(state, now, req(3, DAY, cost));
      state = step.state;
      return step.decision;
    };
    const morning = Date.UTC(2025, 2, 14, 9, 0, 0);
    const lastMs = Date.UTC(2025, 2, 14, 23, 59, 59, 999);
    const midnight = Date.UTC(2025, 2, 15);
    expect(call(morning)).toEqual({ allowed: true, limit: 3, remaining: 2, resetMs: midnight - morning, count: 1 });
    expect(call(morning + 1, 2)).toMatchObject({ allowed: true, remaining: 0, count: 3 });
    expect(call(lastMs)).toEqual({ allowed: false, limit: 3, remaining: 0, resetMs: 1, count: 3 });
    expect(call(midnight)).toEqual({ allowed: true, limit: 3, remaining: 2, resetMs: DAY, count: 1 });
  });

  it('refuses with the time to the next window, and reads with cost 0', () => {
    let state: FixedWindowState | undefined = { window: 0, count: 10 };
    const refused = fixedWindowStep(state, 250, req(10, 1000, 1));
    expect(refused.decision).toEqual({ allowed: false, limit: 10, remaining: 0, resetMs: 750, count: 10 });
    state = refused.state;
    expect(fixedWindowStep(state, 260, req(10, 1000, 0)).decision).toMatchObject({ allowed: true, count: 10, remaining: 0 });
    expect(state).toEqual({ window: 0, count: 10 });
  });

  it('allows a burst of 2 × limit across an edge (which is what the sliding window prevents)', () => {
    let state: FixedWindowState | undefined;
    let admitted = 0;
    for (const now of [999, 1000]) {
      for (let i = 0; i < 10; i++) {
        const step = fixedWindowStep(state, now, req(10, 1000, 1));
        state = step.state;
        if (step.decision.allowed) admitted++;
      }
    }
    expect(admitted).toBe(20);
  });
});

describe('validation', () => {
  const cases: Array<[string, CounterRequest, number, RegExp]> = [
    ['limit 0', req(0, 1000, 0), 0, /limit must be an integer ≥ 1, got 0/],
    ['limit 1.5', req(1.5, 1000, 1), 0, /limit must be/],
    ['limit NaN', req(Number.NaN, 1000, 1), 0, /limit must be/],
    ['windowMs 0', req(10, 0, 1), 0, /windowMs must be an integer ≥ 1/],
    ['windowMs 0.5', req(10, 0.5, 1), 0, /windowMs must be/],
    ['cost -1', req(10, 1000, -1), 0, /cost must be an integer from 0 to limit \(10\), got -1/],
    ['cost above limit', req(10, 1000, 11), 0, /cost must be .* got 11/],
    ['cost 0.5', req(10, 1000, 0.5), 0, /cost must be/],
    ['cost as a string', { key: 'k', limit: 10, windowMs: 1000, cost: '1' as unknown as number }, 0, /cost must be/],
    ['now NaN', req(10, 1000, 1), Number.NaN, /now must be a finite number/],
    ['now Infinity', req(10, 1000, 1), Number.POSITIVE_INFINITY, /now must be a finite number/],
  ];

  it.each(cases)('throws a TypeError naming the field for %s', (_name, request, now, message) => {
    expect(() => slidingWindowStep(undefined, now, request)).toThrow(TypeError);
    expect(() => slidingWindowStep(undefined, now, request)).toThrow(message);
    expect(() => fixedWindowStep(undefined, now, request)).toThrow(message);
  });

  it('names the algorithm in the message', () => {
    expect(() => slidingWindowStep(undefined, 0, req(10, 1000, 11))).toThrow(/^slidingWindow: cost/);
    expect(() => fixedWindowStep(undefined, 0, req(10, 1000, 11))).toThrow(/^fixedWindow: cost/);
  });
});
