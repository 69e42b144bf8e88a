/**
 * The error of app lifecycle operations that neither the schema layer (`SchemaError`) nor the
 * request path (`TenantryError`) has a code for: dependencies, ownership and versions of apps.
 * Invalid manifests reject with `SchemaError` `INVALID_BUNDLE`, a `maxObjects` refusal with
 * `TenantryError` `QUOTA_EXCEEDED`, and failed migrations with the schema layer's `SchemaError`.
 */
import type { AppCompatibilityIssue } from './types.js';

/** Stable codes of {@link AppError}. */
export type AppErrorCode =
  /** `checkCompatibility` found errors (missing dependency, object conflict, version not newer...); see `issues`. */
  | 'APP_INCOMPATIBLE'
  /** `installApp` of an app the tenant already has installed (use `upgradeApp`). */
  | 'APP_ALREADY_INSTALLED'
  /** `uninstallApp` / `upgradeApp` of an app the tenant does not have installed. */
  | 'APP_NOT_INSTALLED'
  /** `uninstallApp` of an app other installed apps depend on (`dependents` names them). */
  | 'APP_IN_USE'
  /** The change would drop objects or fields or narrow a type, and `allowDestructive` is not set. */
  | 'DESTRUCTIVE_CHANGE';

/** Options of an {@link AppError}. */
export interface AppErrorOptions {
  cause?: unknown;
  tenantId?: string;
  app?: string;
  issues?: readonly AppCompatibilityIssue[];
  dependents?: readonly string[];
}

/**
 * An app lifecycle operation was refused. Nothing was changed. Switch on `code`.
 *
 * @example
 * try { await tenantry.apps.uninstallApp('crm', 'acme') } catch (err) {
 *   if (err instanceof AppError && err.code === 'APP_IN_USE') console.error(`still needed by ${err.dependents.join(', ')}`)
 * }
 */
export class AppError extends Error {
  /** Stable machine-readable code. */
  readonly code: AppErrorCode;
  /** The tenant the operation was for. */
  readonly tenantId: string | undefined;
  /** The app the operation was about. */
  readonly app: string | undefined;
  /** `APP_INCOMPATIBLE`: every issue found (errors and warnings); empty otherwise. */
  readonly issues: readonly AppCompatibilityIssue[];
  /** `APP_IN_USE`: the installed apps that depend on `app`; empty otherwise. */
  readonly dependents: readonly string[];

  constructor(code: AppErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.tenantId = options.tenantId;
    this.app = options.app;
    this.issues = options.issues ?? [];
    this.dependents = options.dependents ?? [];
  }
}
