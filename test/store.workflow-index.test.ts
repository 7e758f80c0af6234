/**
 * D155: SQLite's jobs_workflow holds only the jobs that have a project or a workflow (migration
 * 000012). A ledger made at schema 11 migrates with every job kept and the index rebuilt partial;
 * a job with neither writes no entry; every read the index served (a project's jobs, a workflow's,
 * the jobs of a workflow with no project before one, counts) answers the same rows and still
 * reads the index.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { ManualClock } from "../src/core/clock.js";
import { Engine } from "../src/engine/engine.js";
import { migrationFiles } from "../src/store/sql-files.js";
import { SqliteStore } from "../src/store/sqlite/sqlite-store.js";
import { indexEntries } from "./helpers/sqlite-index.js";

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function ledgerPath(): string {
  const dir = mkdtempSync(join(tmpdir(), "baton-workflow-index-"));
  dirs.push(dir);
  return join(dir, "baton.db");
}

function plan(path: string, sql: string, params: unknown[]): string {
  const conn = new Database(path, { readonly: true });
  try {
    return (conn.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[])
      .map((r) => r.detail)
      .join(" | ");
  } finally {
    conn.close();
  }
}

const V11_JOB = `INSERT INTO jobs (id, type, payload, state, run_at, attempts, max_attempts, backoff, workflow, project,
  created_at, updated_at, enqueue_id, enqueue_actor, enqueue_state)
  VALUES (?, 't', '{}', 'queued', 0, 0, 1, '{"kind":"fixed","delayMs":0}', ?, ?, 5, 5, ?, 'old', 'queued')`;

describe("jobs_workflow holds only jobs with a project or a workflow (D155, migration 000012)", () => {
  it("a ledger at schema 11 migrates: every job kept, the index rebuilt without the jobs that have neither", async () => {
    const path = ledgerPath();
    const raw = new Database(path);
    raw.pragma("journal_mode = WAL");
    for (const m of migrationFiles("sqlite").filter((f) => f.version <= 11)) raw.exec(m.sql);
    raw.pragma("user_version = 11");
    const insert = raw.prepare(V11_JOB);
    insert.run("01OLD0000000000000000000A1", null, null, 1);
    insert.run("01OLD0000000000000000000A2", "wf", null, 2);
    insert.run("01OLD0000000000000000000A3", null, "p", 3);
    insert.run("01OLD0000000000000000000A4", "wf", "p", 4);
    raw.close();
    expect(indexEntries(path, "jobs_workflow")).toBe(4);

    const clock = new ManualClock();
    const store = new SqliteStore({ path, clock, durability: "normal" });
    try {
      expect((await store.migrate()).version).toBeGreaterThanOrEqual(12);
      expect(indexEntries(path, "jobs_workflow")).toBe(3);
      const ids = async (filter: Parameters<SqliteStore["listJobs"]>[0]) =>
        (await store.listJobs(filter, { limit: 10, order: "asc" })).map((j) => j.id.slice(-2));
      expect(await ids({})).toEqual(["A1", "A2", "A3", "A4"]);
      expect(await ids({ project: "p" })).toEqual(["A3", "A4"]);
      expect(await ids({ workflow: "wf" })).toEqual(["A2", "A4"]);
      expect(await ids({ project: "p", workflow: null })).toEqual(["A3"]);
      expect(await ids({ workflow: null })).toEqual(["A1", "A3"]);
      expect(await store.countJobs({ project: "p" })).toBe(2);

      // New jobs: only those with a project or a workflow get an entry.
      const engine = new Engine(store, { clock });
      await engine.enqueue([{ type: "t" }, { type: "t" }]);
      expect(indexEntries(path, "jobs_workflow")).toBe(3);
      await engine.enqueue([
        { type: "t", workflow: "wf" },
        { type: "t", project: "q" },
      ]);
      expect(indexEntries(path, "jobs_workflow")).toBe(5);
    } finally {
      await store.close();
    }
  });

  it("a workflow with no project: accepting a job accepts the live jobs before it, as before", async () => {
    const path = ledgerPath();
    const clock = new ManualClock();
    const store = new SqliteStore({ path, clock, durability: "normal" });
    try {
      await store.migrate();
      const engine = new Engine(store, { clock });
      const outcomes = await engine.enqueue([
        { type: "t", workflow: "wf" },
        { type: "t", workflow: "wf" },
        { type: "t" },
        { type: "t", workflow: "wf" },
      ]);
      const [first, second, loose, last] = outcomes.map((o) => o.job.id);
      const accepted = await engine.acceptBefore(last!);
      expect(accepted.map((j) => j.id).sort()).toEqual([first, second].sort());
      expect((await store.getJob(loose!))?.state).toBe("queued");
    } finally {
      await store.close();
    }
  });

  it("the reads it served still read it", async () => {
    const path = ledgerPath();
    const store = new SqliteStore({ path, durability: "normal" });
    await store.migrate();
    await store.close();
    const reads: [string, unknown[]][] = [
      ["SELECT * FROM jobs WHERE project = ? AND archived_at IS NULL ORDER BY id DESC LIMIT +?", ["p", 5]],
      [
        "SELECT * FROM jobs WHERE workflow = ? AND project = ? AND archived_at IS NULL ORDER BY id DESC LIMIT +?",
        ["w", "p", 5],
      ],
      [
        "SELECT * FROM jobs WHERE workflow IS NULL AND project = ? AND archived_at IS NULL ORDER BY id DESC LIMIT +?",
        ["p", 5],
      ],
      [
        "SELECT * FROM jobs WHERE project IS ? AND workflow = ? AND id < ? AND state IN ('waiting','queued','running','retrying') ORDER BY id",
        [null, "w", "Z"],
      ],
      ["SELECT count(*) AS n FROM jobs WHERE project = ? AND archived_at IS NULL", ["p"]],
    ];
    for (const [sql, params] of reads) expect(plan(path, sql, params)).toContain("USING INDEX jobs_workflow");
  });
});
