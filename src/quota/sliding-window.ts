/**
 * The counter math of the quota stores: a sliding-window counter and a fixed-window counter.
 * Pure functions of (state, now, request), with no clock and no I/O. The memory store runs them
 * in process; the Redis store's Lua scripts (`src/redis/scripts.ts`) mirror them operation by
 * operation, so both stores decide alike at the same instant.
 */
import type { CounterDecision, CounterRequest } from './types.js';

/**
 * State of one sliding-window counter.
 *
 * @example
 * const state: WindowState = { window: Math.floor(Date.now() / 60_000), curr: 3, prev: 10 };
 */
export interface WindowState {
  /** Index of the window the state belongs to: `floor(now / windowMs)`. */
  window: number;
  /** Units admitted in that window. */
  curr: number;
  /** Units admitted in the window before it. */
  prev: number;
}

/**
 * State of one fixed-window counter.
 *
 * @example
 * const state: FixedWindowState = { window: Math.floor(Date.now() / 86_400_000), count: 2 };
 */
export interface FixedWindowState {
  /** Index of the window: `floor(now / windowMs)`. */
  window: number;
  /** Units admitted in that window. */
  count: number;
}

/**
 * Applies one call to a sliding-window counter. Pure: `state` is not modified; the returned
 * state is a new object (its usage unchanged when the call is refused).
 *
 * The algorithm, exactly (the Redis Lua script does the same):
 * - `w = windowMs`, `cw = floor(now / w)`, `elapsed = now - cw * w`.
 * - Roll: if `state.window == cw` keep `curr`/`prev`; if `state.window == cw - 1` then
 *   `prev = state.curr, curr = 0`; otherwise (no state, older, or from the future after a
 *   clock step back) `prev = 0, curr = 0`.
 * - `usage = prev * (w - elapsed) / w + curr`.
 * - Allowed iff `cost == 0` (a read) or `usage + cost <= limit`. When allowed, `curr += cost`.
 * - `count` = `usage + cost` when allowed, `usage` when refused.
 * - `remaining = max(0, floor(limit - count))`.
 * - `resetMs` when allowed: `w - elapsed` (the end of the current window).
 * - `resetMs` when refused: the least integer `x ≥ 1` such that the same call would be allowed at
 *   `now + x` if nothing else happened meanwhile (the `Retry-After`). Estimate, then correct:
 *   - if `curr + cost <= limit`, the call fits once the previous window has faded enough, still
 *     in this window (usage is refused, so `prev > 0`):
 *     `x = max(1, ceil((w - elapsed) - (limit - curr - cost) * w / prev))`;
 *   - otherwise it has to wait into the next window, where the current `curr` becomes `prev`
 *     (`curr > 0` here, since `cost <= limit`):
 *     `x = (w - elapsed) + max(0, ceil(w - (limit - cost) * w / curr))`; with `limit == cost`
 *     that is the start of the window after next, where usage is 0.
 *   - Floating-point rounding could leave the estimate 1 ms off (not seen in testing; cheap to
 *     rule out): while `x > 1` and the call would already be allowed at `now + x - 1`, `x -= 1`;
 *     while it would not be allowed at `now + x`, `x += 1` (each check recomputes roll and usage
 *     as above at that instant; usage never grows without calls, so this finds the least `x`).
 *
 * What it guarantees: the units admitted in an interval inside one aligned window total at most
 * `limit`; in an interval that starts in one window and ends a fraction `a` (0 ≤ a < 1) into the
 * next, less than `limit × (1 + a)` (the last admission in the later window saw the earlier
 * window's total, weighted by 1 − a or more). So a burst across a window edge is held to about
 * `limit` (a fixed window admits 2 × `limit` there), but over a whole window length the bound is
 * `2 × limit − 1`, and it is reached without adversarial timing: the estimate assumes the
 * previous window's units were spread evenly, so a client that starts hammering 80% into a window
 * gets `limit` by its end and about 0.8 × `limit` more before the same point of the next window.
 * Under steady traffic the excess is much smaller (from a few percent to about 20% of `limit` in
 * the measurements of `test/quota-sliding-window.test.ts`, which prints them).
 *
 * @throws {TypeError} when `limit` or `windowMs` is not an integer ≥ 1, `cost` not an integer
 *   from 0 to `limit`, or `now` not a finite number (the message names the field).
 *
 * @example
 * let state: WindowState | undefined;
 * const step = slidingWindowStep(state, Date.now(), { key: 'k', limit: 60, windowMs: 60_000, cost: 1 });
 * state = step.state;
 * if (!step.decision.allowed) retryAfterSeconds = Math.ceil(step.decision.resetMs / 1000);
 */
export function slidingWindowStep(
  state: WindowState | undefined,
  now: number,
  request: CounterRequest,
): { state: WindowState; decision: CounterDecision } {
  checkRequest('slidingWindow', now, request);
  const next: WindowState =
    state === undefined ? { window: Number.NaN, curr: 0, prev: 0 } : { window: state.window, curr: state.curr, prev: state.prev };
  const decision = sliding(next, now, request.limit, request.windowMs, request.cost);
  return { state: next, decision };
}

/**
 * The same as `slidingWindowStep`, but updates `state` in place (rolled to the current window,
 * `curr` increased when allowed) and returns only the decision. For stores that keep one state
 * object per key and want no allocation beyond the decision. `slidingWindowStep` is the reference;
 * both compute the same.
 *
 * A fresh counter is `{ window: NaN, curr: 0, prev: 0 }` (NaN matches no window).
 *
 * @throws {TypeError} as `slidingWindowStep`, before touching `state`.
 *
 * @example
 * const state: WindowState = { window: NaN, curr: 0, prev: 0 };
 * const decision = applySlidingWindow(state, Date.now(), { key: 'k', limit: 60, windowMs: 60_000, cost: 1 });
 */
export function applySlidingWindow(state: WindowState, now: number, request: CounterRequest): CounterDecision {
  checkRequest('slidingWindow', now, request);
  return sliding(state, now, request.limit, request.windowMs, request.cost);
}

/**
 * Applies one call to a fixed-window counter (windows aligned on multiples of `windowMs` since
 * the epoch, so `windowMs = 86_400_000` counts per UTC day). Pure: returns a new state.
 *
 * - `cw = floor(now / w)`, `elapsed = now - cw * w`; the count restarts at 0 when the window
 *   changes.
 * - Allowed iff `count + cost <= limit`; then `count += cost`.
 * - `remaining = max(0, limit - count)` (after the call when allowed).
 * - `resetMs = w - elapsed` (the start of the next window) when allowed; when refused, the same
 *   rounded up to a whole ms and at least 1 (equal to `w - elapsed` for an integer `now`).
 * - `count` in the decision: after the call when allowed, the refusing count when not.
 *
 * @throws {TypeError} as `slidingWindowStep`.
 *
 * @example
 * const day = 86_400_000;
 * const { state, decision } = fixedWindowStep(undefined, Date.now(), { key: 'k', limit: 10, windowMs: day, cost: 1 });
 */
export function fixedWindowStep(
  state: FixedWindowState | undefined,
  now: number,
  request: CounterRequest,
): { state: FixedWindowState; decision: CounterDecision } {
  checkRequest('fixedWindow', now, request);
  const next: FixedWindowState = state === undefined ? { window: Number.NaN, count: 0 } : { window: state.window, count: state.count };
  const decision = fixed(next, now, request.limit, request.windowMs, request.cost);
  return { state: next, decision };
}

/**
 * The in-place variant of `fixedWindowStep` (see `applySlidingWindow`). A fresh counter is
 * `{ window: NaN, count: 0 }`.
 *
 * @example
 * const state: FixedWindowState = { window: NaN, count: 0 };
 * const decision = applyFixedWindow(state, Date.now(), { key: 'k', limit: 10, windowMs: 86_400_000, cost: 1 });
 */
export function applyFixedWindow(state: FixedWindowState, now: number, request: CounterRequest): CounterDecision {
  checkRequest('fixedWindow', now, request);
  return fixed(state, now, request.limit, request.windowMs, request.cost);
}

function checkRequest(method: string, now: number, request: CounterRequest): void {
  const { limit, windowMs, cost } = request;
  if (!Number.isInteger(limit) || limit < 1) throw new TypeError(`${method}: limit must be an integer ≥ 1, got ${String(limit)}`);
  if (!Number.isInteger(windowMs) || windowMs < 1) throw new TypeError(`${method}: windowMs must be an integer ≥ 1, got ${String(windowMs)}`);
  if (!Number.isInteger(cost) || cost < 0 || cost > limit) {
    throw new TypeError(`${method}: cost must be an integer from 0 to limit (${limit}), got ${String(cost)}`);
  }
  if (typeof now !== 'number' || !Number.isFinite(now)) throw new TypeError(`${method}: now must be a finite number, got ${String(now)}`);
}

function sliding(state: WindowState, now: number, limit: number, w: number, cost: number): CounterDecision {
  const cw = Math.floor(now / w);
  const elapsed = now - cw * w;
  if (state.window !== cw) {
    state.prev = state.window === cw - 1 ? state.curr : 0;
    state.curr = 0;
    state.window = cw;
  }
  const curr = state.curr;
  const prev = state.prev;
  const usage = (prev * (w - elapsed)) / w + curr;
  if (cost === 0 || usage + cost <= limit) {
    state.curr = curr + cost;
    const count = usage + cost;
    return { allowed: true, limit, remaining: Math.max(0, Math.floor(limit - count)), resetMs: w - elapsed, count };
  }
  return { allowed: false, limit, remaining: Math.max(0, Math.floor(limit - usage)), resetMs: retryAfter(cw, curr, prev, now, elapsed, limit, w, cost), count: usage };
}

/** The least whole x ≥ 1 (ms) at which a call of `cost` would be allowed (see `slidingWindowStep`). */
function retryAfter(cw: number, curr: number, prev: number, now: number, elapsed: number, limit: number, w: number, cost: number): number {
  let x: number;
  if (curr + cost <= limit) {
    x = Math.max(1, Math.ceil(w - elapsed - ((limit - curr - cost) * w) / prev));
  } else {
    x = w - elapsed + Math.max(0, Math.ceil(w - ((limit - cost) * w) / curr));
  }
  x = Math.max(1, Math.ceil(x));
  while (x > 1 && allowedAt(cw, curr, prev, now + x - 1, limit, w, cost)) x -= 1;
  while (!allowedAt(cw, curr, prev, now + x, limit, w, cost)) x += 1;
  return x;
}

/** Whether a call of `cost` would be allowed at `t`, with the counter at (`cw`, `curr`, `prev`). */
function allowedAt(cw: number, curr: number, prev: number, t: number, limit: number, w: number, cost: number): boolean {
  const tw = Math.floor(t / w);
  const elapsed = t - tw * w;
  let c = curr;
  let p = prev;
  if (tw !== cw) {
    p = tw === cw + 1 ? curr : 0;
    c = 0;
  }
  return (p * (w - elapsed)) / w + c + cost <= limit;
}

function fixed(state: FixedWindowState, now: number, limit: number, w: number, cost: number): CounterDecision {
  const cw = Math.floor(now / w);
  const elapsed = now - cw * w;
  if (state.window !== cw) {
    state.window = cw;
    state.count = 0;
  }
  const count = state.count;
  if (count + cost <= limit) {
    state.count = count + cost;
    return { allowed: true, limit, remaining: Math.max(0, limit - count - cost), resetMs: w - elapsed, count: count + cost };
  }
  return { allowed: false, limit, remaining: Math.max(0, limit - count), resetMs: Math.max(1, Math.ceil(w - elapsed)), count };
}
