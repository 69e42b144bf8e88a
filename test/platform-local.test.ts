import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createClient } from '@libsql/client';
import { decodeProtectedHeader, importJWK, importSPKI, jwtVerify } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { localPlatform } from '../src/platform/index.js';
import type { LocalPlatform } from '../src/platform/index.js';
import { tempDir } from './helpers/env.js';

const T0 = Date.UTC(2030, 0, 1);
const T0_S = T0 / 1000;

let dir: string;
let cleanup: () => void;
let clock: number;
let platform: LocalPlatform;

beforeEach(() => {
  ({ dir, cleanup } = tempDir('tenantry-local-platform-'));
  clock = T0;
  platform = localPlatform({ dir, now: () => clock });
});
afterEach(() => cleanup());

describe('localPlatform databases', () => {
  it('creates <dir>/<name>.db, reachable through its file: URL', async () => {
    const db = await platform.createDatabase({ name: 'acme', group: 'ignored', region: 'eu-west', sizeLimit: '1gb' });
    const file = join(dir, 'acme.db');
    expect(db).toEqual({ name: 'acme', id: 'acme', hostname: undefined, url: pathToFileURL(file).href, group: undefined });
    expect(statSync(file).isFile()).toBe(true);
    const client = createClient({ url: db.url });
    await client.execute('create table t (x)');
    await client.execute('insert into t values (1)');
    expect((await client.execute('select count(*) as n from t')).rows[0]?.n).toBe(1);
    client.close();
  });

  it('creates the folder, nested, when it is missing', async () => {
    const nested = join(dir, 'a', 'b', 'c');
    const p = localPlatform({ dir: nested });
    expect(existsSync(nested)).toBe(true);
    await p.createDatabase({ name: 'acme' });
    expect(existsSync(join(nested, 'acme.db'))).toBe(true);
    expect(p.dir).toBe(nested);
  });

  it('answers 409 for a file that exists already, whoever made it', async () => {
    writeFileSync(join(dir, 'acme.db'), '');
    await expect(platform.createDatabase({ name: 'acme' })).rejects.toMatchObject({ code: 'PLATFORM_ERROR', message: expect.stringContaining('409') });
  });

  it('lets exactly one of two simultaneous creations of a name win', async () => {
    const results = await Promise.allSettled([platform.createDatabase({ name: 'acme' }), platform.createDatabase({ name: 'acme' })]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1);
  });

  it('deletes the -wal, -shm and -journal files and the key with the database, and nothing else', async () => {
    await platform.createDatabase({ name: 'acme' });
    await platform.createDatabase({ name: 'acme2' });
    for (const suffix of ['-wal', '-shm', '-journal']) writeFileSync(join(dir, `acme.db${suffix}`), 'x');
    expect(existsSync(join(dir, '.keys', 'acme.json'))).toBe(true);
    await platform.deleteDatabase('acme');
    expect(readdirSync(dir).sort()).toEqual(['.keys', 'acme2.db']);
    expect(readdirSync(join(dir, '.keys'))).toEqual(['acme2.json']);
  });

  it('lists only files named <valid name>.db, and nothing for a group', async () => {
    await platform.createDatabase({ name: 'globex' });
    await platform.createDatabase({ name: 'acme' });
    writeFileSync(join(dir, 'Bad_Name.db'), '');
    writeFileSync(join(dir, 'notes.txt'), '');
    writeFileSync(join(dir, 'acme.db-wal'), '');
    mkdirSync(join(dir, 'folder.db'));
    expect((await platform.listDatabases()).map((db) => db.name)).toEqual(['acme', 'globex']);
    expect(await platform.listDatabases({ group: 'default' })).toEqual([]);
  });

  it('counts the database file and its WAL as storage', async () => {
    const db = await platform.createDatabase({ name: 'acme' });
    const client = createClient({ url: db.url });
    await client.execute('pragma journal_mode = wal');
    await client.execute('create table t (x)');
    await client.execute({ sql: 'insert into t values (?)', args: ['x'.repeat(10_000)] });
    const file = join(dir, 'acme.db');
    const expected = statSync(file).size + (existsSync(`${file}-wal`) ? statSync(`${file}-wal`).size : 0);
    expect(existsSync(`${file}-wal`)).toBe(true);
    expect(await platform.getUsage('acme')).toEqual({ storageBytes: expected, rowsRead: undefined, rowsWritten: undefined });
    client.close();
  });
});

describe('localPlatform tokens', () => {
  it('mints EdDSA JWTs that verify with the public key as sqld would (claims id, a, iat, exp)', async () => {
    await platform.createDatabase({ name: 'acme' });
    const token = await platform.createToken('acme', { authorization: 'read-only', expiration: '30m' });
    const key = await platform.publicKey('acme');
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'EdDSA', typ: 'JWT', kid: key.kid });
    expect(key.jwk).toEqual({ kty: 'OKP', crv: 'Ed25519', x: key.base64url });
    expect(key.pem).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    const currentDate = new Date(T0);
    const byJwk = await jwtVerify(token, await importJWK(key.jwk, 'EdDSA'), { algorithms: ['EdDSA'], currentDate });
    expect(byJwk.payload).toEqual({ id: 'acme', a: 'ro', iat: T0_S, exp: T0_S + 1800 });
    const byPem = await jwtVerify(token, await importSPKI(key.pem, 'EdDSA'), { algorithms: ['EdDSA'], currentDate });
    expect(byPem.payload.id).toBe('acme');
  });

  it('supports never and s, m, h, d, w lifetimes', async () => {
    await platform.createDatabase({ name: 'acme' });
    const lifetimes: [string, number | undefined][] = [['never', undefined], ['45s', 45], ['5m', 300], ['12h', 43_200], ['30d', 2_592_000], ['2w', 1_209_600], ['1d12h', 129_600]];
    for (const [expiration, seconds] of lifetimes) {
      const claims = await platform.verifyToken('acme', await platform.createToken('acme', { expiration }));
      expect(claims.exp, expiration).toBe(seconds === undefined ? undefined : T0_S + seconds);
    }
    await expect(platform.createToken('acme', { expiration: '0s' })).rejects.toThrow(TypeError);
  });

  it('rejects an expired token with INVALID_TOKEN', async () => {
    await platform.createDatabase({ name: 'acme' });
    const token = await platform.createToken('acme', { expiration: '1h' });
    clock = T0 + 3_600_000 + 1000;
    await expect(platform.verifyToken('acme', token)).rejects.toMatchObject({ code: 'INVALID_TOKEN' });
  });

  it('rejects garbage, a token of another database, and a database without key with INVALID_TOKEN', async () => {
    await platform.createDatabase({ name: 'acme' });
    await platform.createDatabase({ name: 'globex' });
    await expect(platform.verifyToken('acme', 'not-a-jwt')).rejects.toMatchObject({ code: 'INVALID_TOKEN' });
    await expect(platform.verifyToken('acme', await platform.createToken('globex'))).rejects.toMatchObject({ code: 'INVALID_TOKEN' });
    await expect(platform.verifyToken('nobody', 'x.y.z')).rejects.toMatchObject({ code: 'INVALID_TOKEN' });
  });

  it('keeps keys in <dir>/.keys/<name>.json with mode 0600, so tokens outlive a restart', async () => {
    await platform.createDatabase({ name: 'acme' });
    const token = await platform.createToken('acme');
    const keyFile = join(dir, '.keys', 'acme.json');
    if (process.platform !== 'win32') {
      expect(statSync(keyFile).mode & 0o777).toBe(0o600);
      expect(statSync(join(dir, '.keys')).mode & 0o777).toBe(0o700);
    }
    expect(JSON.parse(readFileSync(keyFile, 'utf8'))).toMatchObject({ privateJwk: { kty: 'OKP', crv: 'Ed25519' } });
    const restarted = localPlatform({ dir, now: () => clock });
    await expect(restarted.verifyToken('acme', token)).resolves.toMatchObject({ id: 'acme', a: 'rw' });
  });

  it('rotates the key pair on revokeTokens, seen by another instance on the same folder', async () => {
    await platform.createDatabase({ name: 'acme' });
    const other = localPlatform({ dir, now: () => clock });
    const before = await platform.publicKey('acme');
    const token = await other.createToken('acme');
    await platform.revokeTokens('acme');
    const after = await platform.publicKey('acme');
    expect(after.kid).not.toBe(before.kid);
    await expect(other.verifyToken('acme', token)).rejects.toMatchObject({ code: 'INVALID_TOKEN' });
    expect(readFileSync(join(dir, '.keys', 'acme.json'), 'utf8')).toContain(after.base64url);
    if (process.platform !== 'win32') expect(statSync(join(dir, '.keys', 'acme.json')).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(dir, '.keys'))).toEqual(['acme.json']);
  });

  it('creates a missing key on first use, once, even when asked twice at the same time', async () => {
    const client = createClient({ url: pathToFileURL(join(dir, 'legacy.db')).href });
    await client.execute('select 1');
    client.close();
    const [a, b] = await Promise.all([platform.createToken('legacy'), platform.createToken('legacy')]);
    await expect(platform.verifyToken('legacy', a)).resolves.toMatchObject({ id: 'legacy' });
    await expect(platform.verifyToken('legacy', b)).resolves.toMatchObject({ id: 'legacy' });
    expect(readdirSync(join(dir, '.keys'))).toEqual(['legacy.json']);
  });

  it('fails with PLATFORM_ERROR on a damaged key file', async () => {
    await platform.createDatabase({ name: 'acme' });
    writeFileSync(join(dir, '.keys', 'acme.json'), '{"kid": 1}');
    await expect(platform.createToken('acme')).rejects.toMatchObject({ code: 'PLATFORM_ERROR', message: expect.stringContaining('key file') });
    writeFileSync(join(dir, '.keys', 'acme.json'), 'not json');
    await expect(platform.createToken('acme')).rejects.toMatchObject({ code: 'PLATFORM_ERROR' });
  });
});

describe('localPlatform options', () => {
  it('names each invalid option in a TypeError', () => {
    // @ts-expect-error dir missing
    expect(() => localPlatform({})).toThrow(/options\.dir/);
    expect(() => localPlatform({ dir: '' })).toThrow(/options\.dir/);
    // @ts-expect-error not a function
    expect(() => localPlatform({ dir, now: 5 })).toThrow(/options\.now/);
    // @ts-expect-error unknown option
    expect(() => localPlatform({ dir, path: 'x' })).toThrow(/unknown option path/);
    // @ts-expect-error not an object
    expect(() => localPlatform(undefined)).toThrow(TypeError);
  });
});
