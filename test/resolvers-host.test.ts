import { describe, expect, it } from 'vitest';
import { fromHost } from '../src/router/resolvers/index.js';
import { BEHIND_PROXY, DIRECT, withHeaders } from './helpers/request.js';

const host = (value: string) => withHeaders({ host: value });
const domain = (value: string) => ({ kind: 'domain', value, source: 'host' });

describe('fromHost', () => {
  it('resolves the normalized host as a custom domain', () => {
    expect(fromHost().resolve(host('Notes.Acme.COM:443'), DIRECT)).toEqual(domain('notes.acme.com'));
    expect(fromHost().resolve(host('xn--bcher-kva.example.'), DIRECT)).toEqual(domain('xn--bcher-kva.example'));
  });

  it('resolves nothing without a host, for IP addresses, localhost and single-label hosts', () => {
    for (const value of ['127.0.0.1', '[::1]:3000', '192.168.0.10:80', 'localhost', 'localhost:3000', 'acme.localhost', 'api']) {
      expect(fromHost().resolve(host(value), DIRECT), value).toBeUndefined();
    }
    expect(fromHost().resolve(withHeaders({}), DIRECT)).toBeUndefined();
  });

  it('leaves hosts equal to or under an ignored domain to other resolvers', () => {
    const resolver = fromHost({ ignore: ['App.Example.com'] });
    expect(resolver.resolve(host('app.example.com'), DIRECT)).toBeUndefined();
    expect(resolver.resolve(host('acme.app.example.com'), DIRECT)).toBeUndefined();
    expect(resolver.resolve(host('a.b.app.example.com'), DIRECT)).toBeUndefined();
    expect(resolver.resolve(host('myapp.example.com'), DIRECT)).toEqual(domain('myapp.example.com'));
    expect(resolver.resolve(host('notes.acme.com'), DIRECT)).toEqual(domain('notes.acme.com'));
  });

  it('throws INVALID_TENANT_ID for an invalid host', () => {
    for (const value of ['\u0430cme.com', 'bücher.example', 'evil.com/x', 'a b.com', 'acme..com']) {
      expect(() => fromHost().resolve(host(value), DIRECT), value).toThrow(expect.objectContaining({ code: 'INVALID_TENANT_ID' }));
    }
  });

  it('reads X-Forwarded-Host only with trustProxy', () => {
    const request = withHeaders({ host: 'notes.acme.com', 'x-forwarded-host': 'evil.example.net' });
    expect(fromHost().resolve(request, DIRECT)).toEqual(domain('notes.acme.com'));
    expect(fromHost().resolve(request, BEHIND_PROXY)).toEqual(domain('evil.example.net'));
  });

  it('rejects an invalid ignore option with a TypeError naming it', () => {
    expect(() => fromHost({ ignore: 'example.com' as never })).toThrow(/ignore/);
    expect(() => fromHost({ ignore: ['example.com:80'] })).toThrow(/ignore/);
    expect(() => fromHost({ ignore: [''] })).toThrow(TypeError);
  });
});
