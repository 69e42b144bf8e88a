/**
 * Snapshot files of deployments (Node only; the edge build replaces this module with
 * `src/edge/snapshot-files.ts`): `<dataDir>/snapshots/<deploymentId>/<tenantId>.db`.
 * `node:fs` and `node:path` are imported on demand.
 */

/**
 * The snapshot path of `tenantId` in `deploymentId`, its folder created and any file left there
 * by an earlier attempt removed (`VACUUM INTO` refuses an existing file). Ids are checked by the
 * caller (deployment ids and tenant ids hold no path separators).
 */
export async function prepareSnapshotFile(dataDir: string, deploymentId: string, tenantId: string): Promise<string> {
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  const dir = path.join(path.resolve(dataDir), 'snapshots', deploymentId);
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, `${tenantId}.db`);
  await fs.rm(file, { force: true });
  return file;
}

/** True when the snapshot file exists. */
export async function snapshotExists(file: string): Promise<boolean> {
  const fs = await import('node:fs/promises');
  try {
    return (await fs.stat(file)).isFile();
  } catch {
    return false;
  }
}

/** Deletes a snapshot file (no error when it is already gone). */
export async function removeSnapshot(file: string): Promise<void> {
  const fs = await import('node:fs/promises');
  await fs.rm(file, { force: true });
}

/**
 * Deletes the snapshot folders of deployments beyond the newest `keep`, and of deployments
 * older than `maxAgeMs` (their age read from the id: see `timeOf`). Returns the deployment ids
 * whose folders were deleted. Folders whose name is no deployment id are left alone.
 */
export async function pruneSnapshotFolders(
  dataDir: string,
  rules: { keep: number; maxAgeMs: number; now: number; timeOf: (deploymentId: string) => number | undefined },
): Promise<string[]> {
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  const root = path.join(path.resolve(dataDir), 'snapshots');
  let names: string[];
  try {
    names = (await fs.readdir(root, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return [];
  }
  const dated = names.flatMap((name) => {
    const at = rules.timeOf(name);
    return at === undefined ? [] : [{ name, at }];
  });
  dated.sort((a, b) => b.at - a.at || (a.name < b.name ? 1 : -1));
  const removed: string[] = [];
  for (const [index, { name, at }] of dated.entries()) {
    if (index < rules.keep && rules.now - at <= rules.maxAgeMs) continue;
    await fs.rm(path.join(root, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

/** The `file:` URL of a snapshot file (percent-encoded, as libSQL reads it). */
export async function snapshotUrl(file: string): Promise<string> {
  const url = await import('node:url');
  return url.pathToFileURL(file).href;
}
