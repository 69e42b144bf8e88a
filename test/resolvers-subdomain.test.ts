import { describe, expect, it } from 'vitest';
import { fromSubdomain } from '../src/router/resolvers/index.js';
import { BEHIND_PROXY, DIRECT, withHeaders } from './helpers/request.js';

const INVALID = expect.objectContaining({ code: 'INVALID_TENANT_ID' });
const host = (value: string) => withHeaders({ host: value });
const slug = (value: string) => ({ kind: 'slug', value, source: 'subdomain' });

describe('fromSubdomain', () => {
  const resolver = fromSubdomain({ baseDomains: ['example.com'] });

  it('resolves the first label under a base domain as a slug', () => {
    expect(resolver.resolve(host('acme.example.com'), DIRECT)).toEqual(slug('acme'));
  });

  it('strips the port and a trailing dot and lowercases the host', () => {
    expect(resolver.resolve(host('ACME.Example.com.:8443'), DIRECT)).toEqual(slug('acme'));
  });

  it('resolves nothing for the apex, www, IP addresses, localhost, no host, or a host under no base domain', () => {
    for (const value of ['example.com', 'example.com:443', 'www.example.com', '127.0.0.1:3000', '[::1]:3000', 'localhost', 'acme.example.org', 'notexample.com', 'acme.notexample.com']) {
      expect(resolver.resolve(host(value), DIRECT), value).toBeUndefined();
    }
    expect(resolver.resolve(withHeaders({}), DIRECT)).toBeUndefined();
  });

  it('throws on a nested subdomain instead of resolving one of its labels', () => {
    expect(() => resolver.resolve(host('acme.globex.example.com'), DIRECT)).toThrow(INVALID);
    expect(() => resolver.resolve(host('www.acme.example.com'), DIRECT)).toThrow(INVALID);
  });

  it('accepts a punycode label that is a valid id and rejects Unicode look-alikes', () => {
    expect(resolver.resolve(host('xn--acme-9za.example.com'), DIRECT)).toEqual(slug('xn--acme-9za'));
    expect(() => resolver.resolve(host('\u0430cme.example.com'), DIRECT)).toThrow(INVALID);
    expect(() => resolver.resolve(host('acmé.example.com'), DIRECT)).toThrow(INVALID);
  });

  it.each([
    ['an underscore', 'ac_me.example.com'],
    ['userinfo', 'globex@acme.example.com'],
    ['an overlong label', `${'a'.repeat(64)}.example.com`],
    ['an empty label', '.example.com'],
    ['a bad port', 'acme.example.com:x'],
  ])('throws INVALID_TENANT_ID for a host with %s', (_, value) => {
    expect(() => resolver.resolve(host(value), DIRECT)).toThrow(INVALID);
  });

  it('ignores a forged X-Forwarded-Host without trustProxy', () => {
    const request = withHeaders({ host: 'acme.example.com', 'x-forwarded-host': 'globex.example.com' });
    expect(resolver.resolve(request, DIRECT)).toEqual(slug('acme'));
  });

  it('uses the first X-Forwarded-Host value with trustProxy', () => {
    const request = withHeaders({ host: 'app-internal:8080', 'x-forwarded-host': 'globex.example.com, edge.example.net' });
    expect(resolver.resolve(request, BEHIND_PROXY)).toEqual(slug('globex'));
  });

  it('answers a repeated host like the first time, and never remembers a refused one', () => {
    const fresh = fromSubdomain({ baseDomains: ['example.com'] });
    // Fresh strings, as the HTTP parser makes them for each request.
    const again = (value: string) => host([...value].join(''));
    const first = fresh.resolve(again('acme.example.com'), DIRECT);
    expect(first).toEqual(slug('acme'));
    expect(fresh.resolve(again('acme.example.com'), DIRECT)).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(fresh.resolve(again('www.example.com'), DIRECT)).toBeUndefined();
    expect(fresh.resolve(again('www.example.com'), DIRECT)).toBeUndefined();
    expect(fresh.resolve(again('globex.example.com'), DIRECT)).toEqual(slug('globex'));
    for (let i = 0; i < 2; i++) expect(() => fresh.resolve(again('a.b.example.com'), DIRECT)).toThrow(INVALID);
    expect(fresh.resolve(again('globex.example.com'), DIRECT)).toEqual(slug('globex'));
    expect(() => fresh.resolve(again('a.b.example.com'), DIRECT)).toThrow(INVALID);
    // The forwarded host is what is remembered behind a proxy, not the Host header.
    const proxied = (forwarded: string) => withHeaders({ host: 'app-internal:8080', 'x-forwarded-host': forwarded });
    expect(fresh.resolve(proxied('acme.example.com'), BEHIND_PROXY)).toEqual(slug('acme'));
    expect(fresh.resolve(proxied('globex.example.com'), BEHIND_PROXY)).toEqual(slug('globex'));
    expect(fresh.resolve(proxied('globex.example.com'), DIRECT)).toBeUndefined();
  });

  it('picks the longest matching base domain when base domains nest', () => {
    const nested = fromSubdomain({ baseDomains: ['example.com', 'app.example.com'] });
    expect(nested.resolve(host('acme.app.example.com'), DIRECT)).toEqual(slug('acme'));
    expect(nested.resolve(host('app.example.com'), DIRECT)).toBeUndefined();
    expect(nested.resolve(host('globex.example.com'), DIRECT)).toEqual(slug('globex'));
    expect(() => nested.resolve(host('a.b.app.example.com'), DIRECT)).toThrow(INVALID);
  });

  it('lowercases base domains and honours a custom ignore list', () => {
    const custom = fromSubdomain({ baseDomains: ['App.Example.COM'], ignore: ['api', 'Admin'] });
    expect(custom.resolve(host('acme.app.example.com'), DIRECT)).toEqual(slug('acme'));
    expect(custom.resolve(host('api.app.example.com'), DIRECT)).toBeUndefined();
    expect(custom.resolve(host('admin.app.example.com'), DIRECT)).toBeUndefined();
    expect(custom.resolve(host('www.app.example.com'), DIRECT)).toEqual(slug('www'));
  });

  it.each([
    [undefined],
    [[]],
    ['example.com'],
    [['']],
    [['example.com:443']],
    [['https://example.com']],
    [['*.example.com']],
    [['bücher.example']],
    [['127.0.0.1']],
    [['example.com.']],
  ])('rejects baseDomains %j with a TypeError naming it', (baseDomains) => {
    expect(() => fromSubdomain({ baseDomains } as never)).toThrow(TypeError);
    expect(() => fromSubdomain({ baseDomains } as never)).toThrow(/baseDomains/);
  });

  it('rejects a bad ignore list and missing options with a TypeError', () => {
    expect(() => fromSubdomain({ baseDomains: ['example.com'], ignore: 'www' as never })).toThrow(/ignore/);
    expect(() => fromSubdomain({ baseDomains: ['example.com'], ignore: ['a.b'] })).toThrow(/ignore/);
    expect(() => fromSubdomain(undefined as never)).toThrow(TypeError);
  });
});
