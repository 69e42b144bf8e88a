/**
 * App manifests: an installable package of objects for one tenant database, its version,
 * the apps it needs, and rows to seed. Validated with zod; the objects and the seed follow the
 * deploy bundle's rules exactly (the bundle's schema checks them).
 */
import { z } from 'zod';
import { DeployBundleSchema } from '../schema/bundle.js';
import type { DeployBundleInput, DeployManifestInput, ObjectDefinition } from '../schema/bundle.js';
import { SchemaError, formatPath, issuesMessage } from '../schema/errors.js';
import type { SchemaIssue } from '../schema/errors.js';
import { parseRange, parseSemVer } from './semver.js';

const APP_NAME = /^[a-z][a-z0-9_]*$/;
const MAX_APP_NAME_LENGTH = 63;

/** Why `name` cannot be an app name, or `undefined` when it can. */
export function appNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return 'an app name must be a string';
  if (!APP_NAME.test(name)) return `app names must be snake_case: lowercase letters, digits and "_", starting with a letter (got ${JSON.stringify(name)})`;
  if (name.length > MAX_APP_NAME_LENGTH) return `app names are at most ${MAX_APP_NAME_LENGTH} characters (got ${name.length})`;
  return undefined;
}

/** A dependency as written: `"crm"` (any version) or `"crm@^1.2.0"` (see `parseRange`). */
export interface AppDependency {
  /** The app depended on. */
  name: string;
  /** The versions accepted, as written; `*` when the entry names no range. */
  range: string;
}

/** Splits `"name@range"`; `undefined` range when there is no `@`. */
export function splitDependency(entry: string): { name: string; range: string | undefined } {
  const at = entry.indexOf('@');
  return at === -1 ? { name: entry, range: undefined } : { name: entry.slice(0, at), range: entry.slice(at + 1) };
}

/** The dependencies of a manifest, parsed (the manifest was validated). */
export function dependenciesOf(manifest: AppManifest): AppDependency[] {
  return (manifest.dependencies ?? []).map((entry) => {
    const { name, range } = splitDependency(entry);
    return { name, range: range === undefined ? '*' : range.trim() };
  });
}

const SeedValueSchema = z.union([z.string().refine((s) => !s.includes('\0'), 'a seed value cannot contain a NUL character'), z.number(), z.boolean(), z.null()]);
const SeedSchema = z.record(z.string(), z.array(z.record(z.string(), SeedValueSchema)));

/**
 * An app manifest. `name` (snake_case) identifies the app in a tenant; `version` is a
 * semantic version (`1.4.0`, `2.0.0-beta.1`); `objects` are deploy-bundle objects (the same
 * field types, names and indexes); `dependencies` lists apps that must be installed first, each
 * `"name"` or `"name@range"` (`^1.2.0`, `~1.2.0`, `>=1.2.0 <2.0.0`, `1.2.3`, `*`); `seed` maps
 * objects to rows inserted when the object is created. `label` and `description` are for people.
 *
 * @example
 * const invoicing = parseAppManifest({
 *   name: 'invoicing', version: '1.0.0', dependencies: ['crm@^1.0.0'],
 *   objects: [{ name: 'invoices', fields: [{ name: 'total', type: 'number', required: true }] }],
 * });
 */
export const AppManifestSchema = z
  .strictObject({
    name: z.string().superRefine((name, ctx) => {
      const problem = appNameProblem(name);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
    }),
    version: z.string().refine((v) => parseSemVer(v) !== undefined, 'the version must be a semantic version MAJOR.MINOR.PATCH (e.g. 1.0.0, 2.1.0-beta.1)'),
    label: z.string().min(1).max(200).optional(),
    description: z.string().max(10_000).optional(),
    dependencies: z.array(z.string()).optional(),
    // checked below with the deploy bundle's schema (each problem reported once, with its path)
    objects: z.array(z.unknown()),
    seed: z.unknown().optional(),
  })
  .superRefine((manifest, ctx) => {
    const seen = new Map<string, number>();
    (manifest.dependencies ?? []).forEach((entry, i) => {
      const at = ['dependencies', i];
      const { name, range } = splitDependency(entry);
      const problem = appNameProblem(name);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', path: at, message: `${problem}; write "name" or "name@range"` });
      else if (name === manifest.name) ctx.addIssue({ code: 'custom', path: at, message: 'an app cannot depend on itself' });
      else if (seen.has(name)) ctx.addIssue({ code: 'custom', path: at, message: `"${name}" is listed twice (also dependencies[${seen.get(name)}])` });
      else seen.set(name, i);
      if (range !== undefined && parseRange(range) === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: at,
          message: `"${range}" is not a version range: use *, 1.2.3, ^1.2.3, ~1.2.3 or comparators (>=, >, <=, <, =) separated by spaces`,
        });
      }
    });
    // objects and seed: the deploy bundle's own rules, plus no NUL in seed strings
    const bundle = DeployBundleSchema.safeParse({ manifest: { version: manifest.version, objects: manifest.objects }, ...(manifest.seed === undefined ? {} : { seed: manifest.seed }) });
    if (!bundle.success) {
      for (const issue of bundle.error.issues) {
        const path = issue.path[0] === 'manifest' ? issue.path.slice(1) : issue.path;
        ctx.addIssue({ code: 'custom', path: path as PropertyKey[], message: issue.message });
      }
    }
    if (manifest.seed !== undefined) {
      const seed = SeedSchema.safeParse(manifest.seed);
      if (!seed.success) for (const issue of seed.error.issues) ctx.addIssue({ code: 'custom', path: ['seed', ...issue.path] as PropertyKey[], message: issue.message });
    }
  });

/** A validated app manifest. */
export interface AppManifest {
  name: string;
  version: string;
  label?: string | undefined;
  description?: string | undefined;
  dependencies?: string[] | undefined;
  objects: ObjectDefinition[];
  seed?: Record<string, Record<string, string | number | boolean | null>[]> | undefined;
}
/** An app manifest as written (the same shape: nothing is defaulted). */
export interface AppManifestInput {
  name: string;
  version: string;
  label?: string | undefined;
  description?: string | undefined;
  dependencies?: string[] | undefined;
  objects: DeployManifestInput['objects'];
  seed?: DeployBundleInput['seed'];
}

/** The outcome of {@link safeParseAppManifest}. */
export type AppManifestParseResult = { success: true; manifest: AppManifest } | { success: false; issues: SchemaIssue[] };

/**
 * Validates a manifest without throwing: every problem with its path (`objects[0].fields[1].name`).
 *
 * @example
 * const result = safeParseAppManifest(JSON.parse(text));
 * if (!result.success) for (const issue of result.issues) console.error(`${issue.path}: ${issue.message}`);
 */
export function safeParseAppManifest(input: unknown): AppManifestParseResult {
  const result = AppManifestSchema.safeParse(input);
  if (result.success) return { success: true, manifest: result.data as AppManifest };
  return { success: false, issues: result.error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message })) };
}

/**
 * Validates a manifest; throws a `SchemaError` with code `INVALID_BUNDLE` whose `issues` name
 * every path.
 */
export function parseAppManifest(input: unknown): AppManifest {
  const result = safeParseAppManifest(input);
  if (!result.success) throw new SchemaError('INVALID_BUNDLE', issuesMessage('invalid app manifest', result.issues), { issues: result.issues });
  return result.manifest;
}
