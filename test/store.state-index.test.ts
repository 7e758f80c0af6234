/**
 * D158: SQLite's jobs_state holds only the jobs that are not queued or retrying (migration
 * 000013); those are in jobs_claim_type. A ledger made at schema 12 migrates with every job kept
 * and the index rebuilt partial; an enqueue writes no entry, a claim writes one; every read by
 * state answers the same rows and reaches its jobs through jobs_state or jobs_claim_type, never
 * by a scan of the whole table.
 */
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../src/core/clock.js";
import type { JobState } from "../src/core/states.js";
import { Engine } from "../src/engine/engine.js";
import { migrationFiles } from "../src/store/sql-files.js";
import { SqliteStore } from "../src/store/sqlite/sqlite-store.js";
import { indexEntries } from "./helpers/sqlite-index.js";
import { tempDir } from "./helpers/tmp.js";

function ledgerPath(): string {
  return join(tempDir("baton-state-index-"), "baton.db");
}

const V12_JOB = `INSERT INTO jobs (id, type, payload, state, run_at, attempts, max_attempts, backoff, workflow, project,
  created_at, updated_at, finished_at, enqueue_id, enqueue_actor, enqueue_state)
  VALUES (?, 't', '{}', ?, 0, 0, 1, '{"kind":"fixed","delayMs":0}', 'wf', 'p', 5, 5, ?, ?, 'old', 'queued')`;

const OLD_JOBS: [string, JobState, number | null][] = [
  ["01OLD0000000000000000000A1", "queued", null],
  ["01OLD0000000000000000000A2", "retrying", null],
  ["01OLD0000000000000000000A3", "waiting", null],
  ["01OLD0000000000000000000A4", "succeeded", 10],
  ["01OLD0000000000000000000A5", "failed", 20],
  ["01OLD0000000000000000000A6", "queued", null],
];

/** The SQL of the statements a store ran for `read` (its statement cache, emptied first). */
async function statementsOf(store: SqliteStore, read: () => Promise<unknown>): Promise<string[]> {
  const cache = (store as unknown as { statements: Map<string, unknown> }).statements;
  cache.clear();
  await read();
  return [...cache.keys()];
}

function plan(path: string, sql: string): string[] {
  const conn = new Database(path, { readonly: true });
  try {
    const params = new Array<null>((sql.match(/\?/g) ?? []).length).fill(null);
    return (conn.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map(
      (r) => r.detail,
    );
  } finally {
    conn.close();
  }
}

describe("jobs_state holds only the jobs that are not claimable (D158, migration 000013)", () => {
  it("a ledger at schema 12 migrates: every job kept, the index rebuilt without queued and retrying jobs", async () => {
    const path = ledgerPath();
    const raw = new Database(path);
    raw.pragma("journal_mode = WAL");
    for (const m of migrationFiles("sqlite").filter((f) => f.version <= 12)) raw.exec(m.sql);
    raw.pragma("user_version = 12");
    const insert = raw.prepare(V12_JOB);
    OLD_JOBS.forEach(([id, state, finishedAt], i) => insert.run(id, state, finishedAt, i + 1));
    raw.close();
    expect(indexEntries(path, "jobs_state")).toBe(6);

    const clock = new ManualClock();
    const store = new SqliteStore({ path, clock, durability: "normal" });
    try {
      expect((await store.migrate()).version).toBeGreaterThanOrEqual(13);
      expect(indexEntries(path, "jobs_state")).toBe(3);
      const ids = async (states?: JobState[]) =>
        (await store.listJobs(states === undefined ? {} : { states }, { limit: 10, order: "asc" })).map((j) =>
          j.id.slice(-2),
        );
      expect(await ids()).toEqual(["A1", "A2", "A3", "A4", "A5", "A6"]);
      expect(await ids(["queued"])).toEqual(["A1", "A6"]);
      expect(await ids(["failed", "succeeded"])).toEqual(["A4", "A5"]);
      expect(await ids(["waiting", "queued", "running", "retrying"])).toEqual(["A1", "A2", "A3", "A6"]);
      expect(await ids(["succeeded", "retrying"])).toEqual(["A2", "A4"]);
      // Both halves, newest first, one page: the limit and the cursor hold across them.
      const page = await store.listJobs(
        { states: ["queued", "failed", "succeeded"] },
        { limit: 2, order: "desc", after: "01OLD0000000000000000000A6" },
      );
      expect(page.map((j) => j.id.slice(-2))).toEqual(["A5", "A4"]);
      const inProject = await store.listJobs(
        { states: ["queued", "failed"], project: "p" },
        { limit: 10, order: "asc" },
      );
      expect(inProject.map((j) => j.id.slice(-2))).toEqual(["A1", "A5", "A6"]);
      expect(await store.countJobs({ states: ["queued", "failed"], project: "p" })).toBe(3);
      expect(await store.countJobs({ states: ["queued", "failed"] })).toBe(3);
      expect(await store.countJobs({ states: ["retrying"] })).toBe(1);
      expect(await store.countJobs({})).toBe(6);
      expect(await store.countByState({})).toEqual([
        { state: "failed", type: "t", count: 1 },
        { state: "queued", type: "t", count: 2 },
        { state: "retrying", type: "t", count: 1 },
        { state: "succeeded", type: "t", count: 1 },
        { state: "waiting", type: "t", count: 1 },
      ]);
      expect(await store.countByState({ states: ["queued", "waiting"] })).toEqual([
        { state: "queued", type: "t", count: 2 },
        { state: "waiting", type: "t", count: 1 },
      ]);
      const workflows = await store.workflowCounts({ states: ["queued", "failed"] });
      expect(workflows.map((w) => [w.state, w.count]).sort()).toEqual([
        ["failed", 1],
        ["queued", 2],
      ]);

      // New jobs: an enqueue writes no entry, a claim writes one, a finish moves it.
      const engine = new Engine(store, { clock });
      await engine.enqueue([{ type: "n" }, { type: "n" }]);
      expect(indexEntries(path, "jobs_state")).toBe(3);
      const [claimed] = await engine.claim({ types: ["n"], owner: "w", limit: 1 });
      expect(indexEntries(path, "jobs_state")).toBe(4);
      await engine.complete(claimed!.job.id, { token: claimed!.token });
      expect(indexEntries(path, "jobs_state")).toBe(4);
      expect(await store.countJobs({ states: ["succeeded"] })).toBe(2);
      clock.advance(60_000);
      expect(await engine.clean(1_000, ["succeeded"])).toBe(2);
      expect(await store.countJobs({ states: ["succeeded"] })).toBe(0);
      expect(await store.countJobs({})).toBe(6);
    } finally {
      await store.close();
    }
  });

  it("every read by state reads jobs_state or jobs_claim_type, none scans the whole table", async () => {
    const path = ledgerPath();
    const clock = new ManualClock();
    const store = new SqliteStore({ path, clock, durability: "normal" });
    try {
      await store.migrate();
      const engine = new Engine(store, { clock });
      const live: JobState[] = ["waiting", "queued", "running", "retrying"];
      // A read that names a project or a workflow reads jobs_workflow, as before (one statement).
      const reads: [string, () => Promise<unknown>, RegExp?][] = [
        ["list failed", () => store.listJobs({ states: ["failed"] }, { limit: 5, order: "desc" })],
        ["list queued", () => store.listJobs({ states: ["queued"] }, { limit: 5, order: "desc" })],
        ["list live", () => store.listJobs({ states: live }, { limit: 5, order: "desc" })],
        ["count running", () => store.countJobs({ states: ["running"] })],
        ["count retrying", () => store.countJobs({ states: ["retrying"] })],
        ["count live", () => store.countJobs({ states: live })],
        ["counts of live states", () => store.countByState({ states: live })],
        ["workflow counts of live states", () => store.workflowCounts({ states: live })],
        ["clean", () => engine.clean(1_000, ["succeeded", "failed"])],
        [
          "list live of a project",
          () => store.listJobs({ states: live, project: "p" }, { limit: 5, order: "desc" }),
          /USING INDEX jobs_workflow\b/,
        ],
        [
          "counts by state of a project",
          () => store.countByState({ project: "p" }),
          /USING INDEX jobs_workflow\b/,
        ],
      ];
      for (const [name, read, index = /USING INDEX jobs_(state|claim_type)\b/] of reads) {
        const statements = (await statementsOf(store, read)).filter((sql) => /\bstate\b/.test(sql));
        expect(statements.length, name).toBeGreaterThan(0);
        for (const sql of statements) {
          if (!/FROM jobs/.test(sql) || /^INSERT|^UPDATE/.test(sql)) continue;
          const steps = plan(path, sql);
          expect(steps.join(" | "), `${name}: ${sql}`).toMatch(index);
          expect(
            steps.filter(
              (s) => /^SCAN (jobs|j)$/.test(s) || /^SCAN (jobs|j) USING INDEX sqlite_autoindex/.test(s),
            ),
            `${name}: ${sql}`,
          ).toEqual([]);
        }
      }
    } finally {
      await store.close();
    }
  });
});
