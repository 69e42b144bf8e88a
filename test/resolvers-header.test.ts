import { describe, expect, it } from 'vitest';
import { fromHeader } from '../src/router/resolvers/index.js';
import { DIRECT, thrown, withHeaders } from './helpers/request.js';

const INVALID = expect.objectContaining({ code: 'INVALID_TENANT_ID' });

describe('fromHeader', () => {
  it('resolves the tenant id from x-tenant-id by default, synchronously', () => {
    const result = fromHeader().resolve(withHeaders({ 'X-Tenant-Id': 'acme' }), DIRECT);
    expect(result).toEqual({ kind: 'id', value: 'acme', source: 'header' });
  });

  it('resolves nothing when the header is absent', () => {
    expect(fromHeader().resolve(withHeaders({ host: 'acme.example.com' }), DIRECT)).toBeUndefined();
  });

  it('matches a custom header name case-insensitively and can name a slug', () => {
    const resolver = fromHeader({ name: 'X-Org-Slug', kind: 'slug' });
    expect(resolver.resolve(withHeaders({ 'x-org-slug': 'globex' }), DIRECT)).toEqual({ kind: 'slug', value: 'globex', source: 'header' });
  });

  it.each([
    ['empty', ''],
    ['whitespace only', '   '],
    ['upper case (never lowercased)', 'ACME'],
    ['padded with spaces (never trimmed)', ' acme '],
    ['two values joined by a proxy', 'acme, globex'],
    ['a Cyrillic look-alike', '\u0430cme'],
    ['a path traversal', '../globex'],
    ['64 characters', 'a'.repeat(64)],
  ])('throws INVALID_TENANT_ID for a header value that is %s', (_, value) => {
    expect(() => fromHeader().resolve(withHeaders({ 'x-tenant-id': value }), DIRECT)).toThrow(INVALID);
  });

  it('rejects a huge header value without quoting it', () => {
    const err = thrown(() => fromHeader().resolve(withHeaders({ 'x-tenant-id': 'a'.repeat(1_000_000) }), DIRECT));
    expect(err).toMatchObject({ code: 'INVALID_TENANT_ID' });
    expect(err.message.length).toBeLessThan(200);
  });

  it.each([
    [{ name: '' }, /name/],
    [{ name: 'x tenant' }, /name/],
    [{ name: 42 }, /name/],
    [{ kind: 'domain' }, /kind/],
  ])('throws a TypeError naming the option for %j', (options, pattern) => {
    expect(() => fromHeader(options as never)).toThrow(TypeError);
    expect(() => fromHeader(options as never)).toThrow(pattern);
  });
});
