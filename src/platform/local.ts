/**
 * The local platform (Node only): tenant databases as libSQL files in one folder, and tokens
 * minted here with jose in the shape a self-hosted libSQL server (sqld) verifies.
 */
import { mkdirSync } from 'node:fs';
import { link, mkdir, open, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createPublicKey, randomUUID } from 'node:crypto';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createClient } from '@libsql/client';
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, jwtVerify } from 'jose';
import type { JWK } from 'jose';
import { z } from 'zod';
import { TenantryError } from '../errors/index.js';
import { PlatformResponseError, resolveTokenOptions } from './turso.js';
import { assertDatabaseName } from './types.js';
import type { ITursoPlatformService, PlatformDatabase, PlatformUsage } from './types.js';

/** Options of {@link localPlatform}. */
export interface LocalPlatformOptions {
  /** Folder of the database files (`<dir>/<name>.db`), created when missing. Required. */
  dir: string;
  /** Clock for token `iat` / `exp` and verification, in ms. Default `Date.now`. */
  now?: () => number;
}

/** The claims of a token the local platform mints (what sqld reads). */
export interface LocalTokenClaims {
  /** The database (sqld namespace) the token is for. */
  id: string;
  /** `rw` (full access) or `ro` (read only). */
  a: 'rw' | 'ro';
  /** Issued at, in seconds. */
  iat: number;
  /** Expiry in seconds; absent for tokens with expiration `never`. */
  exp?: number;
}

/** The public half of a database's signing key, in the formats sqld and jose take. */
export interface LocalPublicKey {
  /** Key id (the JWK thumbprint), also in the `kid` header of every token it verifies. */
  kid: string;
  /** Public JWK (`{ kty: 'OKP', crv: 'Ed25519', x }`). */
  jwk: JWK;
  /** SPKI PEM (`-----BEGIN PUBLIC KEY-----`), for `sqld --auth-jwt-key-file`. */
  pem: string;
  /** The raw public key, URL-safe base64 (also accepted by sqld as a key file's content). */
  base64url: string;
}

/** The platform {@link localPlatform} returns. */
export interface LocalPlatform extends ITursoPlatformService {
  /** Absolute folder of the database files. */
  readonly dir: string;
  /** Size of a database file plus its WAL. Row counts are unknown (`undefined`). */
  getUsage(name: string): Promise<PlatformUsage>;
  /**
   * The public key that verifies the database's current tokens (created if missing). Give it
   * to sqld for the database's namespace; it changes with every `revokeTokens`.
   */
  publicKey(name: string): Promise<LocalPublicKey>;
  /**
   * Verifies a token of the database as sqld would (EdDSA signature with the current key,
   * `exp`), plus its `id` claim. Resolves its claims; rejects with `INVALID_TOKEN`.
   */
  verifyToken(name: string, token: string): Promise<LocalTokenClaims>;
}

const KEY_DIR = '.keys';
const SIDE_FILES = ['-wal', '-shm', '-journal'] as const;
const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3_600, d: 86_400, w: 604_800 };

const KeyFileSchema = z.object({
  kid: z.string().min(1),
  createdAt: z.string(),
  privateJwk: z.object({ kty: z.literal('OKP'), crv: z.literal('Ed25519'), x: z.string().min(1), d: z.string().min(1) }),
});
type KeyFile = z.infer<typeof KeyFileSchema>;

const ClaimsSchema = z.object({
  id: z.string(),
  a: z.enum(['rw', 'ro']),
  iat: z.number(),
  exp: z.number().optional(),
});

/** Seconds of a token lifetime (`1h`, `2w1d`), or `undefined` for `never`. */
function lifetimeSeconds(expiration: string): number | undefined {
  if (expiration === 'never') return undefined;
  let seconds = 0;
  for (const [, amount, unit] of expiration.matchAll(/(\d+)([smhdw])/g)) {
    seconds += Number(amount) * (UNIT_SECONDS[unit!] ?? 0);
  }
  if (!Number.isSafeInteger(seconds) || seconds <= 0) {
    throw new TypeError('createToken: options.expiration must be a positive duration');
  }
  return seconds;
}

function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null ? ((err as { code?: unknown }).code as string | undefined) : undefined;
}

function platformError(message: string, cause: unknown): TenantryError {
  return new TenantryError('PLATFORM_ERROR', `local platform: ${message}`, { cause });
}

function notFound(name: string): TenantryError {
  const message = `database "${name}" does not exist (404)`;
  return platformError(message, new PlatformResponseError(404, message));
}

/**
 * A platform on the local file system, for development, tests, the embedded default and
 * self-hosted libSQL servers (sqld).
 *
 * - Databases are files `<dir>/<name>.db`; `url` is their `file:` URL, `id` the name,
 *   `hostname` and `group` `undefined`. The platform has no groups: `input.group`,
 *   `input.region` and `input.sizeLimit` are ignored, and `listDatabases({ group })` is empty.
 * - `createDatabase` rejects with `PLATFORM_ERROR` (status 409) when the file exists;
 *   `deleteDatabase` removes the file, its `-wal`, `-shm`, `-journal` files and its key, and
 *   resolves when there was nothing to remove.
 * - Tokens are EdDSA (Ed25519) JWTs with the claims sqld reads: `id` (the database, i.e. the
 *   sqld namespace), `a` (`rw` or `ro`), `iat`, and `exp` unless the expiration is `never`.
 *   Each database has its own key pair, kept as a JWK in `<dir>/.keys/<name>.json` (mode
 *   0600), so tokens outlive restarts; `revokeTokens` replaces the key pair, and every earlier
 *   token of that database stops verifying. Give `publicKey(name)` to sqld (e.g. as the
 *   namespace's JWT key); `verifyToken` checks a token the way sqld does.
 * - `file:` databases do not read tokens at all: the tokens matter once the same databases
 *   are served by sqld.
 *
 * @example
 * import { localPlatform } from 'tenantry';
 * const platform = localPlatform({ dir: './.tenantry/tenants' });
 * const db = await platform.createDatabase({ name: 'acme' });   // db.url: file:///…/acme.db
 * const token = await platform.createToken('acme', { authorization: 'read-only', expiration: '1h' });
 */
export function localPlatform(options: LocalPlatformOptions): LocalPlatform {
  if (typeof options !== 'object' || options === null) throw new TypeError('localPlatform: options must be an object with a `dir`');
  for (const key of Object.keys(options)) {
    if (key !== 'dir' && key !== 'now') throw new TypeError(`localPlatform: unknown option ${key}`);
  }
  if (typeof options.dir !== 'string' || options.dir.trim() === '') {
    throw new TypeError('localPlatform: options.dir must be the path of a folder');
  }
  if (options.now !== undefined && typeof options.now !== 'function') {
    throw new TypeError('localPlatform: options.now must be a function returning ms');
  }
  const dir = resolve(options.dir);
  const keyDir = join(dir, KEY_DIR);
  const now = options.now ?? Date.now;
  mkdirSync(dir, { recursive: true });

  const fileOf = (name: string) => join(dir, `${name}.db`);
  const keyFileOf = (name: string) => join(keyDir, `${name}.json`);
  const describe = (name: string): PlatformDatabase => ({
    name,
    id: name,
    hostname: undefined,
    url: pathToFileURL(fileOf(name)).href,
    group: undefined,
  });

  async function exists(name: string): Promise<boolean> {
    try {
      return (await stat(fileOf(name))).isFile();
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return false;
      throw platformError(`could not read database "${name}"`, err);
    }
  }

  async function mustExist(name: string): Promise<void> {
    if (!(await exists(name))) throw notFound(name);
  }

  async function newKeyFile(): Promise<string> {
    const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
    const jwk = await exportJWK(privateKey);
    const content: KeyFile = {
      kid: await calculateJwkThumbprint(jwk),
      createdAt: new Date(now()).toISOString(),
      privateJwk: { kty: 'OKP', crv: 'Ed25519', x: String(jwk.x), d: String(jwk.d) },
    };
    return `${JSON.stringify(content, null, 2)}\n`;
  }

  /**
   * Writes a new key pair for `name`. `replace`: atomically replaces the current one (rename).
   * Otherwise only when there is none (link fails on an existing file), so two processes that
   * create a missing key at once end up with one.
   */
  async function writeKeys(name: string, replace: boolean): Promise<void> {
    await mkdir(keyDir, { recursive: true, mode: 0o700 });
    const temp = join(keyDir, `.${name}.${randomUUID()}.tmp`);
    await writeFile(temp, await newKeyFile(), { mode: 0o600, flag: 'wx' });
    try {
      if (replace) await rename(temp, keyFileOf(name));
      else await link(temp, keyFileOf(name));
    } catch (err) {
      if (replace || errorCode(err) !== 'EEXIST') throw err;
    } finally {
      await rm(temp, { force: true });
    }
  }

  async function readKeys(name: string): Promise<KeyFile | undefined> {
    let text: string;
    try {
      text = await readFile(keyFileOf(name), 'utf8');
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return undefined;
      throw err;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw platformError(`the key file of database "${name}" is not JSON`, err);
    }
    const parsed = KeyFileSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw platformError(`the key file of database "${name}" is invalid: ${issue?.path.join('.') || 'file'}: ${issue?.message ?? 'invalid'}`, parsed.error);
    }
    return parsed.data;
  }

  /** The database's key pair, created when it has none yet (databases made before keys were). */
  async function keysOf(name: string): Promise<KeyFile> {
    try {
      const found = await readKeys(name);
      if (found !== undefined) return found;
      await writeKeys(name, false);
      const created = await readKeys(name);
      if (created === undefined) throw new Error('the key file vanished after it was written');
      return created;
    } catch (err) {
      if (err instanceof TenantryError) throw err;
      throw platformError(`could not load the signing key of database "${name}"`, err);
    }
  }

  /** Removes the database file, its -wal, -shm and -journal files and its key. */
  async function removeFiles(name: string): Promise<void> {
    const file = fileOf(name);
    const paths = [file, ...SIDE_FILES.map((suffix) => `${file}${suffix}`), keyFileOf(name)];
    await Promise.all(paths.map((path) => rm(path, { force: true })));
  }

  const publicJwkOf = (keys: KeyFile): JWK => ({ kty: 'OKP', crv: 'Ed25519', x: keys.privateJwk.x });

  return {
    dir,

    async createDatabase(input) {
      if (typeof input !== 'object' || input === null) throw new TypeError('createDatabase: input must be an object with a name');
      const { name } = input;
      assertDatabaseName(name);
      const file = fileOf(name);
      try {
        await mkdir(dir, { recursive: true });
        const handle = await open(file, 'wx', 0o644); // exclusive: the 409 check and the creation are one step
        await handle.close();
      } catch (err) {
        if (errorCode(err) === 'EEXIST') {
          const message = `database "${name}" already exists (409)`;
          throw platformError(message, new PlatformResponseError(409, message, { cause: err }));
        }
        throw platformError(`could not create database "${name}"`, err);
      }
      try {
        const client = createClient({ url: pathToFileURL(file).href });
        try {
          await client.execute('select 1');
        } finally {
          client.close();
        }
        await writeKeys(name, true); // a fresh key: tokens of an earlier database of this name stay dead
      } catch (err) {
        await removeFiles(name).catch(() => undefined);
        throw platformError(`could not create database "${name}"`, err);
      }
      return describe(name);
    },

    async deleteDatabase(name) {
      assertDatabaseName(name);
      try {
        await removeFiles(name);
      } catch (err) {
        throw platformError(`could not delete database "${name}"`, err);
      }
    },

    async listDatabases(filter) {
      if (filter !== undefined && (typeof filter !== 'object' || filter === null)) throw new TypeError('listDatabases: filter must be an object');
      if (filter?.group !== undefined) return []; // local databases belong to no group
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if (errorCode(err) === 'ENOENT') return [];
        throw platformError('could not list databases', err);
      }
      return entries
        .filter((entry) => entry.isFile() && entry.name.endsWith('.db'))
        .map((entry) => entry.name.slice(0, -'.db'.length))
        .filter((name) => {
          try {
            assertDatabaseName(name);
            return true;
          } catch {
            return false;
          }
        })
        .sort()
        .map(describe);
    },

    async getDatabase(name) {
      assertDatabaseName(name);
      return (await exists(name)) ? describe(name) : undefined;
    },

    async createToken(name, tokenOptions) {
      assertDatabaseName(name);
      const { authorization, expiration } = resolveTokenOptions(tokenOptions);
      const lifetime = lifetimeSeconds(expiration);
      await mustExist(name);
      const keys = await keysOf(name);
      const iat = Math.floor(now() / 1000);
      const jwt = new SignJWT({ id: name, a: authorization === 'read-only' ? 'ro' : 'rw' })
        .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid: keys.kid })
        .setIssuedAt(iat);
      if (lifetime !== undefined) jwt.setExpirationTime(iat + lifetime);
      try {
        return await jwt.sign(await importJWK(keys.privateJwk, 'EdDSA'));
      } catch (err) {
        throw platformError(`could not sign a token for database "${name}"`, err);
      }
    },

    async revokeTokens(name) {
      assertDatabaseName(name);
      await mustExist(name);
      try {
        await writeKeys(name, true);
      } catch (err) {
        throw platformError(`could not rotate the signing key of database "${name}"`, err);
      }
    },

    async getUsage(name) {
      assertDatabaseName(name);
      let storageBytes = 0;
      try {
        storageBytes += (await stat(fileOf(name))).size;
      } catch (err) {
        if (errorCode(err) === 'ENOENT') throw notFound(name);
        throw platformError(`could not read database "${name}"`, err);
      }
      try {
        storageBytes += (await stat(`${fileOf(name)}-wal`)).size;
      } catch (err) {
        if (errorCode(err) !== 'ENOENT') throw platformError(`could not read database "${name}"`, err);
      }
      return { storageBytes, rowsRead: undefined, rowsWritten: undefined };
    },

    async publicKey(name) {
      assertDatabaseName(name);
      await mustExist(name);
      const keys = await keysOf(name);
      const jwk = publicJwkOf(keys);
      const pem = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: keys.privateJwk.x }, format: 'jwk' })
        .export({ type: 'spki', format: 'pem' })
        .toString();
      return { kid: keys.kid, jwk, pem, base64url: keys.privateJwk.x };
    },

    async verifyToken(name, token) {
      assertDatabaseName(name);
      if (typeof token !== 'string') throw new TypeError('verifyToken: token must be a string');
      const keys = await readKeys(name).catch((err: unknown) => {
        throw err instanceof TenantryError ? err : platformError(`could not load the signing key of database "${name}"`, err);
      });
      if (keys === undefined) throw new TenantryError('INVALID_TOKEN', `database "${name}" has no signing key`);
      let payload: unknown;
      try {
        ({ payload } = await jwtVerify(token, await importJWK(publicJwkOf(keys), 'EdDSA'), {
          algorithms: ['EdDSA'],
          currentDate: new Date(now()),
        }));
      } catch (err) {
        throw new TenantryError('INVALID_TOKEN', `not a valid token of database "${name}"`, { cause: err });
      }
      const claims = ClaimsSchema.safeParse(payload);
      if (!claims.success || claims.data.id !== name) {
        throw new TenantryError('INVALID_TOKEN', `not a valid token of database "${name}": wrong claims`);
      }
      return claims.data;
    },
  };
}
