/**
 * Shapes of the schema layer. Where the protocol (ObjectStack `ISchemaDiffService`,
 * `DeployDiff`, `MigrationPlan`) names a shape or a field, the name is kept; tenantry's
 * additions are marked as such.
 */
import type { DeployBundleInput, DeployManifestInput, FieldType } from './bundle.js';

// ---------------------------------------------------------------------------------------------
// the schema model: what a database has (introspected) or should have (desired)

/** A column as the database declares it (SQL level, not the manifest's field). */
export interface ColumnDefinition {
  /** Column name, exactly as in the database. */
  name: string;
  /** Declared SQLite type, as `pragma table_xinfo` reports it (`TEXT`, `DATE TEXT`, `VARCHAR(20)`, ``). */
  type: string;
  /** tenantry: the manifest field type whose declared type this is, when it is one (see `FIELD_SQL_TYPES`). */
  fieldType?: FieldType;
  /** False for `NOT NULL` columns. */
  nullable: boolean;
  /** The default as an SQL expression (`'draft'`, `0`, `lower(hex(randomblob(16)))`); absent for none. */
  defaultValue?: string;
  /** Part of the primary key. */
  primaryKey: boolean;
  /** tenantry: has its own single-column `UNIQUE` constraint. */
  unique: boolean;
  /**
   * tenantry, desired side only: the column's current name when it is to be renamed. Ignored
   * when a column of the new name already exists (the rename already happened).
   */
  renamedFrom?: string;
}

/** An index made by `CREATE INDEX` (constraint indexes are described by their columns). */
export interface IndexDefinition {
  name: string;
  /** Indexed columns, in index order. */
  columns: string[];
  unique: boolean;
}

/** A table: columns in declaration order, and its `CREATE INDEX` indexes. */
export interface TableDefinition {
  name: string;
  columns: ColumnDefinition[];
  indexes: IndexDefinition[];
  /** tenantry, desired side only: the table's current name when it is to be renamed. */
  renamedFrom?: string;
}

/** A whole schema (desired state): tables by name. */
export interface SchemaDefinition {
  tables: Record<string, TableDefinition>;
}

/** The protocol's `IntrospectedIndex`, plus what tenantry cannot recreate from a model. */
export interface IntrospectedIndex extends IndexDefinition {
  /** tenantry: a partial index (`WHERE ...`); a desired index never is, so it is replaced. */
  partial: boolean;
  /** tenantry: indexes an expression; `columns` then lists only the plain columns. */
  expression: boolean;
  /** tenantry: the `CREATE INDEX` statement from `sqlite_master`. */
  sql?: string;
}

/** The protocol's `IntrospectedColumn` (tenantry's `unique` and `fieldType` added). */
export type IntrospectedColumn = ColumnDefinition;

/** The protocol's `IntrospectedTable`, plus what keeps tenantry from rebuilding it. */
export interface IntrospectedTable extends TableDefinition {
  columns: IntrospectedColumn[];
  indexes: IntrospectedIndex[];
  /**
   * tenantry: parts of the table the model does not describe and a rebuild would lose (foreign
   * keys, triggers, `CHECK`, `COLLATE`, `AUTOINCREMENT`, generated columns, `WITHOUT ROWID`,
   * `STRICT`, composite `UNIQUE`, ...). A change needing a rebuild of such a table is refused
   * with `UNSUPPORTED_CHANGE`; changes done with `ALTER TABLE` still work. Empty for tables
   * tenantry created.
   */
  rebuildBlockers: string[];
}

/** The protocol's `IntrospectedSchema`: the tables of one tenant database. */
export interface IntrospectedSchema extends SchemaDefinition {
  tables: Record<string, IntrospectedTable>;
  dialect: 'sqlite';
  /** ISO 8601. */
  introspectedAt: string;
}

// ---------------------------------------------------------------------------------------------
// the diff

/** The protocol's `SchemaChange`: one added, modified or removed entity. */
export interface SchemaChange {
  entityType: 'object' | 'field' | 'index';
  entityName: string;
  /** The object of a field or index. */
  parentEntity?: string;
  changeType: 'added' | 'modified' | 'removed';
  oldValue?: unknown;
  newValue?: unknown;
  /** tenantry: data may be lost (a dropped object or field, a narrowing type change). */
  breaking: boolean;
  /** tenantry: one line for people, e.g. `field "notes.title": type TEXT → REAL (narrowing)`. */
  description: string;
}

/** What differs about one field that both schemas have. */
export interface FieldChange {
  /** The desired name. */
  name: string;
  /** Set when the field is renamed (its current name). */
  renamedFrom?: string;
  current: ColumnDefinition;
  desired: ColumnDefinition;
  /** Which properties differ (empty for a pure rename). */
  properties: ('type' | 'nullable' | 'defaultValue' | 'primaryKey' | 'unique')[];
  /** A type change that may lose or reinterpret values (see the README's type table). */
  narrowing: boolean;
}

/** Differences inside one table present in both schemas. */
export interface ObjectDiff {
  /** The desired name. */
  name: string;
  /** Set when the table is renamed (its current name). */
  renamedFrom?: string;
  current: TableDefinition & { rebuildBlockers?: string[] };
  desired: TableDefinition;
  fields: { added: ColumnDefinition[]; removed: ColumnDefinition[]; changed: FieldChange[] };
  indexes: { added: IndexDefinition[]; removed: IndexDefinition[] };
}

/**
 * The protocol's `DeployDiff` (`changes`, `summary`, `hasBreakingChanges`) plus the structured
 * form `generateMigrations` works from. Pure data (JSON-safe): it can be stored or shown.
 */
export interface DeployDiff {
  changes: SchemaChange[];
  summary: { added: number; modified: number; removed: number };
  hasBreakingChanges: boolean;
  /** tenantry: `dialect` of the plan it leads to. */
  dialect: 'sqlite';
  /** tenantry: added, removed and changed objects. */
  objects: { added: TableDefinition[]; removed: TableDefinition[]; changed: ObjectDiff[] };
  /** tenantry: fingerprint of the current schema (see `schemaFingerprint`). */
  baseFingerprint: string;
  /** tenantry: fingerprint of the desired schema. */
  targetFingerprint: string;
}

// ---------------------------------------------------------------------------------------------
// the plan

/** What a statement of a plan does. */
export type MigrationStepKind =
  | 'create_table'
  | 'drop_table'
  | 'rename_table'
  | 'add_column'
  | 'rename_column'
  | 'drop_column'
  | 'rebuild_create'
  | 'rebuild_copy'
  | 'rebuild_drop'
  | 'rebuild_rename'
  | 'create_index'
  | 'drop_index'
  | 'pragma'
  | 'check_foreign_keys';

/** The protocol's `MigrationStatement`, plus what each step is and whether it may lose data. */
export interface MigrationStatement {
  sql: string;
  /** Execution order, 0-based (equal to the statement's index in the plan). */
  order: number;
  /** Protocol: the change can be undone without data loss (`!destructive`). */
  reversible: boolean;
  /** Protocol: one statement that undoes this one, when there is one. */
  rollbackSql?: string;
  /** tenantry: data may be lost (dropped object or field, narrowing rebuild). */
  destructive: boolean;
  /** tenantry: what the statement does. */
  kind: MigrationStepKind;
  /** tenantry: the object (desired name) the statement works on; `''` for plan-wide steps. */
  object: string;
  /** tenantry: the field, for field steps. */
  field?: string;
  /** tenantry: one line for people. */
  description: string;
}

/**
 * The protocol's `MigrationPlan`: statements to run in order, in one transaction, with foreign
 * keys off (checked by the plan's own `check_foreign_keys` step before the commit).
 */
export interface MigrationPlan {
  statements: MigrationStatement[];
  dialect: 'sqlite';
  /** Protocol: every statement is reversible. */
  reversible: boolean;
  /** tenantry: some statement is destructive. */
  destructive: boolean;
  /** tenantry: fingerprint of the schema the plan was generated against; checked before applying. */
  baseFingerprint: string;
  /** tenantry: fingerprint of the schema the plan produces. */
  targetFingerprint: string;
}

/** The protocol's `MigrationApplyResult`. A failure rejects with a `SchemaError` instead. */
export interface MigrationApplyResult {
  success: true;
  statementsExecuted: number;
  durationMs: number;
}

/**
 * The protocol's `ISchemaDiffService`, method names kept; a tenant id stands for the
 * protocol's driver.
 */
export interface ISchemaDiffService {
  introspect(tenantId: string): Promise<IntrospectedSchema>;
  diff(current: SchemaDefinition, desired: DesiredSchema): DeployDiff;
  generateMigrations(diff: DeployDiff): MigrationPlan;
  applyMigrations(tenantId: string, plan: MigrationPlan): Promise<MigrationApplyResult>;
}

/** What `diff` accepts as the desired state: a definition, a manifest or a whole bundle. */
export type DesiredSchema = SchemaDefinition | DeployManifestInput | DeployBundleInput;
