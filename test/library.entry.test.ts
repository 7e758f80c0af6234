/**
 * The package's entry points as a user imports them (`baton`, `baton/postgres`, `baton/ops`, by
 * package self-reference from the built `dist/`), each in a fresh Node process: importing `baton`
 * and running a worker loads neither the PostgreSQL driver nor YAML (they load when used), and
 * `baton.call` reaches the catalogue on demand.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "./helpers/tmp.js";

const ROOT = join(import.meta.dirname, "..");

function run(script: string): Record<string, unknown> {
  const result = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, BATON_HOME: tempDir("baton-entry-") },
    timeout: 60_000,
  });
  expect(result.stderr).toBe("");
  expect(result.status).toBe(0);
  return JSON.parse(result.stdout.trim().split("\n").pop()!) as Record<string, unknown>;
}

const PRELUDE = `
import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
const loaded = (name) => Object.keys(require.cache).some((k) => k.includes("/node_modules/" + name + "/"));
`;

describe("library entry points", () => {
  it("importing baton and running a worker loads neither pg nor yaml; baton.call loads the catalogue when used", () => {
    const out = run(`${PRELUDE}
const { openBaton, defineHandler } = await import("baton-ledger");
const { z } = await import("zod");
const baton = await openBaton();
let ran = 0;
const h = defineHandler("t", z.object({ n: z.number() }), async () => { ran++; });
await baton.enqueue(h, { n: 1 });
const worker = baton.worker({ handlers: [h] });
await worker.start();
while (ran < 1) await new Promise((r) => setTimeout(r, 5));
await worker.stop();
const before = { pg: loaded("pg"), yaml: loaded("yaml") };
const health = await baton.call("health", {});
let missing;
try { await baton.call("no_such_op", {}); } catch (e) { missing = e.code; }
await baton.close();
console.log(JSON.stringify({ ran, before, yamlAfterCall: loaded("yaml"), health: health.ok, missing }));
`);
    expect(out).toEqual({
      ran: 1,
      before: { pg: false, yaml: false },
      yamlAfterCall: true,
      health: true,
      missing: "NOT_FOUND",
    });
  });

  it("baton-ledger/postgres exports the PostgreSQL store and baton-ledger/ops the catalogue", () => {
    const out = run(`${PRELUDE}
const root = await import("baton-ledger");
const pgEntry = await import("baton-ledger/postgres");
const ops = await import("baton-ledger/ops");
console.log(JSON.stringify({
  rootHasPostgres: "PostgresStore" in root,
  store: typeof pgEntry.PostgresStore,
  redact: pgEntry.redactDatabaseUrl("postgres://u:secret@h/db").includes("secret"),
  names: ops.operations.map((o) => o.name).includes("enqueue_task"),
  get: ops.getOperation("health")?.name,
}));
`);
    expect(out).toEqual({
      rootHasPostgres: false,
      store: "function",
      redact: false,
      names: true,
      get: "health",
    });
  });
});
