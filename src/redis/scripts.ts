/**
 * The Lua scripts of the Redis quota store. Each is one atomic check-and-consume on one hash
 * key (so it is Redis Cluster safe: the key's `{tenant}` hash tag picks the slot) and reads the
 * time from the Redis server (`TIME`), never from the calling instance.
 *
 * Call: `KEYS[1]` the counter hash, `ARGV` = limit, windowMs, cost. Reply: an array of four
 * integers `{allowed (0|1), remaining, resetMs, round(count × 1000)}`; the count of a sliding
 * window is fractional, hence the fixed point.
 *
 * The math mirrors the TypeScript reference in `src/quota/sliding-window.ts` operation by
 * operation (same IEEE doubles, same order), so both stores give the same decision at the same
 * instant. An optional fourth ARGV, a time in ms, replaces `TIME`; only tests pass it, to drive
 * the script and the reference with the same clock. The store never does.
 */
import { createHash } from 'node:crypto';

/** A script with its SHA-1, the name `EVALSHA` knows it by. */
export interface QuotaScript {
  readonly source: string;
  readonly sha: string;
}

function script(source: string): QuotaScript {
  return Object.freeze({ source, sha: createHash('sha1').update(source).digest('hex') });
}

/** Shared prologue: arguments, the server clock and the window this instant falls in. */
const PROLOGUE = `
if redis.replicate_commands then redis.replicate_commands() end
local limit = tonumber(ARGV[1])
local w = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local now
if ARGV[4] then
  now = tonumber(ARGV[4])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local cw = math.floor(now / w)
local elapsed = now - cw * w
-- A key lives two windows, and at least MIN_TTL_MS: the state names its window, so a longer life
-- never changes a decision, while a window shorter than a round trip would otherwise lose it.
local MIN_TTL_MS = 10000
`;

/**
 * Sliding-window counter (`slidingWindowStep`). Hash fields: `window` (index of the current
 * window, `floor(now / windowMs)`), `curr`, `prev` (units of that window and the one before).
 */
export const SLIDING_WINDOW = script(`${PROLOGUE}
local state = redis.call('HMGET', KEYS[1], 'window', 'curr', 'prev')
local stored = tonumber(state[1])
local curr, prev = 0, 0
if stored == cw then
  curr = tonumber(state[2]) or 0
  prev = tonumber(state[3]) or 0
elseif stored == cw - 1 then
  prev = tonumber(state[2]) or 0
end
local usage = (prev * (w - elapsed)) / w + curr
if cost == 0 or usage + cost <= limit then
  if cost > 0 then
    if stored == cw then
      -- same window: one increment; the expiry set when this window began (2 windows) still
      -- outlives the state until the end of the next window
      redis.call('HINCRBY', KEYS[1], 'curr', cost)
    else
      redis.call('HSET', KEYS[1], 'window', cw, 'curr', curr + cost, 'prev', prev)
      redis.call('PEXPIRE', KEYS[1], math.max(2 * w, MIN_TTL_MS))
    end
  end
  local count = usage + cost
  return {1, math.max(0, math.floor(limit - count)), w - elapsed, math.floor(count * 1000 + 0.5)}
end
-- Refused: the least whole x >= 1 (ms) after which the same call would pass. Estimate, then
-- correct the floating-point rounding by checking the neighbours.
local function allowedAt(t)
  local tw = math.floor(t / w)
  local e = t - tw * w
  local c, p = curr, prev
  if tw ~= cw then
    if tw == cw + 1 then p = curr else p = 0 end
    c = 0
  end
  return (p * (w - e)) / w + c + cost <= limit
end
local x
if curr + cost <= limit then
  x = math.max(1, math.ceil(w - elapsed - ((limit - curr - cost) * w) / prev))
else
  x = w - elapsed + math.max(0, math.ceil(w - ((limit - cost) * w) / curr))
end
x = math.max(1, math.ceil(x))
while x > 1 and allowedAt(now + x - 1) do x = x - 1 end
while not allowedAt(now + x) do x = x + 1 end
return {0, math.max(0, math.floor(limit - usage)), x, math.floor(usage * 1000 + 0.5)}
`);

/** Fixed-window counter (`fixedWindowStep`). Hash fields: `window` (index), `count`. */
export const FIXED_WINDOW = script(`${PROLOGUE}
local state = redis.call('HMGET', KEYS[1], 'window', 'count')
local count = 0
if tonumber(state[1]) == cw then count = tonumber(state[2]) or 0 end
if count + cost <= limit then
  if cost > 0 then
    redis.call('HSET', KEYS[1], 'window', cw, 'count', count + cost)
    redis.call('PEXPIRE', KEYS[1], math.max(2 * w, MIN_TTL_MS))
  end
  return {1, math.max(0, limit - count - cost), w - elapsed, (count + cost) * 1000}
end
return {0, math.max(0, limit - count), math.max(1, math.ceil(w - elapsed)), count * 1000}
`);
