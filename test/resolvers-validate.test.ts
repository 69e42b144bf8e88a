import { describe, expect, it } from 'vitest';
import { normalizeHost, parseTenantId, requestHost } from '../src/router/resolvers/index.js';
import { BEHIND_PROXY, DIRECT, thrown, withHeaders } from './helpers/request.js';

const INVALID = expect.objectContaining({ code: 'INVALID_TENANT_ID', status: 400 });

describe('parseTenantId', () => {
  it.each(['acme', 'a', '0', 'acme-corp', 'a1-b2-c3', 'xn--acme', 'a'.repeat(63)])('accepts %s', (id) => {
    expect(parseTenantId(id, 'test')).toBe(id);
  });

  it.each([
    ['an empty value', ''],
    ['upper case', 'Acme'],
    ['a leading dash', '-acme'],
    ['a trailing dash', 'acme-'],
    ['an underscore', 'ac_me'],
    ['a dot', 'acme.corp'],
    ['a space', 'ac me'],
    ['a path', '../acme'],
    ['percent-encoding', 'acme%2f'],
    ['a NUL byte', 'acme\u0000'],
    ['a Cyrillic look-alike', '\u0430cme'],
    ['64 characters', 'a'.repeat(64)],
  ])('rejects %s', (_, id) => {
    expect(() => parseTenantId(id, 'test')).toThrow(INVALID);
  });

  it('rejects a value that is not a string', () => {
    expect(() => parseTenantId(42 as unknown as string, 'test')).toThrow(INVALID);
  });

  it('quotes a short printable value in the message and names the source', () => {
    expect(thrown(() => parseTenantId('Acme', 'header x-tenant-id')).message).toMatch(/^header x-tenant-id: "Acme"/);
  });

  it('never quotes a long or unprintable value', () => {
    const long = 'X'.repeat(500);
    expect(thrown(() => parseTenantId(long, 'test')).message).not.toContain('XXXXXXXX');
    expect(thrown(() => parseTenantId('a\u0000\u001b[31m', 'test')).message).not.toContain('\u001b');
  });
});

describe('normalizeHost', () => {
  it.each([
    ['acme.example.com', 'acme.example.com'],
    ['ACME.Example.COM', 'acme.example.com'],
    ['acme.example.com:8443', 'acme.example.com'],
    ['acme.example.com.', 'acme.example.com'],
    ['acme.example.com.:80', 'acme.example.com'],
    ['localhost:3000', 'localhost'],
    ['xn--80ak6aa92e.com', 'xn--80ak6aa92e.com'],
    ['a-b.c-d.example', 'a-b.c-d.example'],
    [`${'a'.repeat(63)}.com`, `${'a'.repeat(63)}.com`],
  ])('normalizes %s to %s', (raw, host) => {
    expect(normalizeHost(raw)).toBe(host);
  });

  it.each(['127.0.0.1', '127.0.0.1:3000', '10.1', '0x7f.0.0.1', '[::1]', '[::1]:3000', '[2001:db8::1]:443', '[::ffff:127.0.0.1]'])(
    'returns undefined for the IP literal %s',
    (raw) => {
      expect(normalizeHost(raw)).toBeUndefined();
    },
  );

  it.each([
    ['an empty host', ''],
    ['a Cyrillic look-alike', '\u0430cme.example.com'],
    ['a Unicode IDN', 'bücher.example.com'],
    ['a fullwidth dot', 'acme\uff0eexample.com'],
    ['whitespace', 'acme .example.com'],
    ['userinfo', 'evil@acme.example.com'],
    ['a slash', 'acme.example.com/x'],
    ['a backslash', 'acme.example.com\\x'],
    ['percent-encoding', 'acme%2eexample.com'],
    ['an underscore', 'ac_me.example.com'],
    ['an empty label', 'acme..example.com'],
    ['a leading dot', '.example.com'],
    ['a label starting with a dash', '-acme.example.com'],
    ['a label ending with a dash', 'acme-.example.com'],
    ['a label of 64 characters', `${'a'.repeat(64)}.com`],
    ['a name over 253 characters', `${'abcdefghi.'.repeat(26)}com`],
    ['a huge value', 'a'.repeat(100_000)],
    ['a non-numeric port', 'acme.example.com:http'],
    ['an empty port', 'acme.example.com:'],
    ['a port over 65535', 'acme.example.com:65536'],
    ['a port of six digits', 'acme.example.com:000080'],
    ['two colons', 'acme.example.com:80:80'],
    ['a bare IPv6 address', '::1'],
    ['a malformed IPv6 literal', '[::1'],
    ['garbage after an IPv6 literal', '[::1]x'],
    ['a control character in an IPv6 literal', '[::\u001a1]'],
    ['only a dot', '.'],
  ])('throws INVALID_TENANT_ID for %s', (_, raw) => {
    expect(() => normalizeHost(raw)).toThrow(INVALID);
  });
});

describe('requestHost', () => {
  it('reads the Host header', () => {
    expect(requestHost(withHeaders({ Host: 'acme.example.com' }), DIRECT)).toBe('acme.example.com');
  });

  it('ignores a forged X-Forwarded-Host without trustProxy', () => {
    const request = withHeaders({ host: 'acme.example.com', 'x-forwarded-host': 'globex.example.com' });
    expect(requestHost(request, DIRECT)).toBe('acme.example.com');
  });

  it('uses the first X-Forwarded-Host value, trimmed, with trustProxy', () => {
    const request = withHeaders({ host: 'internal:8080', 'x-forwarded-host': ' globex.example.com , proxy.local' });
    expect(requestHost(request, BEHIND_PROXY)).toBe('globex.example.com');
  });

  it('falls back to Host with trustProxy when no X-Forwarded-Host is present', () => {
    expect(requestHost(withHeaders({ host: 'acme.example.com' }), BEHIND_PROXY)).toBe('acme.example.com');
  });

  it('returns undefined without a host, or when the chosen value is empty', () => {
    expect(requestHost(withHeaders({}), DIRECT)).toBeUndefined();
    expect(requestHost(withHeaders({ host: '' }), DIRECT)).toBeUndefined();
    expect(requestHost(withHeaders({ host: 'acme.example.com', 'x-forwarded-host': ' , x' }), BEHIND_PROXY)).toBeUndefined();
  });
});
