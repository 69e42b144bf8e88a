/**
 * The HTTP mapping of tenantry errors: RFC 9457 `application/problem+json` bodies carrying the
 * error `code`, with `Retry-After` and any headers the error asks for.
 */
import type { TenantryError } from '../errors/index.js';

const TITLES: Readonly<Record<TenantryError['code'], string>> = {
  TENANT_NOT_RESOLVED: 'Tenant not resolved',
  INVALID_TENANT_ID: 'Invalid tenant id',
  TENANT_NOT_FOUND: 'Tenant not found',
  TENANT_MISMATCH: 'Tenant mismatch',
  INVALID_TOKEN: 'Invalid token',
  TENANT_SUSPENDED: 'Tenant suspended',
  TENANT_UNAVAILABLE: 'Tenant unavailable',
  RATE_LIMITED: 'Rate limited',
  QUOTA_EXCEEDED: 'Quota exceeded',
  NO_TENANT_CONTEXT: 'No tenant context',
  PLATFORM_ERROR: 'Platform error',
  STORE_UNAVAILABLE: 'Store unavailable',
};

/** Base of the `type` URI of each problem; the code in kebab case follows it. */
export const PROBLEM_TYPE_BASE = 'https://tenantry.dev/errors/';

/** An HTTP answer for a tenantry error, in framework-neutral form. */
export interface Problem {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** The RFC 9457 problem details object of an error. */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: TenantryError['code'];
}

/**
 * Maps a `TenantryError` to status, headers and a JSON body. The detail is the error message,
 * which never contains tokens or raw header values longer than an id. For `NO_TENANT_CONTEXT`
 * (a programming error, 500) the detail is generic.
 */
export function toProblem(error: TenantryError): Problem {
  const details: ProblemDetails = {
    type: PROBLEM_TYPE_BASE + error.code.toLowerCase().replaceAll('_', '-'),
    title: TITLES[error.code],
    status: error.status,
    detail: error.status >= 500 && error.code !== 'TENANT_UNAVAILABLE' && error.code !== 'STORE_UNAVAILABLE'
      ? TITLES[error.code]
      : error.message,
    code: error.code,
  };
  const headers: Record<string, string> = { 'content-type': 'application/problem+json' };
  if (error.headers !== undefined) Object.assign(headers, error.headers);
  if (error.retryAfterSeconds !== undefined) headers['retry-after'] = String(Math.ceil(error.retryAfterSeconds));
  if (error.status === 401) headers['www-authenticate'] ??= 'Bearer';
  return { status: error.status, headers, body: JSON.stringify(details) };
}
