/**
 * Semantic versions (https://semver.org) and the small range language of app dependencies:
 * enough to say "needs crm 1.2 or later, before 2.0", nothing more.
 */

/** A parsed semantic version. */
export interface SemVer {
  major: number;
  minor: number;
  patch: number;
  /** Pre-release identifiers (`1.0.0-beta.2` → `['beta', '2']`); empty for a release. */
  prerelease: string[];
}

// semver.org's grammar: no leading zeros in numbers, dot-separated identifiers, optional build
const NUMBER = '0|[1-9]\\d*';
const IDENT = '(?:0|[1-9]\\d*|\\d*[a-zA-Z-][0-9a-zA-Z-]*)';
const VERSION = `(${NUMBER})\\.(${NUMBER})\\.(${NUMBER})(?:-(${IDENT}(?:\\.${IDENT})*))?(?:\\+[0-9a-zA-Z-]+(?:\\.[0-9a-zA-Z-]+)*)?`;
const VERSION_RE = new RegExp(`^${VERSION}$`);
const COMPARATOR_RE = new RegExp(`^(\\^|~|>=|<=|>|<|=)?${VERSION}$`);
/** Longest version string accepted (versions are stored and compared, never executed). */
const MAX_LENGTH = 128;

/** The version `text` as a {@link SemVer}, or `undefined` when it is not one (`1.2`, `v1.2.3`, `01.2.3`). */
export function parseSemVer(text: string): SemVer | undefined {
  if (typeof text !== 'string' || text.length > MAX_LENGTH) return undefined;
  const m = VERSION_RE.exec(text);
  return m === null ? undefined : fromMatch(m, 1);
}

function fromMatch(m: RegExpExecArray, at: number): SemVer | undefined {
  const [major, minor, patch] = [Number(m[at]), Number(m[at + 1]), Number(m[at + 2])];
  if (!Number.isSafeInteger(major) || !Number.isSafeInteger(minor) || !Number.isSafeInteger(patch)) return undefined;
  return { major, minor, patch, prerelease: m[at + 3] === undefined ? [] : m[at + 3]!.split('.') };
}

/** Negative when `a` precedes `b`, 0 when they have the same precedence (build metadata ignored), positive otherwise. */
export function compareSemVer(a: SemVer, b: SemVer): number {
  if (a.major !== b.major) return a.major - b.major;
  if (a.minor !== b.minor) return a.minor - b.minor;
  if (a.patch !== b.patch) return a.patch - b.patch;
  // a release follows its pre-releases
  if (a.prerelease.length === 0 || b.prerelease.length === 0) return b.prerelease.length - a.prerelease.length;
  for (let i = 0; i < Math.max(a.prerelease.length, b.prerelease.length); i++) {
    const x = a.prerelease[i];
    const y = b.prerelease[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    if (x === y) continue;
    const xn = /^\d+$/.test(x);
    const yn = /^\d+$/.test(y);
    if (xn && yn) return Number(x) - Number(y);
    if (xn !== yn) return xn ? -1 : 1; // numeric identifiers sort first
    return x < y ? -1 : 1;
  }
  return 0;
}

interface Comparator {
  op: '>=' | '<=' | '>' | '<' | '=';
  version: SemVer;
  /** The `-0` upper bound `^` and `~` imply: not written by the user, so it admits no pre-release. */
  implied?: true;
}

/** A parsed range: comparators that must all hold (empty for `*`). */
export interface SemVerRange {
  /** The range as written. */
  text: string;
  comparators: Comparator[];
}

/**
 * Parses a range: `*` (any version), or comparators separated by spaces that must all hold, each
 * `[op]MAJOR.MINOR.PATCH[-pre]` with op one of `^` (same major: `^1.2.3` is `>=1.2.3 <2.0.0`;
 * `^0.2.3` is `>=0.2.3 <0.3.0`), `~` (same minor: `~1.2.3` is `>=1.2.3 <1.3.0`), `>=`, `>`,
 * `<=`, `<`, `=` or none (exactly that version). No `||`, hyphen ranges or `x` wildcards.
 * `undefined` when `text` is not such a range.
 */
export function parseRange(text: string): SemVerRange | undefined {
  if (typeof text !== 'string' || text.length > MAX_LENGTH) return undefined;
  const trimmed = text.trim();
  if (trimmed === '*') return { text: trimmed, comparators: [] };
  const parts = trimmed.split(/\s+/);
  const comparators: Comparator[] = [];
  for (const part of parts) {
    const m = COMPARATOR_RE.exec(part);
    const version = m === null ? undefined : fromMatch(m, 2);
    if (m === null || version === undefined) return undefined;
    const op = m[1] ?? '=';
    if (op === '^') {
      const upper: SemVer =
        version.major > 0
          ? { major: version.major + 1, minor: 0, patch: 0, prerelease: ['0'] }
          : version.minor > 0
            ? { major: 0, minor: version.minor + 1, patch: 0, prerelease: ['0'] }
            : { major: 0, minor: 0, patch: version.patch + 1, prerelease: ['0'] };
      comparators.push({ op: '>=', version }, { op: '<', version: upper, implied: true });
    } else if (op === '~') {
      const upper: SemVer = { major: version.major, minor: version.minor + 1, patch: 0, prerelease: ['0'] };
      comparators.push({ op: '>=', version }, { op: '<', version: upper, implied: true });
    } else {
      comparators.push({ op: op as Comparator['op'], version });
    }
  }
  return { text: trimmed, comparators };
}

/**
 * True when `version` is in `range`. As with npm, a pre-release (`2.0.0-beta.1`) only satisfies a
 * range that names a pre-release of the same `MAJOR.MINOR.PATCH` (`>=2.0.0-beta.0`).
 */
export function satisfies(version: SemVer, range: SemVerRange): boolean {
  for (const { op, version: bound } of range.comparators) {
    const c = compareSemVer(version, bound);
    const ok = op === '>=' ? c >= 0 : op === '<=' ? c <= 0 : op === '>' ? c > 0 : op === '<' ? c < 0 : c === 0;
    if (!ok) return false;
  }
  if (version.prerelease.length === 0) return true;
  return range.comparators.some(
    (c) => c.implied !== true && c.version.prerelease.length > 0 && c.version.major === version.major && c.version.minor === version.minor && c.version.patch === version.patch,
  );
}
