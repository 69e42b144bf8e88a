/**
 * Express bench server (`node bench/servers/express.mjs <variant>`), started by bench/run.ts.
 * Every variant serves `GET /notes` with the same small JSON.
 *
 *   bare            no tenancy
 *   tenancy-header  tenancy(fromHeader()); the handler awaits getTenantClient()
 */
import { createServer } from 'node:http';
import express from 'express';
import { createTenantry, fromHeader, getTenantClient, memoryRegistry } from '../../dist/index.js';
import { tenancy } from '../../dist/express.js';
import { NOTES, dataDir, listenOn, run, settings } from './harness.mjs';

const { variant } = settings;
const folder = dataDir();
const app = express();
let cleanup;

switch (variant) {
  case 'bare':
    app.get('/notes', async (_req, res) => {
      res.json(NOTES);
    });
    break;
  case 'tenancy-header': {
    const tenantry = createTenantry({
      resolvers: [fromHeader()],
      registry: memoryRegistry([{ id: 'acme' }]),
      databases: { urlTemplate: `file:${folder}/{tenant}.db` },
    });
    cleanup = () => tenantry.close();
    app.use(tenancy(tenantry));
    app.get('/notes', async (_req, res) => {
      await getTenantClient();
      res.json(NOTES);
    });
    break;
  }
  default:
    throw new Error(`express bench server: unknown variant "${variant}"`);
}

await run({
  folder,
  listen: () => listenOn(createServer(app)),
  cleanup: () => cleanup?.(),
});
