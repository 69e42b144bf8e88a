import { describe, expect, it } from 'vitest';
import { compareSemVer, parseRange, parseSemVer, satisfies } from '../src/apps/index.js';

const v = (text: string) => {
  const parsed = parseSemVer(text);
  if (parsed === undefined) throw new Error(`not a version: ${text}`);
  return parsed;
};
const inRange = (version: string, range: string) => satisfies(v(version), parseRange(range)!);

describe('app versions and dependency ranges', () => {
  it('parses semantic versions and refuses what is not one', () => {
    expect(parseSemVer('1.2.3-beta.1+build.5')).toEqual({ major: 1, minor: 2, patch: 3, prerelease: ['beta', '1'] });
    for (const bad of ['1.2', 'v1.2.3', '01.2.3', '1.2.3-', '1.2.3-01', '1.2.3 ', '', '1.2.3-beta..1', '99999999999999999999.0.0']) {
      expect(parseSemVer(bad), bad).toBeUndefined();
    }
  });

  it('orders versions by semver precedence', () => {
    const ordered = ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0', '1.0.1', '1.1.0', '2.0.0'];
    for (let i = 1; i < ordered.length; i++) expect(compareSemVer(v(ordered[i - 1]!), v(ordered[i]!)), `${ordered[i - 1]} < ${ordered[i]}`).toBeLessThan(0);
    expect(compareSemVer(v('1.0.0+a'), v('1.0.0+b'))).toBe(0);
  });

  it('matches ranges: caret, tilde, comparators, exact and any', () => {
    expect(inRange('1.9.9', '^1.2.0')).toBe(true);
    expect(inRange('2.0.0', '^1.2.0')).toBe(false);
    expect(inRange('0.2.9', '^0.2.3')).toBe(true);
    expect(inRange('0.3.0', '^0.2.3')).toBe(false);
    expect(inRange('0.0.4', '^0.0.3')).toBe(false);
    expect(inRange('1.2.9', '~1.2.3')).toBe(true);
    expect(inRange('1.3.0', '~1.2.3')).toBe(false);
    expect(inRange('1.5.0', '>=1.2.0 <2.0.0')).toBe(true);
    expect(inRange('1.2.3', '1.2.3')).toBe(true);
    expect(inRange('1.2.4', '=1.2.3')).toBe(false);
    expect(inRange('7.0.0', '*')).toBe(true);
  });

  it('admits a pre-release only where the range names one of the same version', () => {
    expect(inRange('2.0.0-beta.1', '^1.0.0')).toBe(false);
    expect(inRange('1.5.0-beta.1', '^1.0.0')).toBe(false);
    expect(inRange('2.0.0-beta.2', '>=2.0.0-beta.1')).toBe(true);
    expect(inRange('2.0.1-beta.2', '>=2.0.0-beta.1')).toBe(false);
    expect(inRange('2.0.0-beta.1', '*')).toBe(false);
  });

  it('refuses what is not a range', () => {
    for (const bad of ['', '^1.2', '1.x', '>= 1.2.3', '1.2.3 || 2.0.0', '1.2.3 - 2.0.0', 'latest']) expect(parseRange(bad), bad).toBeUndefined();
  });
});
