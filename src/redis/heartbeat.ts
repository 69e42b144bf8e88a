/**
 * A heartbeat on an ioredis connection: notices a link that stays open but carries nothing (a
 * proxy or NAT that drops traffic without closing the socket), which ioredis alone only learns
 * about when the kernel gives up on the socket, many minutes later.
 */
import type { Redis } from 'ioredis';

/** Heartbeat settings of a Redis connection (e.g. `redisInvalidationBus({ heartbeat })`). */
export interface HeartbeatOptions {
  /** How often a `PING` is sent while the connection is ready, in ms. Default `5_000`. */
  intervalMs?: number;
  /** How long the answer to a `PING` may take before the link counts as dead, in ms. Default `3_000`. */
  timeoutMs?: number;
}

/** {@link HeartbeatOptions} with the defaults filled in. */
export interface HeartbeatSettings {
  readonly intervalMs: number;
  readonly timeoutMs: number;
}

const DEFAULT_INTERVAL_MS = 5_000;
const DEFAULT_TIMEOUT_MS = 3_000;
/** Longest delay `setTimeout` honours. */
const MAX_DELAY_MS = 2_147_483_647;

function delay(value: unknown, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > MAX_DELAY_MS) {
    throw new TypeError(`${name} must be a number of milliseconds greater than 0 and at most ${MAX_DELAY_MS}`);
  }
  return value;
}

/**
 * Checks heartbeat options and fills in the defaults; `false` turns the heartbeat off.
 * @param value the option as given (`undefined`: the defaults)
 * @param name the option's name in error messages, e.g. `'redisInvalidationBus: options.heartbeat'`
 * @returns the settings, or `undefined` when the heartbeat is off
 * @throws TypeError naming the option when a value is not a positive number of milliseconds
 */
export function resolveHeartbeat(value: HeartbeatOptions | false | undefined, name: string): HeartbeatSettings | undefined {
  if (value === false) return undefined;
  if (value === undefined) return { intervalMs: DEFAULT_INTERVAL_MS, timeoutMs: DEFAULT_TIMEOUT_MS };
  if (typeof value !== 'object' || value === null) {
    throw new TypeError(`${name} must be false or an object { intervalMs?, timeoutMs? }`);
  }
  return {
    intervalMs: delay(value.intervalMs, DEFAULT_INTERVAL_MS, `${name}.intervalMs`),
    timeoutMs: delay(value.timeoutMs, DEFAULT_TIMEOUT_MS, `${name}.timeoutMs`),
  };
}

/**
 * Watches `connection` every `intervalMs` and calls `onSilent` when the link looks dead:
 * - it is `ready` and a `PING` (allowed in subscriber mode too) got no answer within `timeoutMs`;
 * - or its socket is open but the connection handshake has stayed unanswered (status `connect`)
 *   for a whole interval, as when a reconnect lands on the same dead link.
 * An answer of any kind, even an error reply, proves the link alive; an answer that arrived
 * while the event loop was blocked still counts (the timeout is checked after the socket has
 * been read), so a busy process is not taken for a dead link. At most one `PING` is in
 * flight; a closed connection forgets it (ioredis's own events report the close). What to do
 * about a dead link is the caller's choice (e.g. `connection.disconnect(true)` to reconnect);
 * `onSilent` is called once per socket: the heartbeat pauses until that socket has closed.
 * The timers are `unref()`ed, so they never keep the process alive.
 *
 * @returns a function that stops the heartbeat (idempotent)
 */
export function startHeartbeat(connection: Redis, settings: HeartbeatSettings, onSilent: (reason: string) => void): () => void {
  /** Bumped on every close, so an answer or a stuck handshake is tied to one socket. */
  let generation = 0;
  let waiting: ReturnType<typeof setTimeout> | undefined;
  /** The generation found still handshaking at the previous tick. */
  let handshaking: number | undefined;
  /** The generation already reported silent: quiet until its socket has closed. */
  let reported: number | undefined;
  let stopped = false;

  const forget = (): void => {
    clearTimeout(waiting);
    waiting = undefined;
  };
  const onClose = (): void => {
    generation += 1;
    handshaking = undefined;
    reported = undefined;
    forget();
  };
  const silent = (reason: string): void => {
    reported = generation;
    onSilent(reason);
  };

  function ping(): void {
    const at = generation;
    let answer = false;
    const timer = setTimeout(() => {
      // After the event loop was blocked, timers run before the socket is read: look again once
      // the poll phase has read whatever had arrived (setImmediate runs right after it).
      setImmediate(() => {
        if (answer || stopped || at !== generation || waiting !== timer) return;
        waiting = undefined;
        silent(`no answer to PING within ${settings.timeoutMs} ms`);
      }).unref();
    }, settings.timeoutMs);
    timer.unref();
    waiting = timer;
    const answered = (): void => {
      answer = true;
      if (at === generation && waiting === timer) forget();
    };
    // An error reply from Redis is an answer; ioredis's own failures (`commandTimeout`, a closed
    // connection) are not, and leave the decision to the timer or to the close.
    const failed = (err: unknown): void => {
      if (err instanceof Error && err.name === 'ReplyError') answered();
    };
    connection.ping().then(answered, failed);
  }

  function tick(): void {
    if (reported === generation) return; // dropping it can take a while (ioredis ends the socket gracefully first)
    const status = connection.status;
    if (status === 'ready') {
      handshaking = undefined;
      if (waiting === undefined) ping();
    } else if (status === 'connect') {
      if (handshaking === generation) {
        handshaking = undefined;
        silent(`no answer to the connection handshake within ${settings.intervalMs} ms`);
      } else {
        handshaking = generation;
      }
    } else {
      handshaking = undefined;
    }
  }

  connection.on('close', onClose);
  const interval = setInterval(tick, settings.intervalMs);
  interval.unref();
  return () => {
    if (stopped) return;
    stopped = true;
    clearInterval(interval);
    forget();
    connection.off('close', onClose);
  };
}
