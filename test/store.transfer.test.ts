/**
 * `baton export` / `baton import` at the library level: a SQLite ledger with jobs in every kind of
 * state moves to PostgreSQL and back, and every row of every table comes out as it went in.
 */
import { PassThrough, Readable } from "node:stream";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BatonError } from "../src/core/errors.js";
import { openEngine } from "../src/open.js";
import type { LedgerRows, Row } from "../src/store/transfer/rows.js";
import { postgresRows, sqliteRows, TABLES } from "../src/store/transfer/rows.js";
import { exportLedger, importLedger } from "../src/store/transfer/transfer.js";
import { PG_ENABLED, pgTestDatabase, warnIfPgSkipped } from "./helpers/pg.js";
import { tempDir } from "./helpers/tmp.js";

warnIfPgSkipped("ledger export/import");
const db = pgTestDatabase();

/** A SQLite ledger with queued, running, succeeded, failed, waiting and retried jobs. */
async function populatedSqlite(): Promise<string> {
  const path = join(tempDir("baton-transfer-"), "baton.db");
  const { engine, store } = await openEngine({ databasePath: path, actor: "test" });
  try {
    const [a, b] = await engine.enqueue([
      { type: "edit", name: "a", payload: { file: "a.ts" }, workflow: "wf", tags: ["x"] },
      { type: "edit", name: "b", payload: { file: "b.ts" }, workflow: "wf", priority: 5 },
    ]);
    await engine.enqueue({ type: "review", dependsOn: [a!.job.id, b!.job.id], idempotencyKey: "k1" });
    const [flaky] = await engine.enqueue({ type: "flaky", maxAttempts: 2 });
    const claimed = await engine.claim({ types: ["edit"], owner: "w1", limit: 2 });
    await engine.complete(claimed[0]!.job.id, { token: claimed[0]!.token, result: { ok: true } });
    await engine.fail(claimed[1]!.job.id, { token: claimed[1]!.token, error: "boom", noRetry: true });
    const [f] = await engine.claim({ types: ["flaky"], owner: "w2" });
    await engine.fail(flaky!.job.id, { token: f!.token, error: "once" });
    await engine.enqueue({ type: "long" });
    await engine.claim({ types: ["long"], owner: "w3", leaseMs: 600_000 });
    await engine.pause("type", "paused-type");
    await store.registerSchedule({
      key: "cfg#nightly",
      configPath: "/p/baton.yaml",
      task: "nightly",
      cron: "0 3 * * *",
    });
    await store.addEvent({
      jobId: null,
      workflow: "wf",
      project: null,
      actor: "test",
      kind: "note",
      from: null,
      to: null,
      details: { text: "hi" },
    } as never);
  } finally {
    await store.close();
  }
  return path;
}

async function allRows(rows: LedgerRows): Promise<Record<string, Row[]>> {
  const out: Record<string, Row[]> = {};
  for (const spec of TABLES) out[spec.name] = await rows.page(spec, undefined, 100_000);
  return out;
}

async function exportText(rows: LedgerRows): Promise<string> {
  let text = "";
  await exportLedger(rows, (line) => void (text += line));
  return text;
}

async function freshSqliteRows(): Promise<LedgerRows> {
  const path = join(tempDir("baton-transfer-"), "baton.db");
  const { store } = await openEngine({ databasePath: path });
  await store.close();
  return sqliteRows(path);
}

describe("ledger export and import (SQLite)", () => {
  it("exports every table and imports into an empty SQLite ledger row for row", async () => {
    const source = sqliteRows(await populatedSqlite());
    const target = await freshSqliteRows();
    try {
      const text = await exportText(source);
      const result = await importLedger(target, Readable.from([text]));
      const before = await allRows(source);
      expect(before.jobs!.length).toBe(5);
      expect(before.attempts!.length).toBeGreaterThanOrEqual(4);
      expect(before.job_deps!.length).toBe(2);
      expect(before.pauses!.length).toBe(1);
      expect(before.schedules!.length).toBe(1);
      expect(result.inserted.events).toBe(before.events!.length);
      expect(await allRows(target)).toEqual(before);
    } finally {
      await source.close();
      await target.close();
    }
  });

  it("refuses a non-empty ledger without --force, and with it adds only the missing rows", async () => {
    const source = sqliteRows(await populatedSqlite());
    try {
      const text = await exportText(source);
      const error = await importLedger(source, Readable.from([text])).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BatonError);
      expect((error as BatonError).message).toMatch(/not empty/);
      const merged = await importLedger(source, Readable.from([text]), { force: true });
      expect(Object.values(merged.inserted).every((n) => n === 0)).toBe(true);
      expect(merged.read.jobs).toBe(5);
    } finally {
      await source.close();
    }
  });

  it("refuses truncated, foreign and malformed input and leaves the ledger empty", async () => {
    const source = sqliteRows(await populatedSqlite());
    const text = await exportText(source);
    await source.close();
    const lines = text.trimEnd().split("\n");
    const cases: [string, string, RegExp][] = [
      ["truncated", lines.slice(0, -3).join("\n"), /truncated/],
      ["not an export", '{"hello":1}\n', /not a baton export/],
      ["not JSON", `${lines[0]}\n{oops\n`, /line 2: not JSON/],
      ["bad row", `${lines[0]}\n{"table":"jobs","row":{"id":"x","run_at":"soon"}}\n`, /malformed jobs row/],
      ["refused row", `${lines[0]}\n{"table":"jobs","row":{"id":"x"}}\n`, /refused a jobs row/],
      ["unknown table", `${lines[0]}\n{"table":"locks","row":{}}\n`, /unknown table/],
      ["empty", "", /empty input/],
    ];
    const target = await freshSqliteRows();
    try {
      for (const [what, input, message] of cases) {
        const error = await importLedger(target, Readable.from([input])).catch((e: unknown) => e);
        expect(error, what).toBeInstanceOf(BatonError);
        expect((error as BatonError).message, what).toMatch(message);
        expect((await allRows(target)).jobs, what).toEqual([]);
      }
    } finally {
      await target.close();
    }
  });
});

describe.skipIf(!PG_ENABLED)("ledger export and import across stores", () => {
  beforeAll(() => db.setup());
  afterAll(() => db.teardown());

  it("the rows' own connection checks the URL's TLS parameters as the store does: a repeated sslmode is INVALID_INPUT, not a plain-text connection (pg takes the last)", async () => {
    const pgStore = db.store();
    await pgStore.migrate();
    const sep = db.url.includes("?") ? "&" : "?";
    for (const query of ["sslmode=require&sslmode=disable", "sslmode=bogus"]) {
      const refused = await postgresRows(`${db.url}${sep}${query}`, pgStore.schema).then(
        async (rows) => {
          await rows.close();
          return undefined;
        },
        (error: unknown) => error,
      );
      expect(refused, query).toBeInstanceOf(BatonError);
      expect((refused as BatonError).code, query).toBe("INVALID_INPUT");
      expect((refused as BatonError).message).toMatch(/sslmode/);
    }
  });

  it("round trip SQLite → PostgreSQL → SQLite keeps every row: ids, states, event ids and timestamps", async () => {
    const source = sqliteRows(await populatedSqlite());
    const pgStore = db.store();
    await pgStore.migrate();
    const pgRows = await postgresRows(db.url, pgStore.schema);
    const back = await freshSqliteRows();
    try {
      const original = await allRows(source);
      const stream = new PassThrough();
      const importing = importLedger(pgRows, stream);
      await exportLedger(source, (line) => void stream.write(line));
      stream.end();
      await importing;
      expect(await allRows(pgRows)).toEqual(original);
      // The derived completion flag is rebuilt: the jobs that "review" depends on carry it.
      const pgClient = new pg.Client({ connectionString: db.url });
      await pgClient.connect();
      try {
        const flagged = await pgClient.query<{ name: string }>(
          `SELECT name FROM ${pgStore.schema}.jobs WHERE has_dependents ORDER BY name`,
        );
        expect(flagged.rows.map((r) => r.name)).toEqual(["a", "b"]);
      } finally {
        await pgClient.end();
      }

      await importLedger(back, Readable.from([await exportText(pgRows)]));
      expect(await allRows(back)).toEqual(original);

      // The moved ledger works: new events continue after the imported ids, and jobs are claimable.
      const maxEvent = Math.max(...original.events!.map((e) => Number(e.id)));
      const { engine, store } = await openEngine({ databaseUrl: db.url, databaseSchema: pgStore.schema });
      try {
        const [queued] = await engine.claim({ types: ["review"], owner: "after-move" }).then(async (c) => {
          expect(c).toEqual([]); // its dependencies did not all succeed (one failed)
          return engine.enqueue({ type: "new" });
        });
        const events = await store.events({ jobId: queued!.job.id, limit: 10 });
        expect(events[0]!.id).toBeGreaterThan(maxEvent);
      } finally {
        await store.close();
      }
    } finally {
      await source.close();
      await pgRows.close();
      await back.close();
    }
  });
});
