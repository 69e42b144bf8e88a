/**
 * Runs test/workerd/worker.ts inside real workerd through Miniflare (needs Node >= 22: run with
 * `npm run test:workerd`). The Worker is bundled the way wrangler bundles one (conditions
 * `workerd`, `worker`, `browser`), so `tenantry` resolves to the package's edge build.
 *
 * Every outbound `fetch` of the Worker reaches {@link WorkerHarness}'s stub instead of the
 * network: the JWKS of `auth.test`, a barrier at `barrier.test`, and tenant databases at
 * `*.turso.test` speaking enough of Hrana over HTTP (`POST /v2/pipeline`, what
 * `@libsql/client/web` sends for a `libsql://` or `https://` URL) for `execute`.
 */
import { join } from 'node:path';
import { build } from 'esbuild';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import type { JWTPayload } from 'jose';
import { Miniflare, Response as MiniflareResponse } from 'miniflare';
import type { Request as MiniflareRequest, RequestInit as MiniflareRequestInit } from 'miniflare';
import { AUDIENCE, ISSUER, JWKS_URL } from './constants.js';

const root = join(import.meta.dirname, '..', '..');

/**
 * An older compatibility date on purpose: it is the stricter runtime (`process.cwd()` is
 * missing before the newer `process` implementation). One test also runs the newest.
 */
export const COMPATIBILITY_DATE = '2025-09-01';

/** What the Hrana stub received in one `v2/pipeline` request. */
export interface PipelineCall {
  host: string;
  authorization: string | null;
  statements: Array<{ sql: string; args: unknown[] }>;
}

/** Forwards each request to the tested Worker with the Host header of its URL. */
const FRONT = `export default {
  fetch(request, env) {
    const headers = new Headers(request.headers);
    headers.set('host', new URL(request.url).host);
    return env.TESTED.fetch(new Request(request.url, { method: request.method, headers, body: request.body }));
  },
};`;

const bundles = new Map<string, Promise<string>>();

/** A Worker module (default: worker.ts), bundled once per test file the way wrangler does it. */
export function bundleWorker(entry = join(import.meta.dirname, 'worker.ts')): Promise<string> {
  let bundled = bundles.get(entry);
  bundled ??= build({
    entryPoints: [entry],
    absWorkingDir: root,
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    conditions: ['workerd', 'worker', 'browser'],
    mainFields: ['browser', 'module', 'main'],
    external: ['node:*', 'cloudflare:*'],
    logLevel: 'silent',
  }).then((result) => result.outputFiles[0]!.text);
  bundles.set(entry, bundled);
  return bundled;
}

/** A running Worker and the stub behind its outbound fetches. */
export interface WorkerHarness {
  /** Sends a request to the Worker. */
  fetch(url: string, init?: MiniflareRequestInit): Promise<MiniflareResponse>;
  /** A JWT signed with the key the stub's JWKS publishes (valid for an hour from now). */
  sign(claims: JWTPayload): Promise<string>;
  /** Every Hrana pipeline request the tenant databases received. */
  readonly pipelines: PipelineCall[];
  /** How many times the JWKS was fetched. */
  readonly jwksFetches: () => number;
  /** The next `count` requests to `barrier.test` are held until all arrived, then released last-first. */
  holdBarrier(count: number): void;
  /** Outbound requests the stub did not expect (answered 502). */
  readonly unexpected: string[];
  dispose(): Promise<void>;
}

/** Starts the Worker in workerd. */
export async function startWorker(
  options: { compatibilityDate?: string; entry?: string; bindings?: Record<string, string> } = {},
): Promise<WorkerHarness> {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'workerd-test-key', alg: 'ES256', use: 'sig' };
  const pipelines: PipelineCall[] = [];
  const unexpected: string[] = [];
  let jwksFetches = 0;
  let barrier: { count: number; waiting: Array<() => void> } | undefined;

  async function outbound(request: MiniflareRequest): Promise<MiniflareResponse> {
    const url = new URL(request.url);
    if (url.hostname === 'auth.test' && url.href === JWKS_URL) {
      jwksFetches++;
      return MiniflareResponse.json({ keys: [jwk] });
    }
    if (url.hostname === 'barrier.test' && barrier !== undefined) {
      const held = barrier;
      await new Promise<void>((release) => {
        held.waiting.push(release);
        if (held.waiting.length === held.count) {
          barrier = undefined;
          for (const next of [...held.waiting].reverse()) next();
        }
      });
      return new MiniflareResponse('released');
    }
    if (url.hostname.endsWith('.turso.test') && request.method === 'POST' && url.pathname === '/v2/pipeline') {
      return pipeline(url.hostname, request.headers.get('authorization'), (await request.json()) as PipelineBody);
    }
    unexpected.push(`${request.method} ${request.url}`);
    return new MiniflareResponse('not a host of the workerd tests', { status: 502 });
  }

  function pipeline(host: string, authorization: string | null, body: PipelineBody): MiniflareResponse {
    const call: PipelineCall = { host, authorization, statements: [] };
    pipelines.push(call);
    const results = body.requests.map((req) => {
      if (req.type === 'close') return { type: 'ok', response: { type: 'close' } };
      if (req.type !== 'execute' || req.stmt === undefined) {
        return { type: 'error', error: { message: `the stub only speaks execute and close, not ${req.type}`, code: 'STUB_UNSUPPORTED' } };
      }
      const args = (req.stmt.args ?? []).map(hranaValue);
      call.statements.push({ sql: req.stmt.sql ?? '', args });
      // one row reporting what the database server saw
      return {
        type: 'ok',
        response: {
          type: 'execute',
          result: {
            cols: [{ name: 'host', decltype: 'TEXT' }, { name: 'sql', decltype: 'TEXT' }, { name: 'arg', decltype: 'TEXT' }],
            rows: [[text(host), text(req.stmt.sql ?? ''), args[0] === undefined ? { type: 'null' } : text(String(args[0]))]],
            affected_row_count: 0,
            last_insert_rowid: null,
          },
        },
      };
    });
    return MiniflareResponse.json({ baton: null, base_url: null, results });
  }

  const compatibilityDate = options.compatibilityDate ?? COMPATIBILITY_DATE;
  const mf = new Miniflare({
    workers: [
      // Miniflare's dispatchFetch() sends `Host: 127.0.0.1:<port>` whatever the URL; this front
      // Worker stands for Cloudflare's edge, which sends the Host the request was made for.
      { name: 'front', modules: true, script: FRONT, compatibilityDate, serviceBindings: { TESTED: 'tested' } },
      {
        name: 'tested',
        modules: true,
        script: await bundleWorker(options.entry),
        bindings: options.bindings ?? {},
        compatibilityDate,
        compatibilityFlags: ['nodejs_compat'],
        outboundService: outbound,
      },
    ],
  });
  await mf.ready;

  return {
    fetch: (url, init) => mf.dispatchFetch(url, init),
    sign: (claims) =>
      new SignJWT({ ...claims })
        .setProtectedHeader({ alg: 'ES256', kid: jwk.kid })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setIssuedAt()
        .setExpirationTime('1h')
        .sign(privateKey),
    pipelines,
    jwksFetches: () => jwksFetches,
    holdBarrier(count) {
      barrier = { count, waiting: [] };
    },
    unexpected,
    dispose: () => mf.dispose(),
  };
}

interface HranaValue {
  type: string;
  value?: string | number;
  base64?: string;
}
interface PipelineBody {
  baton: string | null;
  requests: Array<{ type: string; stmt?: { sql?: string; args?: HranaValue[] } }>;
}

function text(value: string): HranaValue {
  return { type: 'text', value };
}

function hranaValue(value: HranaValue): unknown {
  return value.type === 'null' ? null : (value.value ?? value.base64);
}
