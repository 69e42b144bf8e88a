/**
 * An in-process TCP proxy in front of a real service (Redis, PostgreSQL) that a test can cut
 * and restore without touching the service itself, so the machine's own Redis and PostgreSQL
 * keep serving everyone else.
 *
 * Two ways to cut:
 * - `'reset'`: every open connection is destroyed and new ones are refused at once (the
 *   listener closes), as when the service crashes or its port is closed.
 * - `'blackhole'`: nothing is forwarded any more, in either direction: open connections stay
 *   open but go silent, new ones are accepted and never answered, as behind a dead link. Only
 *   the client's own timeouts end the wait. `restore()` then drops those connections, so the
 *   client notices and reconnects.
 */
import { connect, createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';

/** How a {@link TcpProxy} fails while it is cut. */
export type CutMode = 'reset' | 'blackhole';

/** A proxy started by {@link startTcpProxy}. */
export interface TcpProxy {
  readonly host: '127.0.0.1';
  /** The port clients connect to (the same before and after a cut). */
  readonly port: number;
  /** True while connections are forwarded. */
  readonly up: boolean;
  /** Connections accepted so far (forwarded or swallowed). */
  readonly accepted: number;
  /** Cuts every connection now and fails new ones as `mode` says. Default `'reset'`. */
  cut(mode?: CutMode): Promise<void>;
  /** Forwards new connections again. */
  restore(): Promise<void>;
  /** Cuts everything and stops listening. */
  close(): Promise<void>;
}

/**
 * Starts a proxy on a free port of 127.0.0.1 that forwards to `target`.
 *
 * @example
 * const proxy = await startTcpProxy({ host: '127.0.0.1', port: 6379 });
 * const redis = new Redis({ port: proxy.port });
 * await proxy.cut();      // redis sees ECONNRESET, then ECONNREFUSED
 * await proxy.restore();  // ioredis reconnects by itself
 */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: 'up' | CutMode = 'up';
  let accepted = 0;
  const sockets = new Set<Socket>();
  const pairs = new Set<{ client: Socket; upstream: Socket }>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy()); // resets are what this proxy is for
  };
  const server: Server = createServer((client) => {
    accepted += 1;
    track(client);
    if (mode !== 'up') return; // blackhole: accept, read, never answer
    const upstream = connect(target.port, target.host);
    track(upstream);
    const pair = { client, upstream };
    pairs.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => {
      pairs.delete(pair);
      upstream.destroy();
    });
    upstream.on('close', () => client.destroy());
  });

  let port = 0;
  const listen = (): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        port = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  const stopListening = (): Promise<void> =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
    });
  const destroyAll = (): void => {
    for (const socket of sockets) socket.destroy();
  };

  await listen();
  return {
    host: '127.0.0.1',
    get port() {
      return port;
    },
    get up() {
      return mode === 'up';
    },
    get accepted() {
      return accepted;
    },
    async cut(how: CutMode = 'reset') {
      mode = how;
      if (how === 'reset') {
        const closed = stopListening(); // resolves once the destroyed connections are gone
        destroyAll();
        await closed;
      } else {
        for (const { client, upstream } of pairs) {
          client.unpipe(upstream);
          upstream.unpipe(client);
        }
      }
    },
    async restore() {
      if (mode === 'up') return;
      const wasReset = mode === 'reset';
      mode = 'up';
      if (wasReset) await listen();
      else destroyAll(); // drop the silent connections so their clients notice and reconnect
    },
    async close() {
      mode = 'reset';
      const closed = stopListening();
      destroyAll();
      await closed;
    },
  };
}
