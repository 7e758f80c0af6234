import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

let root: string | undefined;

/** The package root (where `sql/` lives), found from this module whether it runs from src, dist or a bundle. */
export function packageRoot(): string {
  if (root !== undefined) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "sql")) && existsSync(join(dir, "package.json"))) return (root = dir);
    const parent = dirname(dir);
    if (parent === dir) throw new Error("baton: cannot find its sql/ folder next to package.json");
    dir = parent;
  }
}

const cache = new Map<string, string>();

/** The text of `sql/<dialect>/<name>.sql`. */
export function sqlFile(dialect: "sqlite" | "postgres", name: string): string {
  const key = `${dialect}/${name}`;
  let text = cache.get(key);
  if (text === undefined) {
    text = readFileSync(join(packageRoot(), "sql", dialect, `${name}.sql`), "utf8");
    cache.set(key, text);
  }
  return text;
}

export interface MigrationFile {
  version: number;
  name: string;
  sql: string;
}

const MIGRATION_NAME = /^(\d{6})_([a-z0-9_]+)\.sql$/;

/** Numbered migrations of a dialect, in order. Versions must be 1, 2, 3… without gaps. */
export function migrationFiles(dialect: "sqlite" | "postgres"): MigrationFile[] {
  const dir = join(packageRoot(), "sql", dialect);
  const files = readdirSync(dir)
    .map((file) => MIGRATION_NAME.exec(file))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ version: Number(m[1]), name: m[2]!, sql: readFileSync(join(dir, m[0]), "utf8") }))
    .sort((a, b) => a.version - b.version);
  files.forEach((file, index) => {
    if (file.version !== index + 1)
      throw new Error(`baton: migration ${file.version} of ${dialect} is out of sequence`);
  });
  return files;
}

/** The newest schema version this code knows, without reading the files' contents. */
export function latestMigration(dialect: "sqlite" | "postgres"): number {
  return readdirSync(join(packageRoot(), "sql", dialect)).filter((f) => MIGRATION_NAME.test(f)).length;
}
