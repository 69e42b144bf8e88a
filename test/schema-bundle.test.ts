import { describe, expect, it } from 'vitest';
import {
  DeployBundleSchema,
  FIELD_SQL_TYPES,
  FIELD_STORAGE_TYPES,
  SchemaError,
  parseBundle,
  safeParseBundle,
  schemaFromManifest,
} from '../src/index.js';
import { affinityOf } from '../src/schema/sql.js';

const ok = {
  manifest: {
    version: '1.0.0',
    objects: [
      {
        name: 'notes',
        fields: [
          { name: 'title', type: 'text', required: true },
          { name: 'score', type: 'number', default: 1.5 },
          { name: 'done', type: 'boolean', default: false },
          { name: 'due', type: 'date', default: '2024-01-31' },
          { name: 'seen_at', type: 'datetime' },
          { name: 'meta', type: 'json', default: '{}' },
          { name: 'ref', type: 'uuid', unique: true },
          { name: 'blob', type: 'binary' },
        ],
        indexes: [{ fields: ['title', 'due'] }, { name: 'notes_by_ref', fields: ['ref'], unique: true }],
      },
    ],
  },
  seed: { notes: [{ title: 'Welcome', score: 2 }] },
};

function issuesOf(input: unknown): { path: string; message: string }[] {
  const result = safeParseBundle(input);
  if (result.success) throw new Error('expected the bundle to be refused');
  return result.issues;
}

function withObjects(objects: unknown[]): unknown {
  return { manifest: { version: '1', objects } };
}

describe('deploy bundle validation', () => {
  it('accepts the bundle shape of the issue, every field type included', () => {
    expect(parseBundle(ok)).toEqual(ok);
    expect(DeployBundleSchema.safeParse(ok).success).toBe(true);
  });

  it('maps field types to the protocol storage types, with declared types of that exact affinity', () => {
    expect(FIELD_STORAGE_TYPES).toEqual({
      text: 'TEXT',
      number: 'REAL',
      boolean: 'INTEGER',
      date: 'TEXT',
      datetime: 'TEXT',
      json: 'TEXT',
      uuid: 'TEXT',
      binary: 'BLOB',
    });
    for (const [type, declared] of Object.entries(FIELD_SQL_TYPES)) {
      expect(affinityOf(declared), type).toBe(FIELD_STORAGE_TYPES[type as keyof typeof FIELD_STORAGE_TYPES]);
    }
  });

  it('turns a manifest into tables with an implicit uuid id, NOT NULL, UNIQUE, literal defaults and named indexes', () => {
    const schema = schemaFromManifest(parseBundle(ok).manifest);
    const notes = schema.tables['notes']!;
    expect(notes.columns[0]).toMatchObject({ name: 'id', type: 'UUID TEXT', primaryKey: true, nullable: false });
    expect(notes.columns.find((c) => c.name === 'title')).toMatchObject({ type: 'TEXT', nullable: false, unique: false });
    expect(notes.columns.find((c) => c.name === 'score')).toMatchObject({ type: 'REAL', defaultValue: '1.5' });
    expect(notes.columns.find((c) => c.name === 'done')).toMatchObject({ type: 'INTEGER', defaultValue: '0' });
    expect(notes.columns.find((c) => c.name === 'due')).toMatchObject({ type: 'DATE TEXT', defaultValue: "'2024-01-31'" });
    expect(notes.columns.find((c) => c.name === 'ref')).toMatchObject({ type: 'UUID TEXT', unique: true });
    expect(notes.indexes).toEqual([
      { name: 'notes_title_due_idx', columns: ['title', 'due'], unique: false },
      { name: 'notes_by_ref', columns: ['ref'], unique: true },
    ]);
  });

  it('refuses names that are not snake_case, naming the path', () => {
    const issues = issuesOf(withObjects([{ name: 'Notes', fields: [{ name: 'body text', type: 'text' }] }]));
    expect(issues).toEqual([
      { path: 'manifest.objects[0].name', message: expect.stringContaining('snake_case') },
      { path: 'manifest.objects[0].fields[0].name', message: expect.stringContaining('snake_case') },
    ]);
  });

  it('refuses reserved words, the _tenantry_ and sqlite_ prefixes and the implicit id', () => {
    const issues = issuesOf(
      withObjects([
        { name: 'order', fields: [{ name: 'select', type: 'text' }, { name: 'id', type: 'uuid' }, { name: 'rowid', type: 'number' }] },
        { name: '_tenantry_notes', fields: [] },
        { name: 'sqlite_notes', fields: [] },
      ]),
    );
    const byPath = Object.fromEntries(issues.map((i) => [i.path, i.message]));
    expect(byPath['manifest.objects[0].name']).toMatch(/reserved SQL word/);
    expect(byPath['manifest.objects[0].fields[0].name']).toMatch(/reserved SQL word/);
    expect(byPath['manifest.objects[0].fields[1].name']).toMatch(/implicit uuid primary key/);
    expect(byPath['manifest.objects[0].fields[2].name']).toMatch(/reserved by SQLite/);
    expect(byPath['manifest.objects[1].name']).toMatch(/_tenantry_/);
    expect(byPath['manifest.objects[2].name']).toMatch(/sqlite_/);
  });

  it('refuses duplicate objects, fields and index names (indexes share the database namespace with tables)', () => {
    const issues = issuesOf(
      withObjects([
        { name: 'notes', fields: [{ name: 'title', type: 'text' }, { name: 'title', type: 'number' }], indexes: [{ name: 'tags', fields: ['title'] }] },
        { name: 'notes', fields: [] },
        { name: 'tags', fields: [{ name: 'label', type: 'text' }], indexes: [{ name: 'by_label', fields: ['label'] }, { name: 'by_label', fields: ['label'] }] },
      ]),
    );
    expect(issues.map((i) => i.path)).toEqual([
      'manifest.objects[1].name',
      'manifest.objects[0].fields[1].name',
      'manifest.objects[0].indexes[0].name',
      'manifest.objects[2].indexes[1].name',
    ]);
  });

  it('checks defaults against the field type and index fields against the object', () => {
    const issues = issuesOf(
      withObjects([
        {
          name: 'notes',
          fields: [
            { name: 'n', type: 'number', default: 'one' },
            { name: 'd', type: 'date', default: '31/01/2024' },
            { name: 'j', type: 'json', default: '{oops' },
            { name: 'b', type: 'binary', default: 'x' },
            { name: 'r', type: 'text', required: true, default: null },
          ],
          indexes: [{ fields: ['missing'] }, { fields: [] }],
        },
      ]),
    );
    expect(issues.map((i) => i.path)).toEqual([
      'manifest.objects[0].fields[0].default',
      'manifest.objects[0].fields[1].default',
      'manifest.objects[0].fields[2].default',
      'manifest.objects[0].fields[3].default',
      'manifest.objects[0].fields[4].default',
      'manifest.objects[0].indexes[1].fields',
      'manifest.objects[0].indexes[0].fields[0]',
    ]);
  });

  it('refuses unknown field types and misspelt keys', () => {
    const issues = issuesOf(withObjects([{ name: 'notes', fields: [{ name: 'title', type: 'string', requird: true }] }]));
    expect(issues.map((i) => i.path).sort()).toEqual(['manifest.objects[0].fields[0]', 'manifest.objects[0].fields[0].type']);
  });

  it('refuses renames that clash with another name of the manifest', () => {
    const issues = issuesOf(
      withObjects([
        { name: 'notes', renamedFrom: 'tags', fields: [{ name: 'body', type: 'text', renamedFrom: 'title' }, { name: 'title', type: 'text' }] },
        { name: 'tags', fields: [] },
      ]),
    );
    expect(issues.map((i) => i.path)).toEqual(['manifest.objects[0].renamedFrom', 'manifest.objects[0].fields[0].renamedFrom']);
  });

  it('refuses seed rows for unknown objects or fields', () => {
    const issues = issuesOf({ ...ok, seed: { notes: [{ title: 'x', nope: 1 }], ghosts: [] } });
    expect(issues.map((i) => i.path)).toEqual(['seed.notes[0].nope', 'seed.ghosts']);
  });

  it('throws a SchemaError INVALID_BUNDLE whose message and issues name the paths', () => {
    let error: unknown;
    try {
      parseBundle(withObjects([{ name: 'Notes', fields: [] }]));
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(SchemaError);
    expect(error).toMatchObject({ code: 'INVALID_BUNDLE', issues: [{ path: 'manifest.objects[0].name' }] });
    expect((error as Error).message).toContain('manifest.objects[0].name');
    expect(() => parseBundle({ manifest: { objects: [] } })).toThrow(/manifest\.version/);
  });
});
