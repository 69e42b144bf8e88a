/**
 * The edge build's twin of `src/node/migration-files.ts` (same exports): there is no file
 * system to read a folder of migrations from.
 */
import type * as NodeMigrationFiles from '../node/migration-files.js';

/** Refuses: reading a folder needs a file system. Pass the migrations as `[{ id, sql }]`. */
export const readMigrationFolder: typeof NodeMigrationFiles.readMigrationFolder = (folder) =>
  Promise.reject(
    new TypeError(
      `loadMigrations: cannot read the folder ${folder}: reading a folder needs a file system, which this runtime does not have (tenantry's edge build); pass the migrations as [{ id, sql }]`,
    ),
  );
