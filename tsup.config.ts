import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    hono: 'src/middleware/hono.ts',
    express: 'src/middleware/express.ts',
    redis: 'src/redis/index.ts',
    turso: 'src/turso/index.ts',
    postgres: 'src/postgres/index.ts',
    fastify: 'src/middleware/fastify.ts',
    cli: 'src/cli/main.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  splitting: true,
  treeshake: true,
  removeNodeProtocol: false,
});
