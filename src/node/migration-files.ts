/**
 * Reading a folder of `*.sql` migrations (Node only; the edge build replaces this module with
 * `src/edge/migration-files.ts`). `node:fs` and `node:path` are imported on demand, when a
 * folder is actually read.
 */
import type { Migration } from '../provisioning/migrations.js';

/**
 * The `*.sql` files of `folder` (not of subfolders) as migrations, id = file name without
 * `.sql`; a leading UTF-8 byte order mark is dropped. A file name that does not match
 * `idPattern` is a `TypeError`.
 */
export async function readMigrationFolder(folder: string, idPattern: RegExp): Promise<Migration[]> {
  if (folder === '') throw new TypeError('loadMigrations: the folder path is empty');
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  let entries: import('node:fs').Dirent[];
  try {
    entries = await fs.readdir(folder, { withFileTypes: true });
  } catch (err) {
    throw new TypeError(`loadMigrations: cannot read the folder ${folder} (${(err as { code?: string }).code ?? String(err)})`, { cause: err });
  }
  const out: Migration[] = [];
  for (const entry of entries) {
    if (!entry.name.endsWith('.sql')) continue;
    const file = path.join(folder, entry.name);
    if (!entry.isFile() && !(entry.isSymbolicLink() && (await fs.stat(file)).isFile())) continue;
    const id = entry.name.slice(0, -'.sql'.length);
    if (!idPattern.test(id)) {
      throw new TypeError(`loadMigrations: file name ${file} is not a valid migration id (letters, digits, '_', '.', '-'; at most 128)`);
    }
    const text = await fs.readFile(file, 'utf8');
    out.push({ id, sql: text.startsWith('\uFEFF') ? text.slice(1) : text });
  }
  return out;
}
