import { existsSync, readdirSync } from 'node:fs';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isPlatformConflict, localPlatform, platformErrorStatus } from '../src/platform/index.js';
import type { ITursoPlatformService } from '../src/platform/index.js';
import { tursoPlatform } from '../src/turso/index.js';
import { FakeTurso } from './helpers/fake-turso.js';
import { tempDir } from './helpers/env.js';

/** Claims every platform's tokens carry, as far as the contract needs them. */
interface Claims {
  id: string;
  a: 'rw' | 'ro';
  iat: number;
  exp?: number;
}

/** A platform under test, how to check its tokens, and how many requests it sent. */
interface Subject {
  platform: ITursoPlatformService & { getUsage(name: string): Promise<{ storageBytes: number | undefined }> };
  /** Resolves the claims of a token the database accepts now; rejects otherwise. */
  verify(name: string, token: string): Promise<Claims>;
  /** Requests sent to a remote API so far (0 for a local platform). */
  requests(): number;
  /** Whatever shows that a database exists outside the platform's own answers. */
  existsOutside(name: string): boolean;
  cleanup(): Promise<void>;
}

const T0 = Date.UTC(2030, 0, 1);
const T0_S = T0 / 1000;
const INVALID_NAMES = ['', 'Acme', '-acme', 'acme-', 'ac_me', 'acme.db', '../etc', 'a'.repeat(59), 'acme/x', 'ac me'];

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

function platformContract(label: string, makeSubject: (now: () => number) => Subject | Promise<Subject>) {
  describe(`${label} platform (contract)`, () => {
    let subject: Subject;
    let platform: Subject['platform'];

    beforeEach(async () => {
      subject = await makeSubject(() => T0);
      platform = subject.platform;
    });
    afterEach(async () => {
      await subject.cleanup();
    });

    describe('databases', () => {
      it('creates a database and reports it by name', async () => {
        const created = await platform.createDatabase({ name: 'acme' });
        expect(created.name).toBe('acme');
        expect(typeof created.id).toBe('string');
        expect(created.id.length).toBeGreaterThan(0);
        expect(created.url).toMatch(/^(?:libsql:\/\/|file:)/);
        expect(await platform.getDatabase('acme')).toEqual(created);
        expect(subject.existsOutside('acme')).toBe(true);
      });

      it('lists databases sorted by name', async () => {
        await platform.createDatabase({ name: 'globex' });
        await platform.createDatabase({ name: 'acme' });
        await platform.createDatabase({ name: 'initech' });
        const names = (await platform.listDatabases()).map((db) => db.name);
        expect(names).toEqual(['acme', 'globex', 'initech']);
      });

      it('resolves undefined for an unknown database', async () => {
        expect(await platform.getDatabase('nobody')).toBeUndefined();
      });

      it('rejects a duplicate name with a PLATFORM_ERROR that says 409', async () => {
        await platform.createDatabase({ name: 'acme' });
        const err = await platform.createDatabase({ name: 'acme' }).catch((e: unknown) => e);
        expect(err).toMatchObject({ code: 'PLATFORM_ERROR', status: 502 });
        expect((err as Error).message).toContain('409');
        expect(isPlatformConflict(err)).toBe(true);
        expect(platformErrorStatus(err)).toBe(409);
        expect((err as Error).cause).toBeDefined();
      });

      it('deletes a database, and deleting again or deleting an unknown name resolves', async () => {
        await platform.createDatabase({ name: 'acme' });
        await platform.createDatabase({ name: 'globex' });
        await platform.deleteDatabase('acme');
        expect(await platform.getDatabase('acme')).toBeUndefined();
        expect(subject.existsOutside('acme')).toBe(false);
        expect((await platform.listDatabases()).map((db) => db.name)).toEqual(['globex']);
        await expect(platform.deleteDatabase('acme')).resolves.toBeUndefined();
        await expect(platform.deleteDatabase('never-existed')).resolves.toBeUndefined();
      });

      it('can create a database again after deleting it', async () => {
        await platform.createDatabase({ name: 'acme' });
        await platform.deleteDatabase('acme');
        await expect(platform.createDatabase({ name: 'acme' })).resolves.toMatchObject({ name: 'acme' });
      });

      it('reports storage usage of a database', async () => {
        await platform.createDatabase({ name: 'acme' });
        const usage = await platform.getUsage('acme');
        expect(typeof usage.storageBytes).toBe('number');
        expect(usage.storageBytes).toBeGreaterThanOrEqual(0);
      });
    });

    describe('tokens', () => {
      it('mints a full-access token that never expires by default', async () => {
        const db = await platform.createDatabase({ name: 'acme' });
        const token = await platform.createToken('acme');
        const claims = await subject.verify('acme', token);
        expect(claims).toMatchObject({ id: db.id, a: 'rw', iat: T0_S });
        expect(claims.exp).toBeUndefined();
      });

      it('mints a read-only token that expires after the given lifetime', async () => {
        const db = await platform.createDatabase({ name: 'acme' });
        const token = await platform.createToken('acme', { authorization: 'read-only', expiration: '1h' });
        expect(await subject.verify('acme', token)).toEqual({ id: db.id, a: 'ro', iat: T0_S, exp: T0_S + 3600 });
        const week = await platform.createToken('acme', { expiration: '2w1d' });
        expect((await subject.verify('acme', week)).exp).toBe(T0_S + 15 * 86400);
      });

      it('makes every earlier token fail when tokens are revoked, and new ones work', async () => {
        await platform.createDatabase({ name: 'acme' });
        const before = await platform.createToken('acme');
        const readOnly = await platform.createToken('acme', { authorization: 'read-only' });
        await platform.revokeTokens('acme');
        await expect(subject.verify('acme', before)).rejects.toThrow();
        await expect(subject.verify('acme', readOnly)).rejects.toThrow();
        const after = await platform.createToken('acme');
        await expect(subject.verify('acme', after)).resolves.toMatchObject({ a: 'rw' });
      });

      it('does not accept tokens of a deleted database of the same name', async () => {
        await platform.createDatabase({ name: 'acme' });
        const old = await platform.createToken('acme');
        await platform.deleteDatabase('acme');
        await platform.createDatabase({ name: 'acme' });
        await expect(subject.verify('acme', old)).rejects.toThrow();
      });

      it('does not accept a token of another database', async () => {
        await platform.createDatabase({ name: 'acme' });
        await platform.createDatabase({ name: 'globex' });
        const token = await platform.createToken('globex');
        await expect(subject.verify('acme', token)).rejects.toThrow();
      });

      it('rejects tokens and revocation for an unknown database with a PLATFORM_ERROR that says 404', async () => {
        for (const call of [() => platform.createToken('nobody'), () => platform.revokeTokens('nobody'), () => platform.getUsage('nobody')]) {
          const err = await call().catch((e: unknown) => e);
          expect(err).toMatchObject({ code: 'PLATFORM_ERROR' });
          expect((err as Error).message).toContain('404');
          expect(platformErrorStatus(err)).toBe(404);
        }
      });

      it('rejects invalid token options with a TypeError before anything is sent', async () => {
        await platform.createDatabase({ name: 'acme' });
        const sent = subject.requests();
        // @ts-expect-error an authorization that does not exist
        await expect(platform.createToken('acme', { authorization: 'admin' })).rejects.toThrow(TypeError);
        await expect(platform.createToken('acme', { expiration: 'tomorrow' })).rejects.toThrow(/expiration/);
        await expect(platform.createToken('acme', { expiration: '-1h' })).rejects.toThrow(TypeError);
        expect(subject.requests()).toBe(sent);
      });
    });

    describe('names', () => {
      it('rejects invalid names with a TypeError before anything is sent', async () => {
        for (const name of INVALID_NAMES) {
          await expect(platform.createDatabase({ name }), name).rejects.toThrow(TypeError);
          await expect(platform.getDatabase(name), name).rejects.toThrow(TypeError);
          await expect(platform.deleteDatabase(name), name).rejects.toThrow(TypeError);
          await expect(platform.createToken(name), name).rejects.toThrow(TypeError);
          await expect(platform.revokeTokens(name), name).rejects.toThrow(TypeError);
          await expect(platform.getUsage(name), name).rejects.toThrow(TypeError);
        }
        // @ts-expect-error not a string
        await expect(platform.getDatabase(42)).rejects.toThrow(TypeError);
        expect(subject.requests()).toBe(0);
        expect(await platform.listDatabases()).toEqual([]);
      });

      it('accepts names of 58 characters, digits and inner dashes', async () => {
        for (const name of ['a'.repeat(58), '0', 'tenant-42', 'a-b-c']) {
          await expect(platform.createDatabase({ name })).resolves.toMatchObject({ name });
        }
      });
    });
  });
}

platformContract('local', (now) => {
  const { dir, cleanup } = tempDir('tenantry-platform-');
  const platform = localPlatform({ dir, now });
  return {
    platform,
    verify: (name, token) => platform.verifyToken(name, token),
    requests: () => 0,
    existsOutside: (name) => existsSync(`${dir}/${name}.db`),
    cleanup: async () => {
      expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
      cleanup();
    },
  };
});

platformContract('turso (fake API)', (now) => {
  const fake = new FakeTurso({ organization: 'acme-corp', apiToken: 'api-token-123', now });
  server.use(...fake.handlers);
  const platform = tursoPlatform({ organization: 'acme-corp', apiToken: 'api-token-123', group: 'default', sleep: async () => {} });
  return {
    platform,
    verify: async (name, token) => fake.verifyToken(name, token),
    requests: () => fake.requests.length,
    existsOutside: (name) => fake.databases.has(name),
    cleanup: async () => {},
  };
});
