import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, it } from "vitest";
import { ManualClock } from "../src/core/clock.js";
import { SqliteStore } from "../src/store/sqlite/sqlite-store.js";
import { expectSchemaSnapshot } from "./helpers/snapshot.js";

const SNAPSHOT = join(import.meta.dirname, "__snapshots__", "schema.sqlite.sql");

let dir: string | undefined;
afterEach(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** The migrated schema as stable text: one block per object, trailing spaces and blank lines dropped. */
function dumpSchema(path: string, version: number): string {
  const db = new Database(path, { readonly: true });
  try {
    const rows = db
      .prepare(
        "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name",
      )
      .all() as { type: string; name: string; tbl_name: string; sql: string | null }[];
    const blocks = rows.map((row) => {
      const sql = (row.sql ?? "(no sql)")
        .split(/\r?\n/)
        .map((line) => line.trimEnd())
        .filter((line) => line !== "")
        .join("\n");
      return `-- ${row.type} ${row.name} on ${row.tbl_name}\n${sql};\n`;
    });
    return `-- baton SQLite schema, user_version ${version}. Regenerate: UPDATE_SCHEMA_SNAPSHOT=1 npx vitest run test/store.schema.test.ts\n\n${blocks.join("\n")}`;
  } finally {
    db.close();
  }
}

it("the migrated SQLite schema matches the committed snapshot", async () => {
  dir = mkdtempSync(join(tmpdir(), "baton-schema-"));
  const path = join(dir, "baton.db");
  const store = new SqliteStore({ path, clock: new ManualClock(), durability: "normal" });
  const { version } = await store.migrate();
  await store.close();
  const actual = dumpSchema(path, version);

  expectSchemaSnapshot(SNAPSHOT, actual);
});
