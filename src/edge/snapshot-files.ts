/**
 * The edge build's twin of `src/node/snapshot-files.ts` (same exports): there is no file
 * system to keep snapshots in. Deploys to remote databases do not take snapshots (they are
 * rolled back with the inverse plan), so these are only reached for `file:` databases.
 */
import type * as NodeSnapshotFiles from '../node/snapshot-files.js';

const refusal = (): Promise<never> =>
  Promise.reject(
    new TypeError(
      "deploy snapshots are files, and this runtime has no file system (tenantry's edge build); remote databases are rolled back with the inverse plan instead",
    ),
  );

/** Refuses: snapshots need a file system. */
export const prepareSnapshotFile: typeof NodeSnapshotFiles.prepareSnapshotFile = refusal;
/** Refuses: snapshots need a file system. */
export const snapshotExists: typeof NodeSnapshotFiles.snapshotExists = refusal;
/** Refuses: snapshots need a file system. */
export const removeSnapshot: typeof NodeSnapshotFiles.removeSnapshot = refusal;
/** Nothing to prune without a file system: no folder was ever written. */
export const pruneSnapshotFolders: typeof NodeSnapshotFiles.pruneSnapshotFolders = () => Promise.resolve([]);
/** Refuses: snapshots need a file system. */
export const snapshotUrl: typeof NodeSnapshotFiles.snapshotUrl = refusal;
