import { describe, expect, it } from 'vitest';
import { fromPath } from '../src/router/resolvers/index.js';
import { DIRECT, requestView } from './helpers/request.js';

const INVALID = expect.objectContaining({ code: 'INVALID_TENANT_ID' });
const at = (path: string) => requestView({ path });

describe('fromPath', () => {
  it('resolves the segment after /t by default', () => {
    expect(fromPath().resolve(at('/t/acme'), DIRECT)).toEqual({ kind: 'id', value: 'acme', source: 'path' });
    expect(fromPath().resolve(at('/t/acme/notes/1'), DIRECT)).toEqual({ kind: 'id', value: 'acme', source: 'path' });
  });

  it('uses a custom prefix and kind', () => {
    const resolver = fromPath({ prefix: '/api/orgs', kind: 'slug' });
    expect(resolver.resolve(at('/api/orgs/globex/users'), DIRECT)).toEqual({ kind: 'slug', value: 'globex', source: 'path' });
    expect(resolver.resolve(at('/api/org/globex'), DIRECT)).toBeUndefined();
  });

  it.each(['/', '/notes', '/t', '/tx/acme', '/T/acme', '/a/t/acme', ''])('resolves nothing for %j', (path) => {
    expect(fromPath().resolve(at(path), DIRECT)).toBeUndefined();
  });

  it.each([
    ['an empty segment', '/t/'],
    ['a double slash', '/t//acme'],
    ['an encoded slash', '/t/acme%2fglobex'],
    ['an encoded dot-dot', '/t/%2e%2e/admin'],
    ['a dot-dot segment', '/t/../admin'],
    ['a NUL byte', '/t/acme\u0000'],
    ['upper case', '/t/Acme'],
    ['a Cyrillic look-alike', '/t/\u0430cme'],
    ['an overlong segment', `/t/${'a'.repeat(64)}`],
    ['a huge segment', `/t/${'a'.repeat(100_000)}/x`],
  ])('throws INVALID_TENANT_ID for %s', (_, path) => {
    expect(() => fromPath().resolve(at(path), DIRECT)).toThrow(INVALID);
  });

  it.each([['t'], ['/t/'], ['/'], [''], ['/t%20x'], ['/a//b'], [42]])('rejects the prefix %j with a TypeError naming it', (prefix) => {
    expect(() => fromPath({ prefix: prefix as string })).toThrow(TypeError);
    expect(() => fromPath({ prefix: prefix as string })).toThrow(/prefix/);
  });

  it('rejects an unknown kind', () => {
    expect(() => fromPath({ kind: 'domain' as never })).toThrow(/kind/);
  });
});
