import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createClient, type Client } from '@libsql/client';
import { afterAll } from 'vitest';
import { ClientPool, type ClientEvictReason, type ClientPoolOptions, type DatabaseConnection } from '../../src/router/pool.js';

/** A client the recording pool opened, with the number of times its close() was called. */
export interface Opened {
  url: string;
  client: Client;
  closes: number;
}

/**
 * Shared setup of the ClientPool tests; call it once at the top level of a test file.
 *
 * - `dir`: a temp folder, removed after the file's tests (`afterAll`).
 * - `connection(tenantId)`: a `file:` connection to `<dir>/<tenantId>.db`.
 * - `recordingPool(options)`: a pool of real libSQL file clients that records every client it
 *   opens (`opened`, with a count of its close() calls) and every eviction (`evicted`).
 *   `options` may replace `onEvict` (then `evicted` stays empty), not `createClient`.
 */
export function poolFixture() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tenantry-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  function connection(tenantId: string): DatabaseConnection {
    return { url: pathToFileURL(path.join(dir, `${tenantId}.db`)).href };
  }

  function recordingPool(options: ClientPoolOptions = {}) {
    const opened: Opened[] = [];
    const evicted: Array<[string, ClientEvictReason]> = [];
    const pool = new ClientPool({
      onEvict: (tenantId, reason) => evicted.push([tenantId, reason]),
      ...options,
      createClient: (config) => {
        const client = createClient(config);
        const record: Opened = { url: config.url, client, closes: 0 };
        const close = client.close.bind(client);
        client.close = () => {
          record.closes++;
          close();
        };
        opened.push(record);
        return client;
      },
    });
    return { pool, opened, evicted };
  }

  return { dir, connection, recordingPool };
}
