/**
 * `createTenantry()`: composes the registry cache, the client pool and the tenant router into
 * one instance that adapters, jobs and the protocol's `ITenantRouter` callers share.
 */
import type { Client } from '@libsql/client';
import { currentScope, runWithTenant } from './context/index.js';
import { resolveConfig } from './config/index.js';
import type { ResolvedConfig, TenantryOptions } from './config/index.js';
import { TenantryError, isTenantryError } from './errors/index.js';
import { TenantryEmitter } from './events.js';
import { provisioningStepChannel, tenantRejectedChannel } from './diagnostics/channels.js';
import type { TenantryEventName, TenantryListener } from './events.js';
import { embeddedDefaults } from './node/defaults.js';
import type { KernelContext, TenantRuntimeContext } from './protocol/index.js';
import { createClient as createLibsqlClient } from '@libsql/client';
import type { ITursoPlatformService } from './platform/types.js';
import { loadMigrations } from './provisioning/migrations.js';
import type { Migration } from './provisioning/migrations.js';
import { migrateTenants } from './provisioning/migration-runner.js';
import type { MigrationProgress, MigrationReport, MigrationTarget } from './provisioning/migration-runner.js';
import { ProvisioningService } from './provisioning/service.js';
import { SchemaService } from './schema/service.js';
import { DeployService } from './deploy/service.js';
import { AppService } from './apps/service.js';
import { QuotaService } from './quota/service.js';
import { RegistryCache } from './registry/cache.js';
import { encryptedRegistry } from './registry/encrypted.js';
import type { TenantRegistry } from './registry/types.js';
import { ClientPool } from './router/pool.js';
import { fromHeader, parseTenantId } from './router/resolvers/index.js';
import { RequestScope, acquireCoded } from './router/scope.js';
import { TenantRouter } from './router/tenant-router.js';
import type { RequestView } from './router/types.js';
import { fetchRequestView, problemResponse } from './middleware/fetch.js';

/** Longest a cached record is trusted while the invalidation bus is disconnected. */
const DEGRADED_TTL_MS = 1_000;

/**
 * The process-wide KernelContext `instanceId`, made on first use: Cloudflare Workers refuse to
 * generate random values at module load (and `createTenantry()` often runs there).
 */
let instanceId: string | undefined;
function processInstanceId(): string {
  instanceId ??= globalThis.crypto.randomUUID();
  return instanceId;
}
const START_TIME = Date.now();

/** Figures of `tenantry.stats()`. */
export interface TenantryStats {
  pool: { size: number; leased: number; hits: number; misses: number; opens: number; evictions: number; closed: number };
  registry: { size: number; hits: number; misses: number; stale: number; negativeHits: number };
  quota: { store: string; storeFailures: number; gauges: number };
}

/** What a session passed to `resolveTenant()` may be. */
export type TenantSession = Request | RequestView | { tenantId: string };

/** A fetch-style handler run inside a tenant scope by `tenantry.handle()`. */
export type TenantHandler = (request: Request, tenant: TenantRuntimeContext) => Response | Promise<Response>;

/**
 * The protocol's `ITenantRouter`: method names kept exactly.
 */
export interface ITenantRouter {
  resolveTenant(session: TenantSession): Promise<TenantRuntimeContext>;
  getTenantClient(tenantId: string): Promise<Client>;
  invalidateCache(tenantId: string): void;
}

/**
 * A tenantry instance. Create one per process with {@link createTenantry} and share it.
 */
export class Tenantry implements ITenantRouter {
  /** The control plane: where tenant records live. */
  readonly registry: TenantRegistry;
  /**
   * Quotas: `check`, `enforce`, `consume` and `usage` (see the README's "Quotas").
   *
   * @example
   * await tenantry.quota.enforce('maxRecordsPerObject', { object: 'notes', add: 1 });
   */
  readonly quota: QuotaService;
  /**
   * Provisioning and lifecycle (the protocol's `IProvisioningService`): `provisionTenant`,
   * `suspendTenant`, `resumeTenant`, `destroyTenant`, `getTenantStatus`, `migrateTenantPlan`,
   * plus `purgeExpired`.
   *
   * @example
   * const result = await tenantry.provisioning.provisionTenant({ orgId: 'acme', plan: 'pro' });
   */
  readonly provisioning: ProvisioningService;
  /**
   * Schemas of tenant databases (the protocol's `ISchemaDiffService`): `introspect`, `diff`,
   * `generateMigrations`, `applyMigrations` (see the README's "Schema and deploys").
   *
   * @example
   * const plan = tenantry.schema.generateMigrations(tenantry.schema.diff(await tenantry.schema.introspect('acme'), bundle));
   * await tenantry.schema.applyMigrations('acme', plan);
   */
  readonly schema: SchemaService;
  /**
   * Apps of tenant databases (the protocol's `IAppLifecycleService`): `checkCompatibility`,
   * `installApp`, `uninstallApp`, `upgradeApp`, `listApps` (see the README's "Apps").
   *
   * @example
   * await tenantry.apps.installApp({ name: 'crm', version: '1.0.0', objects: [{ name: 'contacts', fields: [{ name: 'email', type: 'text' }] }] }, 'acme');
   */
  readonly apps: AppService;
  /**
   * Deploys of bundles across tenants (the protocol's `IDeployPipelineService`):
   * `validateBundle`, `planDeployment`, `executeDeployment`, `rollbackDeployment`,
   * `pruneSnapshots` (see the README's "Schema and deploys").
   *
   * @example
   * const plan = await tenantry.deploy.planDeployment(bundle);
   * const result = await tenantry.deploy.executeDeployment(plan, { concurrency: 8 });
   */
  readonly deploy: DeployService;
  readonly #config: ResolvedConfig;
  readonly #cache: RegistryCache;
  readonly #pool: ClientPool;
  readonly #router: TenantRouter;
  readonly #events = new TenantryEmitter();
  readonly #ownsRegistry: boolean;
  #closing: Promise<void> | undefined;
  readonly #busReady: Promise<void>;

  /** Use {@link createTenantry}. */
  constructor(options: TenantryOptions = {}) {
    const config = resolveConfig(options, () => [fromHeader()]);
    const needRegistry = config.registry === undefined;
    const needDatabases = config.urlTemplate === undefined;
    if (needRegistry || needDatabases) {
      const embedded = embeddedDefaults(config.dataDir, needRegistry, needDatabases);
      config.registry ??= embedded.registry;
      config.urlTemplate ??= embedded.urlTemplate;
      config.platform ??= embedded.platform;
      config.dataDir = embedded.dataDir;
    }
    this.#config = config;
    this.#ownsRegistry = needRegistry;
    this.registry = config.secretKey === undefined ? config.registry! : encryptedRegistry(config.registry!, config.secretKey);
    this.#cache = new RegistryCache(this.registry, { ...config.cache, now: config.now });
    this.#pool = new ClientPool({
      maxClients: config.maxClients,
      idleTtlMs: config.idleTtlMs,
      keepClients: config.keepClients,
      now: config.now,
      ...(config.createClient === undefined ? {} : { createClient: config.createClient }),
      onOpen: (tenantId) => {
        if (this.#events.has('pool:open')) this.#events.emit('pool:open', { tenantId });
      },
      onEvict: (tenantId, reason) => {
        if (this.#events.has('pool:evict')) this.#events.emit('pool:evict', { tenantId, reason });
      },
    });
    const kernel: KernelContext = Object.freeze({
      // a getter: read when a request builds its context, never at module load (see above)
      get instanceId() {
        return processInstanceId();
      },
      mode: config.mode,
      version: config.version,
      // workerd's `process` has no cwd() on older compatibility dates
      cwd: typeof process === 'undefined' || typeof process.cwd !== 'function' ? '/' : process.cwd(),
      startTime: START_TIME,
      features: Object.freeze({ ...config.features }),
    });
    this.quota = new QuotaService(
      config.quota,
      {
        current: () => {
          const scope = currentScope();
          return scope instanceof RequestScope && scope.owner === this.#pool ? scope : undefined;
        },
        open: async (tenantId) => this.#router.openById(parseTenantId(tenantId, 'quota'), 'quota'),
      },
      config.now,
      (error) => {
        if (this.#events.has('quota:store-error')) {
          this.#events.emit('quota:store-error', { store: this.quota.storeName, message: error instanceof Error ? error.message : String(error) });
        }
      },
    );
    this.#router = new TenantRouter(config, this.#cache, this.#pool, kernel, this.quota);
    this.schema = new SchemaService({ open: async (tenantId) => this.#router.openById(parseTenantId(tenantId, 'schema'), 'schema'), now: config.now });
    const openDirect = config.createClient ?? createLibsqlClient;
    this.deploy = new DeployService({
      listTenants: async () => (await this.registry.list({ status: 'active' })).map((record) => record.id),
      open: async (tenantId) => {
        const scope = await this.#router.openById(parseTenantId(tenantId, 'deploy'), 'deploy');
        const connection = this.#router.connectionOf(scope.record);
        return { tenantId: scope.record.id, connection, readOnly: scope.readOnly, lease: () => acquireCoded(this.#pool, scope.record.id, connection, false) };
      },
      openDirect: (connection) => openDirect({ ...connection, intMode: 'number' }),
      quota: this.quota,
      dataDir: config.dataDir,
      now: config.now,
    });
    this.apps = new AppService({
      open: async (tenantId) => this.#router.openById(parseTenantId(tenantId, 'apps'), 'apps'),
      changed: (tenantId) => this.quota.invalidate(tenantId),
      now: config.now,
    });
    const bus = config.invalidation;
    this.#busReady =
      bus === undefined
        ? Promise.resolve()
        : bus.start({
            invalidate: (tenantId) => this.#dropLocal(tenantId),
            // while messages may be missed, trust cached records for one second at most
            disconnected: () => this.#cache.limitTtl(DEGRADED_TTL_MS),
            resynced: () => {
              this.#cache.limitTtl(undefined);
              this.#cache.clear();
            },
          });
    this.#busReady.catch((err: unknown) => {
      console.error('tenantry: the invalidation bus could not subscribe; cached records expire after cache.ttlMs', err);
    });
    const openClient = config.createClient ?? createLibsqlClient;
    this.provisioning = new ProvisioningService({
      registry: this.registry,
      platform: config.platform ?? missingPlatform(),
      options: config.provisioning,
      now: config.now,
      openClient: (url, authToken) => openClient(authToken === undefined ? { url } : { url, authToken }),
      invalidate: (tenantId) => this.#invalidateEverywhere(tenantId),
      onStep: (tenantId, step) => {
        if (this.#events.has('provisioning:step')) this.#events.emit('provisioning:step', { tenantId, step });
        if (provisioningStepChannel.hasSubscribers) provisioningStepChannel.publish({ tenantId, step: { ...step } });
      },
      readOnlyWhenSuspended: config.suspendedAccess === 'read-only',
    });
  }

  /** Absolute folder of the embedded defaults, or `undefined` when none is used. */
  get dataDir(): string | undefined {
    return this.#config.dataDir;
  }

  /**
   * Resolves a request (or adapter view) to a scope, for adapters. Synchronous when the tenant
   * is warm. With `optional`, a request without a tenant yields `undefined`. Enter the scope
   * with {@link Tenantry.runScope}.
   */
  openScope(request: RequestView, optional = false): RequestScope | undefined | Promise<RequestScope | undefined> {
    let scope: RequestScope | undefined | Promise<RequestScope | undefined>;
    try {
      scope = this.#router.open(request, optional);
    } catch (err) {
      return this.#rejected(err);
    }
    // #admitted reports its own refusals: calling it inside the try above reported them twice
    if (scope instanceof Promise) return scope.then((s) => this.#admitted(s), (err: unknown) => this.#rejected(err));
    return this.#admitted(scope);
  }

  /** The rate step of the request path (the tenant's `apiRateLimit`), then the event. */
  #admitted(scope: RequestScope | undefined): RequestScope | undefined | Promise<RequestScope | undefined> {
    if (scope === undefined) return undefined;
    let admission: ReturnType<QuotaService['admit']>;
    try {
      admission = this.quota.admit(scope.context);
    } catch (err) {
      return this.#rejected(err);
    }
    if (admission instanceof Promise) {
      return admission.then(
        (a) => {
          scope.rate = a;
          return this.#resolved(scope);
        },
        (err: unknown) => this.#rejected(err),
      );
    }
    scope.rate = admission;
    return this.#resolved(scope);
  }

  /** Runs `fn` inside `scope`: `getTenant()` and `getTenantClient()` see it. */
  runScope<T>(scope: RequestScope, fn: () => T): T {
    return runWithTenant(scope, fn);
  }

  /**
   * Runs `fn` as tenant `tenantId` (jobs, scripts, queue consumers): `getTenant()` and
   * `getTenantClient()` work inside, and the client is released when `fn` settles.
   *
   * @example
   * await tenantry.withTenant('acme', async () => {
   *   const db = await getTenantClient();
   *   await db.execute('delete from sessions where expires_at < unixepoch()');
   * });
   */
  async withTenant<T>(tenantId: string, fn: () => T | Promise<T>): Promise<T> {
    const id = parseTenantId(tenantId, 'withTenant');
    let scope: RequestScope;
    try {
      scope = this.#resolved(await this.#router.openById(id, 'withTenant'));
    } catch (err) {
      return this.#rejected(err);
    }
    return runWithTenant(scope, fn);
  }

  /**
   * Serves a fetch-style request (serverless functions, Workers, Deno, Bun): resolves the
   * tenant, runs `handler` in its scope, and answers tenancy errors (and `TenantryError`s
   * thrown by the handler) as `application/problem+json`.
   *
   * @example
   * export default { fetch: (req: Request) => tenantry.handle(req, async () => Response.json(getTenant())) }
   */
  async handle(request: Request, handler: TenantHandler): Promise<Response> {
    let scope: RequestScope | undefined;
    try {
      scope = await this.openScope(fetchRequestView(request));
    } catch (err) {
      if (isTenantryError(err)) return problemResponse(err);
      throw err;
    }
    const entered = scope!;
    let response: Response;
    try {
      response = await runWithTenant(entered, () => handler(request, entered.context));
    } catch (err) {
      if (isTenantryError(err)) return problemResponse(err);
      throw err;
    }
    return withHeaders(response, entered.rate?.headers);
  }

  /**
   * `ITenantRouter.resolveTenant`: the runtime context for a session — a fetch `Request`, an
   * adapter's `RequestView`, or `{ tenantId }`. Rejects with the same coded errors a request
   * would get.
   */
  async resolveTenant(session: TenantSession): Promise<TenantRuntimeContext> {
    let scope: RequestScope | undefined;
    if (isFetchRequest(session)) {
      scope = await this.openScope(fetchRequestView(session));
    } else if ('tenantId' in session) {
      scope = await this.#router.openById(parseTenantId(session.tenantId, 'resolveTenant'), 'session');
    } else {
      scope = await this.openScope(session);
    }
    return scope!.context;
  }

  /**
   * `ITenantRouter.getTenantClient`: the client of tenant `tenantId`. Inside that tenant's
   * scope (opened by this instance) this is the scope's client. Elsewhere it is a client that
   * leases the pooled connection for each operation (pool eviction never closes it under a
   * query) and checks the tenant's cached record before each one (a suspended tenant is refused
   * at the next operation). Rejects unless the tenant is active.
   */
  async getTenantClient(tenantId: string): Promise<Client> {
    const id = parseTenantId(tenantId, 'getTenantClient');
    const scope = currentScope();
    // Only a scope this instance opened: another instance may serve another database under the same id.
    if (scope instanceof RequestScope && scope.owner === this.#pool && scope.context.tenantId === id) return scope.client();
    return this.#router.standaloneClient(id);
  }

  /**
   * `ITenantRouter.invalidateCache`: forgets the cached record of `tenantId` and retires its
   * pooled clients (closed once running operations release them). Call after changing a record
   * yourself; when a slug or domain moves from one tenant to another, invalidate both.
   */
  invalidateCache(tenantId: string): void {
    this.#dropLocal(tenantId);
    const bus = this.#config.invalidation;
    if (bus !== undefined) {
      bus.publish(tenantId).catch((err: unknown) => this.#busFailed(err));
    }
  }

  /**
   * Resolves once the invalidation bus (if any) is subscribed, and rejects if it could not
   * subscribe. Requests are served meanwhile; await it at startup to know the bus works.
   */
  ready(): Promise<void> {
    return this.#busReady;
  }

  /** `invalidateCache`, but waits for the other instances to be told (lifecycle operations). */
  async #invalidateEverywhere(tenantId: string): Promise<void> {
    this.#dropLocal(tenantId);
    const bus = this.#config.invalidation;
    if (bus === undefined) return;
    try {
      await bus.publish(tenantId);
    } catch (err) {
      this.#busFailed(err);
    }
  }

  #dropLocal(tenantId: string): void {
    this.#cache.invalidate(tenantId);
    this.#pool.invalidate(tenantId);
    this.quota.invalidate(tenantId);
  }

  /**
   * A message could not be published: other instances may keep a stale record until their
   * cache expires. Reported, and counted by the bus's own subscribers as a missed message.
   */
  #busFailed(err: unknown): void {
    console.error('tenantry: could not publish a tenant invalidation to the other instances', err);
  }

  /**
   * Applies migrations to every active tenant database (default: `provisioning.migrations`),
   * each migration in one transaction, recorded in the tenant's `_tenantry_migrations` table.
   * One tenant failing does not stop the others; running it again resumes; an edited,
   * already-applied migration is refused for that tenant (checksum mismatch).
   *
   * @example
   * const report = await tenantry.migrate({ migrations: './migrations', concurrency: 8 });
   * if (report.failed.length > 0) process.exitCode = 1;
   */
  async migrate(options: MigrateOptions = {}): Promise<MigrationReport> {
    const migrations =
      options.migrations === undefined ? await this.provisioning.configuredMigrations() : await loadMigrations(options.migrations);
    const records = await this.registry.list({ status: 'active' });
    const wanted = options.tenants === undefined ? undefined : new Set(options.tenants);
    const pool = this.#pool;
    const router = this.#router;
    async function* targets(): AsyncGenerator<MigrationTarget> {
      for (const record of records) {
        if (wanted !== undefined && !wanted.has(record.id)) continue;
        // a tenant whose database cannot be opened is one failed tenant, not a failed run
        let lease: ReturnType<typeof acquireCoded> | undefined;
        yield {
          tenantId: record.id,
          get client() {
            lease ??= acquireCoded(pool, record.id, router.connectionOf(record), false);
            return lease.client;
          },
          release: () => lease?.release(),
        };
      }
    }
    const runOptions: Parameters<typeof migrateTenants>[2] = { now: this.#config.now };
    if (options.concurrency !== undefined) runOptions.concurrency = options.concurrency;
    if (options.dryRun !== undefined) runOptions.dryRun = options.dryRun;
    if (options.onProgress !== undefined) runOptions.onProgress = options.onProgress;
    return migrateTenants(targets(), migrations, runOptions);
  }

  /** Pool, registry-cache and quota counters. */
  stats(): TenantryStats {
    return { pool: this.#pool.stats(), registry: this.#cache.stats(), quota: this.quota.stats() };
  }

  /**
   * Subscribes to an event; returns the function that unsubscribes.
   *
   * @example
   * tenantry.on('tenant:rejected', ({ code, status }) => metrics.count(code))
   */
  on<E extends TenantryEventName>(event: E, listener: TenantryListener<E>): () => void {
    return this.#events.on(event, listener);
  }

  /**
   * Stops refilling the warm pool (a database being created is finished), waits for running
   * requests to release their clients, closes every pooled client, and closes the registry
   * when tenantry created it (the embedded default). Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.provisioning.close(); // no new warm databases; one being made finishes first
      await this.#config.invalidation?.close();
      await this.#pool.close();
      await this.quota.close();
      if (this.#ownsRegistry) await this.registry.close?.();
    })();
    return this.#closing;
  }

  #resolved<S extends RequestScope | undefined>(scope: S): S {
    if (scope !== undefined && this.#events.has('tenant:resolved')) {
      const { tenantId, source, requestId } = scope.context;
      this.#events.emit('tenant:resolved', { tenantId, source, requestId });
    }
    return scope;
  }

  #rejected(err: unknown): never {
    const error = isTenantryError(err)
      ? err
      : new TenantryError('TENANT_UNAVAILABLE', 'tenant resolution failed', { cause: err });
    if (this.#events.has('tenant:rejected')) {
      this.#events.emit('tenant:rejected', { code: error.code, status: error.status, message: error.message });
    }
    if (tenantRejectedChannel.hasSubscribers) {
      tenantRejectedChannel.publish({ code: error.code, status: error.status, message: error.message });
    }
    throw error;
  }
}

/** Options of `tenantry.migrate()`. */
export interface MigrateOptions {
  /** A folder of `*.sql` files or `[{ id, sql }]`. Default: `provisioning.migrations`. */
  migrations?: string | readonly Migration[];
  /** Tenants migrated at once. Default 8. */
  concurrency?: number;
  /** Report what would be applied, change nothing. Default false. */
  dryRun?: boolean;
  /** Only these tenants (ids). Default: every active tenant. */
  tenants?: readonly string[];
  /** Called after each tenant. */
  onProgress?: (progress: MigrationProgress) => void;
}

/** The platform stand-in when none is configured: every call is refused, saying why. */
function missingPlatform(): ITursoPlatformService {
  const refuse = (): Promise<never> =>
    Promise.reject(
      new TypeError(
        'no platform configured: pass createTenantry({ platform }) (tursoPlatform from tenantry/turso, or your own) to provision tenants whose databases are not the embedded default',
      ),
    );
  return { createDatabase: refuse, deleteDatabase: refuse, listDatabases: refuse, getDatabase: refuse, createToken: refuse, revokeTokens: refuse };
}

/** `response` with `headers` added (a copy when its headers are immutable). */
function withHeaders(response: Response, headers: Readonly<Record<string, string>> | undefined): Response {
  if (headers === undefined) return response;
  let target = response;
  for (const [name, value] of Object.entries(headers)) {
    try {
      target.headers.set(name, value);
    } catch {
      target = new Response(target.body, target);
      target.headers.set(name, value);
    }
  }
  return target;
}

function isFetchRequest(session: TenantSession): session is Request {
  return typeof Request !== 'undefined' && session instanceof Request;
}

/**
 * Creates a tenantry instance. With no options everything runs embedded: a libSQL file
 * control plane and file databases under `./.tenantry/`, tenants named by the `x-tenant-id`
 * header. Throws a `TypeError` naming the option when an option is invalid.
 *
 * @example
 * const tenantry = createTenantry({
 *   resolvers: [fromJwt({ jwksUrl, issuer, audience }), fromSubdomain({ baseDomains: ['app.example.com'] })],
 *   databases: { urlTemplate: 'libsql://{tenant}-myorg.turso.io', authToken: process.env.TURSO_GROUP_TOKEN },
 * });
 */
export function createTenantry(options: TenantryOptions = {}): Tenantry {
  return new Tenantry(options);
}
