/**
 * The schema layer: deploy bundles (zod), introspection, diff, SQL generation and applying
 * plans to tenant databases (the protocol's `ISchemaDiffService`).
 */
export {
  DeployBundleSchema,
  DeployManifestSchema,
  FIELD_SQL_TYPES,
  FIELD_STORAGE_TYPES,
  FIELD_TYPES,
  FieldDefinitionSchema,
  FieldTypeSchema,
  ID_FIELD,
  ObjectDefinitionSchema,
  ObjectIndexSchema,
  defaultIndexName,
  parseBundle,
  parseManifest,
  safeParseBundle,
  schemaFromManifest,
} from './bundle.js';
export type {
  BundleParseResult,
  DeployBundle,
  DeployBundleInput,
  DeployManifest,
  DeployManifestInput,
  FieldDefinition,
  FieldType,
  ObjectDefinition,
  ObjectIndex,
} from './bundle.js';
export { SchemaDefinitionSchema, parseSchemaDefinition, schemaFingerprint } from './definition.js';
export { SchemaError } from './errors.js';
export type { SchemaErrorCode, SchemaIssue } from './errors.js';
export { introspectDatabase } from './introspect.js';
export type { IntrospectOptions } from './introspect.js';
export { diffSchemas } from './diff.js';
export { generateMigrations } from './generate.js';
export { applyMigrationPlan, readSchemaVersion } from './apply.js';
export type { ApplyOptions } from './apply.js';
export { SchemaService } from './service.js';
export type { SchemaServiceDeps, SchemaTenantHandle } from './service.js';
export { quoteIdent } from './sql.js';
export type {
  ColumnDefinition,
  DeployDiff,
  DesiredSchema,
  FieldChange,
  ISchemaDiffService,
  IndexDefinition,
  IntrospectedColumn,
  IntrospectedIndex,
  IntrospectedSchema,
  IntrospectedTable,
  MigrationApplyResult,
  MigrationPlan,
  MigrationStatement,
  MigrationStepKind,
  ObjectDiff,
  SchemaChange,
  SchemaDefinition,
  TableDefinition,
} from './types.js';
