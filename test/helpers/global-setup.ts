import { execFileSync } from "node:child_process";
import { existsSync, statSync, readdirSync } from "node:fs";
import { join } from "node:path";

function newest(dir: string): number {
  let max = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    max = Math.max(max, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return max;
}

/**
 * Tests that spawn `bin/baton.js` need the bundle, and the library's entry test imports `dist/`:
 * rebuild what is older than src/ (the bundle alone when only it is stale).
 */
export default function setup(): void {
  const root = join(import.meta.dirname, "..", "..");
  const stale = (file: string) => !existsSync(file) || statSync(file).mtimeMs < newest(join(root, "src"));
  // The ledger key, the plugin import guard and the help texts are written with the bundle.
  const bundleStale =
    stale(join(root, "dist", "cli.mjs")) ||
    stale(join(root, "dist", "ledger-key.cjs")) ||
    stale(join(root, "dist", "plugin-guard.mjs")) ||
    stale(join(root, "dist", "cli-help.json"));
  const libraryStale = stale(join(root, "dist", "index.js"));
  if (bundleStale || libraryStale) {
    execFileSync(
      process.execPath,
      [join(root, "scripts", "build.mjs"), ...(libraryStale ? [] : ["--bundle-only"])],
      { stdio: "inherit", cwd: root },
    );
  }
  if (process.env.BATON_TEST_DATABASE_URL === undefined || process.env.BATON_TEST_DATABASE_URL === "") {
    process.stderr.write(
      "\nNOTE: BATON_TEST_DATABASE_URL is not set: the PostgreSQL suite is skipped (set it to postgres://user@host:5432/db to run it).\n\n",
    );
  }
}
