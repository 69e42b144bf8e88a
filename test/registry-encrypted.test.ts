import { createClient } from '@libsql/client';
import { describe, expect, it } from 'vitest';
import { createTenantry, encryptedRegistry, fromHeader, libsqlRegistry, memoryRegistry } from '../src/index.js';
import { tempDir } from './helpers/env.js';

const KEY = new Uint8Array(32).fill(7);

describe('tenant database tokens at rest', () => {
  it('are stored encrypted and read back as plaintext', async () => {
    const { dir, cleanup } = tempDir();
    const url = `file:${dir}/cp.db`;
    const registry = encryptedRegistry(libsqlRegistry({ url }), KEY);
    const stored = await registry.put({ id: 'acme', db: { url: 'libsql://acme.example', authToken: 'secret-token-123' } });
    expect(stored.db.authToken).toBe('secret-token-123');
    expect((await registry.get('acme'))?.db.authToken).toBe('secret-token-123');
    expect((await registry.list())[0]?.db.authToken).toBe('secret-token-123');
    const raw = createClient({ url });
    const row = (await raw.execute("select db_auth_token from tenantry_tenants where id = 'acme'")).rows[0];
    expect(String(row?.['db_auth_token'])).not.toContain('secret-token-123');
    expect(String(row?.['db_auth_token']).split('.')).toHaveLength(5);
    raw.close();
    await registry.close?.();
    cleanup();
  });

  it('refuses to read tokens sealed with another key, and reads legacy plaintext tokens', async () => {
    const inner = memoryRegistry();
    await inner.put({ id: 'legacy', db: { authToken: 'plain' } });
    await encryptedRegistry(inner, KEY).put({ id: 'acme', db: { authToken: 'sealed' } });
    const other = encryptedRegistry(inner, new Uint8Array(32).fill(9));
    await expect(other.get('acme')).rejects.toThrow(/cannot be decrypted/);
    expect((await other.get('legacy'))?.db.authToken).toBe('plain');
  });

  it('is turned on by createTenantry({ secretKey }), which checks the key', async () => {
    const inner = memoryRegistry();
    const { dir, cleanup } = tempDir();
    const tenantry = createTenantry({ registry: inner, dataDir: dir, resolvers: [fromHeader()], secretKey: Buffer.from(KEY).toString('base64url') });
    await tenantry.provisioning.provisionTenant({ orgId: 'acme' });
    expect((await inner.get('acme'))?.db.authToken?.split('.')).toHaveLength(5);
    expect((await tenantry.registry.get('acme'))?.db.authToken?.split('.')).toHaveLength(3); // the JWT itself
    await tenantry.close();
    cleanup();
    expect(() => createTenantry({ registry: inner, secretKey: 'too-short' })).toThrow(/secretKey must be 32 bytes/);
  });
});
