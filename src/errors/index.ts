/**
 * The one error class of tenantry. Every failure that reaches a user carries a stable `code`
 * (switch on it; message text may change), the HTTP `status` adapters answer with, and the
 * original `cause` when there is one.
 */

/** Stable error codes. The HTTP status of each is in {@link ERROR_STATUS}. */
export type TenantryErrorCode =
  | 'TENANT_NOT_RESOLVED'
  | 'INVALID_TENANT_ID'
  | 'TENANT_NOT_FOUND'
  | 'TENANT_MISMATCH'
  | 'INVALID_TOKEN'
  | 'TENANT_SUSPENDED'
  | 'TENANT_UNAVAILABLE'
  | 'RATE_LIMITED'
  | 'QUOTA_EXCEEDED'
  | 'NO_TENANT_CONTEXT'
  | 'PLATFORM_ERROR'
  | 'STORE_UNAVAILABLE';

/** HTTP status for each error code (DESIGN.md, "Errors"). */
export const ERROR_STATUS: Readonly<Record<TenantryErrorCode, number>> = Object.freeze({
  TENANT_NOT_RESOLVED: 401,
  INVALID_TENANT_ID: 400,
  TENANT_NOT_FOUND: 404,
  TENANT_MISMATCH: 403,
  INVALID_TOKEN: 401,
  TENANT_SUSPENDED: 403,
  TENANT_UNAVAILABLE: 503,
  RATE_LIMITED: 429,
  QUOTA_EXCEEDED: 403,
  NO_TENANT_CONTEXT: 500,
  PLATFORM_ERROR: 502,
  STORE_UNAVAILABLE: 503,
});

/** Options of a {@link TenantryError}. */
export interface TenantryErrorOptions {
  /** The error that caused this one, passed through untouched. */
  cause?: unknown;
  /** Seconds after which a retry may succeed; adapters send it as `Retry-After`. */
  retryAfterSeconds?: number;
  /** Extra response headers an adapter should send with this error (e.g. RateLimit). */
  headers?: Readonly<Record<string, string>>;
}

/**
 * An error with a stable code and an HTTP status.
 *
 * @example
 * try { await handler() } catch (err) {
 *   if (isTenantryError(err) && err.code === 'TENANT_SUSPENDED') showBanner()
 * }
 */
export class TenantryError extends Error {
  /** Stable machine-readable code. */
  readonly code: TenantryErrorCode;
  /** HTTP status that adapters answer with. */
  readonly status: number;
  /** Seconds after which a retry may succeed, when known. */
  readonly retryAfterSeconds: number | undefined;
  /** Extra response headers for this error. */
  readonly headers: Readonly<Record<string, string>> | undefined;

  constructor(code: TenantryErrorCode, message: string, options: TenantryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TenantryError';
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.headers = options.headers;
  }
}

/** True when `value` is a {@link TenantryError} (also across duplicated module copies). */
export function isTenantryError(value: unknown): value is TenantryError {
  if (value instanceof TenantryError) return true;
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { name?: unknown }).name === 'TenantryError' &&
    typeof (value as { code?: unknown }).code === 'string' &&
    (value as { code: string }).code in ERROR_STATUS
  );
}
