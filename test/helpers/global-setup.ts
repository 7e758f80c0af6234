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

/** Tests that spawn `bin/baton.js` need the bundle: rebuild it when src/ is newer. */
export default function setup(): void {
  const root = join(import.meta.dirname, "..", "..");
  const bundle = join(root, "dist", "cli.mjs");
  if (!existsSync(bundle) || statSync(bundle).mtimeMs < newest(join(root, "src"))) {
    execFileSync(process.execPath, [join(root, "scripts", "build.mjs"), "--bundle-only"], {
      stdio: "inherit",
      cwd: root,
    });
  }
  if (process.env.BATON_TEST_DATABASE_URL === undefined || process.env.BATON_TEST_DATABASE_URL === "") {
    process.stderr.write(
      "\nNOTE: BATON_TEST_DATABASE_URL is not set: the PostgreSQL suite is skipped (set it to postgres://user@host:5432/db to run it).\n\n",
    );
  }
}
