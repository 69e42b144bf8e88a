/**
 * Tenant database tokens encrypted at rest: a registry wrapper that stores `db.authToken` as a
 * JWE (`dir` + `A256GCM`, jose) and hands out plaintext to tenantry.
 */
import { CompactEncrypt, compactDecrypt } from 'jose';
import type { TenantRecord, TenantRecordInput } from '../protocol/index.js';
import type { TenantListFilter, TenantRegistry } from './types.js';

const CONTENT_TYPE = 'tenantry-db-token';
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Checks a `secretKey` option: 32 bytes, as a `Uint8Array` or a base64 / base64url string.
 * Throws a `TypeError` naming `option` otherwise.
 */
export function parseSecretKey(value: unknown, option: string): Uint8Array {
  let bytes: Uint8Array | undefined;
  if (value instanceof Uint8Array) bytes = value;
  else if (typeof value === 'string' && /^[A-Za-z0-9+/_-]{43}=?$/.test(value)) {
    const base64 = value.replaceAll('-', '+').replaceAll('_', '/');
    bytes = Uint8Array.from(atob(base64.endsWith('=') ? base64 : `${base64}=`), (c) => c.charCodeAt(0));
  }
  if (bytes === undefined || bytes.length !== 32) {
    throw new TypeError(`createTenantry: ${option} must be 32 bytes: a Uint8Array or a base64 / base64url string of 32 bytes`);
  }
  return bytes;
}

/**
 * Wraps `inner` so that `db.authToken` is encrypted before it is stored and decrypted when it
 * is read. Tokens stored before encryption was turned on are read as they are and encrypted
 * at their next `put`. A token that cannot be decrypted (another key) makes the read reject.
 *
 * @example
 * const registry = encryptedRegistry(libsqlRegistry({ url }), process.env.TENANTRY_SECRET_KEY!);
 */
export function encryptedRegistry(inner: TenantRegistry, secretKey: string | Uint8Array): TenantRegistry {
  const key = parseSecretKey(secretKey, 'secretKey');

  async function encrypt(token: string): Promise<string> {
    if (isSealed(token)) return token;
    return new CompactEncrypt(encoder.encode(token)).setProtectedHeader({ alg: 'dir', enc: 'A256GCM', cty: CONTENT_TYPE }).encrypt(key);
  }

  async function seal(record: TenantRecordInput): Promise<TenantRecordInput> {
    const token = record?.db?.authToken;
    return token === undefined ? record : { ...record, db: { ...record.db, authToken: await encrypt(token) } };
  }

  async function open<T extends TenantRecord | undefined>(record: T): Promise<T> {
    const token = record?.db.authToken;
    if (record === undefined || token === undefined || !isSealed(token)) return record;
    try {
      const { plaintext } = await compactDecrypt(token, key, { keyManagementAlgorithms: ['dir'], contentEncryptionAlgorithms: ['A256GCM'] });
      return { ...record, db: { ...record.db, authToken: decoder.decode(plaintext) } };
    } catch (err) {
      throw new Error(`the database token of tenant "${record.id}" cannot be decrypted: is secretKey the key it was stored with?`, { cause: err });
    }
  }

  const wrapped: TenantRegistry = {
    get: async (id) => open(await inner.get(id)),
    findBySlug: async (slug) => open(await inner.findBySlug(slug)),
    findByDomain: async (domain) => open(await inner.findByDomain(domain)),
    list: async (filter?: TenantListFilter) => Promise.all((await inner.list(filter)).map((record) => open(record))),
    put: async (record: TenantRecordInput) => open(await inner.put(await seal(record))),
    delete: (id) => inner.delete(id),
  };
  if (inner.update !== undefined) {
    wrapped.update = async (id, fn) => open(await inner.update!(id, async (current) => seal(await fn(await open(current)))));
  }
  if (inner.migrate !== undefined) wrapped.migrate = () => inner.migrate!();
  if (inner.close !== undefined) wrapped.close = () => inner.close!();
  return wrapped;
}

/** A compact JWE of ours: five parts and our content type in the protected header. */
function isSealed(token: string): boolean {
  const parts = token.split('.');
  if (parts.length !== 5) return false;
  try {
    const header = JSON.parse(decoder.decode(Uint8Array.from(atob(parts[0]!.replaceAll('-', '+').replaceAll('_', '/')), (c) => c.charCodeAt(0)))) as { cty?: unknown };
    return header.cty === CONTENT_TYPE;
  } catch {
    return false;
  }
}
