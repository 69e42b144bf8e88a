/**
 * The diff: what differs between a current and a desired schema, object by object, field by
 * field, index by index. Names are matched as SQLite matches them (ASCII case-insensitively);
 * a rename is only ever one that the desired side declares with `renamedFrom`.
 */
import { fieldTypeOf, parseBundle, parseManifest, schemaFromManifest } from './bundle.js';
import type { FieldType } from './bundle.js';
import { parseSchemaDefinition, schemaFingerprint } from './definition.js';
import { affinityOf, foldName, isNullDefault, normalizeType } from './sql.js';
import type {
  ColumnDefinition,
  DeployDiff,
  DesiredSchema,
  FieldChange,
  IndexDefinition,
  ObjectDiff,
  SchemaChange,
  SchemaDefinition,
  TableDefinition,
} from './types.js';

/**
 * Type changes that keep every value: the target type reads each old value as the same thing
 * (a number as its text, a date as a date-time at midnight...). Any other type change is
 * narrowing, and so destructive.
 */
const WIDENING: Readonly<Record<FieldType, readonly FieldType[]>> = {
  boolean: ['number', 'text'],
  number: ['text'],
  date: ['datetime', 'text'],
  datetime: ['text'],
  uuid: ['text'],
  json: ['text'],
  text: [],
  binary: [],
};

/** The desired schema of `desired`: a definition as given, or the schema of a manifest or bundle. */
export function desiredDefinition(desired: DesiredSchema): SchemaDefinition {
  if (typeof desired !== 'object' || desired === null) {
    throw new TypeError('schema.diff: desired must be a schema definition ({ tables }), a manifest ({ version, objects }) or a bundle ({ manifest })');
  }
  if ('manifest' in desired) return schemaFromManifest(parseBundle(desired).manifest);
  if ('objects' in desired) return schemaFromManifest(parseManifest(desired));
  return parseSchemaDefinition(desired, 'desired');
}

/**
 * Compares `current` (usually from `introspect`) with `desired` (a manifest, a bundle or a
 * schema definition). Objects, fields and indexes are added, removed or changed; an object or
 * field whose `renamedFrom` names a current one that the desired side has not otherwise kept is
 * renamed. Throws a `SchemaError` (`INVALID_BUNDLE` / `INVALID_SCHEMA`) for invalid input.
 *
 * @example
 * const diff = diffSchemas(await introspectDatabase(client), bundle.manifest);
 * if (diff.hasBreakingChanges) console.warn(diff.changes.filter((c) => c.breaking));
 */
export function diffSchemas(current: SchemaDefinition, desired: DesiredSchema): DeployDiff {
  if (typeof current !== 'object' || current === null) throw new TypeError('schema.diff: current must be a schema ({ tables }), as introspect() returns');
  const now = parseSchemaDefinition(current, 'current');
  const want = desiredDefinition(desired);

  const pairs = matchByName(Object.values(now.tables), Object.values(want.tables));
  const changed: ObjectDiff[] = [];
  for (const { current: c, desired: d, renamedFrom } of pairs.matched) {
    const objectDiff = diffObject(c, d, renamedFrom);
    if (
      objectDiff.renamedFrom !== undefined ||
      objectDiff.fields.added.length + objectDiff.fields.removed.length + objectDiff.fields.changed.length > 0 ||
      objectDiff.indexes.added.length + objectDiff.indexes.removed.length > 0
    ) {
      changed.push(objectDiff);
    }
  }
  const changes = describe(pairs.added, pairs.removed, changed);
  return {
    changes,
    summary: {
      added: changes.filter((c) => c.changeType === 'added').length,
      modified: changes.filter((c) => c.changeType === 'modified').length,
      removed: changes.filter((c) => c.changeType === 'removed').length,
    },
    hasBreakingChanges: changes.some((c) => c.breaking),
    dialect: 'sqlite',
    objects: { added: pairs.added, removed: pairs.removed, changed },
    baseFingerprint: schemaFingerprint(now),
    targetFingerprint: schemaFingerprint(want),
  };
}

interface Named {
  name: string;
  renamedFrom?: string;
}

/**
 * Pairs desired items with current ones: first by name, then by `renamedFrom` for the desired
 * items left over (only onto current items nothing else took).
 */
function matchByName<C extends Named, D extends Named>(
  current: readonly C[],
  desired: readonly D[],
): { matched: { current: C; desired: D; renamedFrom?: string }[]; added: D[]; removed: C[] } {
  const byName = new Map(current.map((c) => [foldName(c.name), c]));
  const taken = new Set<C>();
  const matched: { current: C; desired: D; renamedFrom?: string }[] = [];
  const left: D[] = [];
  for (const d of desired) {
    const c = byName.get(foldName(d.name));
    if (c === undefined) left.push(d);
    else {
      taken.add(c);
      matched.push({ current: c, desired: d });
    }
  }
  const added: D[] = [];
  for (const d of left) {
    const c = d.renamedFrom === undefined ? undefined : byName.get(foldName(d.renamedFrom));
    if (c === undefined || taken.has(c)) added.push(d);
    else {
      taken.add(c);
      matched.push({ current: c, desired: d, renamedFrom: c.name });
    }
  }
  // keep the desired order
  const order = new Map(desired.map((d, i) => [d, i]));
  matched.sort((a, b) => order.get(a.desired)! - order.get(b.desired)!);
  return { matched, added, removed: current.filter((c) => !taken.has(c)) };
}

function diffObject(current: TableDefinition, desired: TableDefinition, renamedFrom: string | undefined): ObjectDiff {
  const columns = matchByName(current.columns, desired.columns);
  const changedFields: FieldChange[] = [];
  const renames = new Map<string, string>();
  for (const { current: c, desired: d, renamedFrom: from } of columns.matched) {
    if (from !== undefined) renames.set(foldName(from), d.name);
    const properties = differingProperties(c, d);
    if (properties.length === 0 && from === undefined) continue;
    const change: FieldChange = { name: d.name, current: c, desired: d, properties, narrowing: properties.includes('type') && isNarrowing(c, d) };
    if (from !== undefined) change.renamedFrom = from;
    changedFields.push(change);
  }

  const currentIndexes = new Map(current.indexes.map((i) => [foldName(i.name), i]));
  const desiredIndexes = new Map(desired.indexes.map((i) => [foldName(i.name), i]));
  const addedIndexes: IndexDefinition[] = [];
  const removedIndexes: IndexDefinition[] = [];
  for (const [key, c] of currentIndexes) {
    const d = desiredIndexes.get(key);
    if (d === undefined || !sameIndex(c, d, renames)) removedIndexes.push(c);
  }
  for (const [key, d] of desiredIndexes) {
    const c = currentIndexes.get(key);
    if (c === undefined || !sameIndex(c, d, renames)) addedIndexes.push(d);
  }

  const diff: ObjectDiff = {
    name: desired.name,
    current,
    desired,
    fields: { added: columns.added, removed: columns.removed, changed: changedFields },
    indexes: { added: addedIndexes, removed: removedIndexes },
  };
  if (renamedFrom !== undefined) diff.renamedFrom = renamedFrom;
  return diff;
}

function differingProperties(c: ColumnDefinition, d: ColumnDefinition): FieldChange['properties'] {
  const out: FieldChange['properties'] = [];
  if (normalizeType(c.type) !== normalizeType(d.type)) out.push('type');
  if (c.nullable !== d.nullable) out.push('nullable');
  if (normalizedDefault(c) !== normalizedDefault(d)) out.push('defaultValue');
  if (c.primaryKey !== d.primaryKey) out.push('primaryKey');
  if (c.unique !== d.unique) out.push('unique');
  return out;
}

function normalizedDefault(c: ColumnDefinition): string | undefined {
  return isNullDefault(c.defaultValue) ? undefined : c.defaultValue!.trim();
}

/** Same index once the current one's columns are renamed as the diff renames them. */
function sameIndex(c: IndexDefinition, d: IndexDefinition, renames: ReadonlyMap<string, string>): boolean {
  const cx = c as IndexDefinition & { partial?: boolean; expression?: boolean };
  const dx = d as IndexDefinition & { partial?: boolean; expression?: boolean };
  if (c.unique !== d.unique || (cx.partial === true) !== (dx.partial === true) || (cx.expression === true) !== (dx.expression === true)) return false;
  if (cx.partial === true || cx.expression === true) return false; // cannot compare the WHERE / expression: replaced
  if (c.columns.length !== d.columns.length) return false;
  return c.columns.every((name, i) => foldName(renames.get(foldName(name)) ?? name) === foldName(d.columns[i]!));
}

/** True when changing `c`'s type to `d`'s may lose or reinterpret values. */
export function isNarrowing(c: ColumnDefinition, d: ColumnDefinition): boolean {
  const from = c.fieldType ?? fieldTypeOf(normalizeType(c.type));
  const to = d.fieldType ?? fieldTypeOf(normalizeType(d.type));
  if (from !== undefined && to !== undefined) return from !== to && !WIDENING[from].includes(to);
  // declared types that are no field type: judge by what SQLite's affinity does to stored values
  const a = affinityOf(c.type);
  const b = affinityOf(d.type);
  if (a === b) return false;
  if (b === 'BLOB') return false; // no conversion at all
  if (b === 'TEXT') return a === 'BLOB';
  if (a === 'INTEGER' && (b === 'REAL' || b === 'NUMERIC')) return false;
  return true;
}

/** The protocol's flat list of changes. */
function describe(added: TableDefinition[], removed: TableDefinition[], changed: ObjectDiff[]): SchemaChange[] {
  const out: SchemaChange[] = [];
  for (const t of added) out.push({ entityType: 'object', entityName: t.name, changeType: 'added', newValue: t, breaking: false, description: `object "${t.name}" added` });
  for (const t of removed) {
    out.push({ entityType: 'object', entityName: t.name, changeType: 'removed', oldValue: t, breaking: true, description: `object "${t.name}" removed, with its rows` });
  }
  for (const o of changed) {
    if (o.renamedFrom !== undefined) {
      out.push({
        entityType: 'object',
        entityName: o.name,
        changeType: 'modified',
        oldValue: { name: o.renamedFrom },
        newValue: { name: o.name },
        breaking: false,
        description: `object "${o.renamedFrom}" renamed to "${o.name}"`,
      });
    }
    for (const f of o.fields.added) {
      out.push({ entityType: 'field', entityName: f.name, parentEntity: o.name, changeType: 'added', newValue: f, breaking: false, description: `field "${o.name}.${f.name}" added` });
    }
    for (const f of o.fields.removed) {
      out.push({
        entityType: 'field',
        entityName: f.name,
        parentEntity: o.name,
        changeType: 'removed',
        oldValue: f,
        breaking: true,
        description: `field "${o.name}.${f.name}" removed, with its values`,
      });
    }
    for (const f of o.fields.changed) {
      const what = f.properties.map((p) => (p === 'type' ? `type ${f.current.type || '(none)'} → ${f.desired.type || '(none)'}${f.narrowing ? ' (narrowing)' : ''}` : p));
      if (f.renamedFrom !== undefined) what.unshift(`renamed from "${f.renamedFrom}"`);
      out.push({
        entityType: 'field',
        entityName: f.name,
        parentEntity: o.name,
        changeType: 'modified',
        oldValue: f.current,
        newValue: f.desired,
        breaking: f.narrowing,
        description: `field "${o.name}.${f.name}": ${what.join(', ')}`,
      });
    }
    for (const i of o.indexes.removed) {
      out.push({ entityType: 'index', entityName: i.name, parentEntity: o.name, changeType: 'removed', oldValue: i, breaking: false, description: `index "${i.name}" on "${o.name}" dropped` });
    }
    for (const i of o.indexes.added) {
      out.push({ entityType: 'index', entityName: i.name, parentEntity: o.name, changeType: 'added', newValue: i, breaking: false, description: `index "${i.name}" on "${o.name}" created` });
    }
  }
  return out;
}
