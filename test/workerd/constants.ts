/** Values the workerd test Worker and its harness share (a Worker module may export only handlers). */
export const JWKS_URL = 'https://auth.test/.well-known/jwks.json';
export const ISSUER = 'https://auth.test/';
export const AUDIENCE = 'tenantry-workerd-tests';
/** The `databases.authToken` of the Worker's instances (a Turso group token stands here). */
export const GROUP_TOKEN = 'group-token';
/** The token of the one tenant record with its own database URL and token. */
export const GLOBEX_TOKEN = 'globex-own-token';
