/**
 * The deployment record each tenant database keeps: `_tenantry_deployments`, one row per
 * deployment that reached it. The `applied` row is written in the same transaction as the
 * deploy itself, so a database records a deployment exactly when it has it.
 */
import type { Client, InStatement } from '@libsql/client';
import type { MigrationPlan } from '../schema/types.js';
import { MigrationPlanSchema } from './types.js';
import type { RollbackInfo } from './types.js';

/** Name of the table, in each tenant database, that records deployments. */
export const DEPLOYMENTS_TABLE = '_tenantry_deployments';

const CREATE = `CREATE TABLE IF NOT EXISTS ${DEPLOYMENTS_TABLE} (
  deployment_id TEXT PRIMARY KEY,
  version TEXT NOT NULL,
  status TEXT NOT NULL,
  base_fingerprint TEXT NOT NULL,
  target_fingerprint TEXT NOT NULL,
  statements TEXT NOT NULL,
  rollback_strategy TEXT NOT NULL,
  inverse TEXT,
  inverse_lossless INTEGER NOT NULL,
  rollback_reason TEXT,
  snapshot TEXT,
  error TEXT,
  applied_at TEXT,
  rolled_back_at TEXT
)`;

/** A tenant's record of one deployment. */
export interface DeploymentRecord {
  deploymentId: string;
  version: string;
  /** `applied`, `failed` (nothing of it stayed) or `rolled_back`. */
  status: 'applied' | 'failed' | 'rolled_back';
  baseFingerprint: string;
  targetFingerprint: string;
  /** The SQL that ran. */
  statements: string[];
  rollback: RollbackInfo;
  /** Absolute path of the snapshot taken before the deploy, if one was. */
  snapshot: string | undefined;
  error: string | undefined;
  appliedAt: string | undefined;
  rolledBackAt: string | undefined;
}

/** What is recorded when a deploy applies (or fails on) a tenant. */
export interface RecordInput {
  deploymentId: string;
  version: string;
  plan: MigrationPlan;
  statements: readonly string[];
  rollback: RollbackInfo;
  snapshot: string | undefined;
  at: string;
}

/** Statements that record `input` as applied; appended to the deploy's own transaction. */
export function appliedRecordStatements(input: RecordInput): InStatement[] {
  return [CREATE, upsert(input, 'applied', undefined)];
}

/** Records a failed attempt (best effort, outside any transaction: the deploy was rolled back). */
export async function recordFailure(client: Client, input: RecordInput, error: Error): Promise<void> {
  await client.batch([CREATE, upsert({ ...input, snapshot: undefined }, 'failed', error.message)], 'write');
}

function upsert(input: RecordInput, status: 'applied' | 'failed', error: string | undefined): InStatement {
  return {
    sql: `INSERT OR REPLACE INTO ${DEPLOYMENTS_TABLE} (deployment_id, version, status, base_fingerprint, target_fingerprint, statements, rollback_strategy, inverse, inverse_lossless, rollback_reason, snapshot, error, applied_at, rolled_back_at)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)`,
    args: [
      input.deploymentId,
      input.version,
      status,
      input.plan.baseFingerprint,
      input.plan.targetFingerprint,
      JSON.stringify(input.statements),
      input.rollback.strategy,
      input.rollback.inverse === undefined ? null : JSON.stringify(input.rollback.inverse),
      input.rollback.lossless ? 1 : 0,
      input.rollback.reason ?? null,
      input.snapshot ?? null,
      error ?? null,
      status === 'applied' ? input.at : null,
    ],
  };
}

/** The statement that marks a deployment rolled back; runs in the rollback's transaction. */
export function rolledBackStatement(deploymentId: string, at: string): InStatement {
  return { sql: `UPDATE ${DEPLOYMENTS_TABLE} SET status = 'rolled_back', rolled_back_at = ? WHERE deployment_id = ?`, args: [at, deploymentId] };
}

/** The tenant's record of `deploymentId`, or `undefined` (no such row, or no table yet). */
export async function readRecord(client: Client, deploymentId: string): Promise<DeploymentRecord | undefined> {
  const exists = await client.execute({ sql: "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", args: [DEPLOYMENTS_TABLE] });
  if (exists.rows.length === 0) return undefined;
  const { rows } = await client.execute({ sql: `SELECT * FROM ${DEPLOYMENTS_TABLE} WHERE deployment_id = ?`, args: [deploymentId] });
  const row = rows[0];
  if (row === undefined) return undefined;
  const text = (key: string): string | undefined => (row[key] === null || row[key] === undefined ? undefined : String(row[key]));
  const inverseText = text('inverse');
  const inverse = inverseText === undefined ? undefined : MigrationPlanSchema.parse(JSON.parse(inverseText));
  const reason = text('rollback_reason');
  return {
    deploymentId: String(row['deployment_id']),
    version: String(row['version']),
    status: String(row['status']) as DeploymentRecord['status'],
    baseFingerprint: String(row['base_fingerprint']),
    targetFingerprint: String(row['target_fingerprint']),
    statements: JSON.parse(String(row['statements'])) as string[],
    rollback: {
      strategy: text('rollback_strategy') === 'snapshot' ? 'snapshot' : 'inverse',
      lossless: Number(row['inverse_lossless']) === 1,
      ...(inverse === undefined ? {} : { inverse }),
      ...(reason === undefined ? {} : { reason }),
    },
    snapshot: text('snapshot'),
    error: text('error'),
    appliedAt: text('applied_at'),
    rolledBackAt: text('rolled_back_at'),
  };
}
