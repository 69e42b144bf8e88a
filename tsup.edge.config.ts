/**
 * The edge build (`dist/edge/*.js`, ESM), picked by the `workerd`, `edge-light` and `browser`
 * export conditions: Cloudflare Workers, Vercel Edge and other fetch-only runtimes. Same
 * sources and same public API as the Node build (so it shares its `.d.ts` files), with two
 * differences made here:
 *
 * - Node-only modules are replaced by their edge twins (same exports, refusing with a
 *   `TypeError` that says why): see `EDGE_TWINS`. Nothing of `node:fs`, `node:path`,
 *   `node:child_process` or `node:os` is left (test/edge-bundle.test.ts checks).
 * - `@libsql/client` is imported as `@libsql/client/web` (remote URLs over fetch), whatever
 *   conditions the user's bundler sets.
 *
 * Run after the Node build (`npm run build`): that one cleans all of `dist/`.
 */
import { resolve } from 'node:path';
import type { Plugin } from 'esbuild';
import { defineConfig } from 'tsup';

const root = import.meta.dirname;

/** Node-only module → its edge twin (absolute paths of the `.ts` sources). */
const EDGE_TWINS: ReadonlyMap<string, string> = new Map(
  [
    ['src/node/defaults.ts', 'src/edge/defaults.ts'],
    ['src/node/runtime.ts', 'src/edge/runtime.ts'],
    ['src/node/migration-files.ts', 'src/edge/migration-files.ts'],
    ['src/platform/local.ts', 'src/edge/local-platform.ts'],
    ['src/node/snapshot-files.ts', 'src/edge/snapshot-files.ts'],
  ].map(([node, edge]) => [resolve(root, node!), resolve(root, edge!)]),
);

const edgePlugin: Plugin = {
  name: 'tenantry-edge',
  setup(build) {
    build.onResolve({ filter: /^@libsql\/client$/ }, () => ({ path: '@libsql/client/web', external: true }));
    build.onResolve({ filter: /^\.\.?\// }, (args) => {
      const twin = EDGE_TWINS.get(resolve(args.resolveDir, args.path).replace(/\.js$/, '.ts'));
      return twin === undefined ? undefined : { path: twin };
    });
  },
};

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    hono: 'src/middleware/hono.ts',
    turso: 'src/turso/index.ts',
  },
  outDir: 'dist/edge',
  format: ['esm'],
  platform: 'neutral',
  target: 'es2022',
  dts: false,
  clean: true,
  sourcemap: true,
  splitting: true,
  removeNodeProtocol: false,
  // node: builtins stay imports (workerd provides node:async_hooks and node:diagnostics_channel
  // with nodejs_compat); `@libsql/client` itself is left to edgePlugin, which rewrites it
  external: [/^node:/],
  noExternal: [/^@libsql\/client$/],
  esbuildPlugins: [edgePlugin],
});
