import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../src/core/clock.js";
import { BatonError } from "../src/core/errors.js";
import { Engine } from "../src/engine/engine.js";
import { latestMigration, migrationFiles, sqlFile } from "../src/store/sql-files.js";
import { SqliteStore } from "../src/store/sqlite/sqlite-store.js";
import { describeStoreConformance } from "./conformance/store-conformance.js";

describeStoreConformance(
  "sqlite",
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "baton-conf-"));
    const clock = new ManualClock();
    const store = new SqliteStore({ path: join(dir, "baton.db"), clock, durability: "normal" });
    await store.migrate();
    return {
      store,
      clock,
      cleanup: async () => {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
  (store) => ({ db: store.location }),
);

describe("SqliteStore specifics", () => {
  const dirs: string[] = [];
  const stores: SqliteStore[] = [];

  function freshPath(): { dir: string; path: string } {
    const dir = mkdtempSync(join(tmpdir(), "baton-sqlite-"));
    dirs.push(dir);
    return { dir, path: join(dir, "data", "baton.db") };
  }

  function open(path: string, clock = new ManualClock()): SqliteStore {
    const store = new SqliteStore({ path, clock, durability: "normal" });
    stores.push(store);
    return store;
  }

  afterEach(async () => {
    while (stores.length > 0) await stores.pop()!.close();
    while (dirs.length > 0) rmSync(dirs.pop()!, { recursive: true, force: true });
  });

  it("no SQLite statement has a bare bound LIMIT (it would re-prepare at every run, D34)", () => {
    const root = join(import.meta.dirname, "..");
    const sources = [
      ...readdirSync(join(root, "sql", "sqlite")).map((f) => join(root, "sql", "sqlite", f)),
      ...readdirSync(join(root, "src", "store", "sqlite")).map((f) =>
        join(root, "src", "store", "sqlite", f),
      ),
    ];
    const bare = /\bLIMIT\s+[?:@$]/;
    const offenders = sources.filter((file) => bare.test(readFileSync(file, "utf8")));
    expect(offenders).toEqual([]);
    expect(sqlFile("sqlite", "claim_by_type")).toMatch(/\bLIMIT \+:limit\b/);

    // The form used instead is the same LIMIT: every row up to the bound, none past it.
    const db = new Database(":memory:");
    try {
      db.exec("CREATE TABLE t (n INTEGER); INSERT INTO t VALUES (1), (2), (3), (4)");
      expect(db.prepare("SELECT n FROM t ORDER BY n LIMIT +?").pluck().all(2)).toEqual([1, 2]);
      expect(db.prepare("SELECT n FROM t ORDER BY n LIMIT +:limit").pluck().all({ limit: 3 })).toEqual([
        1, 2, 3,
      ]);
      expect(db.prepare("SELECT n FROM t ORDER BY n LIMIT +?").pluck().all(0)).toEqual([]);
    } finally {
      db.close();
    }
  });

  it("runs the database in WAL mode", async () => {
    const { path } = freshPath();
    const store = open(path);
    await store.migrate();
    const raw = new Database(path, { readonly: true });
    try {
      expect(raw.pragma("journal_mode", { simple: true })).toBe("wal");
    } finally {
      raw.close();
    }
  });

  it("durability full: enqueues and outcomes commit with synchronous=FULL, claims and heartbeats without their own fsync (D32)", async () => {
    const { path } = freshPath();
    // The fault seam sees each write statement; it reads the connection's setting at BEGIN.
    const seen: { sql: string; synchronous: number }[] = [];
    let store: SqliteStore | undefined = undefined;
    const read = () =>
      (store as unknown as { db: Database.Database }).db.pragma("synchronous", { simple: true });
    const clock = new ManualClock();
    store = new SqliteStore({
      path,
      clock,
      durability: "full",
      faultHook: (_index, sql) => {
        if (sql === "BEGIN IMMEDIATE") seen.push({ sql, synchronous: read() as number });
      },
    });
    stores.push(store);
    await store.migrate();
    const engine = new Engine(store, { actor: "t", clock });
    const job = (await engine.enqueue({ type: "d" }))[0]!.job;
    const [claimed] = await engine.claim({ owner: "w", types: ["d"] });
    await engine.heartbeat(job.id, claimed!.token);
    await engine.batch([{ kind: "claim", options: { owner: "w", types: ["none"] } }]);
    await engine.complete(job.id, { token: claimed!.token });
    // FULL is 2, NORMAL is 1: enqueue, claim, heartbeat, a batch of claims only, complete.
    expect(seen.map((s) => s.synchronous)).toEqual([2, 1, 1, 1, 2]);
    expect(read()).toBe(2);
  });

  it("R-26 database files are 0600 and the data directory 0700", async () => {
    const { dir, path } = freshPath();
    const store = open(path);
    await store.migrate();
    const engine = new Engine(store, { clock: new ManualClock() });
    await engine.enqueue({ type: "t", payload: { x: 1 } });
    expect(statSync(join(dir, "data")).mode & 0o777).toBe(0o700);
    for (const suffix of ["", "-wal", "-shm"]) {
      const file = path + suffix;
      expect(statSync(file).mode & 0o777, file).toBe(0o600);
    }
  });

  it("a database migrated by a newer baton is refused with SCHEMA_TOO_NEW", async () => {
    const { path } = freshPath();
    const first = open(path);
    await first.migrate();
    await first.close();
    const latest = latestMigration("sqlite");
    const raw = new Database(path);
    raw.pragma(`user_version = ${latest + 1}`);
    raw.close();

    const store = open(path);
    const error = await store.migrate().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(BatonError);
    expect((error as BatonError).code).toBe("SCHEMA_TOO_NEW");
    expect((error as BatonError).details).toMatchObject({ databaseVersion: latest + 1, codeVersion: latest });
    expect(await store.schemaVersion()).toBe(latest + 1);
  });

  it("migrate is idempotent, also from a second connection", async () => {
    const { path } = freshPath();
    const store = open(path);
    const latest = latestMigration("sqlite");
    const first = await store.migrate();
    expect(first).toEqual({ applied: Array.from({ length: latest }, (_, i) => i + 1), version: latest });
    expect(await store.migrate()).toEqual({ applied: [], version: latest });
    expect(await store.schemaVersion()).toBe(latest);
    const other = open(path);
    expect(await other.migrate()).toEqual({ applied: [], version: latest });
    // Data written before a re-migrate survives it.
    const engine = new Engine(store, { clock: new ManualClock() });
    const [outcome] = await engine.enqueue({ type: "t" });
    expect(await other.migrate()).toEqual({ applied: [], version: latest });
    expect((await other.getJob(outcome!.job.id))?.id).toBe(outcome!.job.id);
  });

  it("an exit code that is not a 32-bit integer is INVALID_INPUT and the job stays running", async () => {
    const { path } = freshPath();
    const store = open(path);
    await store.migrate();
    const engine = new Engine(store, { clock: new ManualClock() });
    await engine.enqueue({ type: "t" });
    const [claimed] = await engine.claim({ owner: "w", types: ["t"] });
    for (const exitCode of [2 ** 40, 1.5, Number.NaN]) {
      await expect(
        engine.complete(claimed!.job.id, { token: claimed!.token, exitCode }),
      ).rejects.toMatchObject({
        code: "INVALID_INPUT",
      });
    }
    expect((await store.getJob(claimed!.job.id))?.state).toBe("running");
    const done = await engine.fail(claimed!.job.id, {
      token: claimed!.token,
      exitCode: -2147483647,
      error: "x",
    });
    expect(done.state).not.toBe("running");
  });

  it("migration 5 keeps every event and attempt, and new event ids stay above the old high-water mark", async () => {
    for (const deletedNewest of [false, true]) {
      const { path } = freshPath();
      mkdirSync(dirname(path), { recursive: true });
      // A version-4 ledger: a job with two attempts and three events; when `deletedNewest`, a
      // clean had removed events 4..10, so AUTOINCREMENT's counter stands at 10.
      const raw = new Database(path);
      try {
        raw.pragma("journal_mode = WAL");
        for (const m of migrationFiles("sqlite").filter((f) => f.version <= 4)) raw.exec(m.sql);
        raw.pragma("user_version = 4");
        raw.exec(`INSERT INTO jobs (id, type, payload, state, run_at, attempts, max_attempts, backoff, created_at, updated_at)
          VALUES ('01JOB', 't', '{}', 'retrying', 0, 2, 3, '{"kind":"fixed","delayMs":0}', 0, 0)`);
        raw.exec(`INSERT INTO attempts (job_id, n, token, owner, started_at, ended_at, outcome)
          VALUES ('01JOB', 1, 'tok1', 'w', 1, 2, 'failed'), ('01JOB', 2, 'tok2', 'w', 3, NULL, NULL)`);
        for (const kind of ["enqueued", "claimed", "failed"])
          raw.prepare("INSERT INTO events (job_id, at, actor, kind) VALUES ('01JOB', 5, 'w', ?)").run(kind);
        if (deletedNewest) raw.exec("UPDATE sqlite_sequence SET seq = 10 WHERE name = 'events'");
      } finally {
        raw.close();
      }

      const store = open(path);
      const latest = latestMigration("sqlite");
      expect(await store.migrate()).toEqual({
        applied: Array.from({ length: latest - 4 }, (_, i) => 5 + i),
        version: latest,
      });
      expect((await store.attempts("01JOB")).map((a) => [a.n, a.owner, a.outcome ?? null])).toEqual([
        [1, "w", "failed"],
        [2, "w", null],
      ]);
      const events = await store.events({ limit: 100 });
      expect(events.filter((e) => e.jobId === "01JOB").map((e) => [e.id, e.kind])).toEqual([
        [1, "enqueued"],
        [2, "claimed"],
        [3, "failed"],
      ]);
      expect(events.filter((e) => e.kind === "migrated").map((e) => e.id)).toEqual(deletedNewest ? [10] : []);
      const engine = new Engine(store, { clock: new ManualClock() });
      const [outcome] = await engine.enqueue({ type: "t" });
      const [enqueued] = (await store.events({ limit: 100 })).filter((e) => e.jobId === outcome!.job.id);
      expect(enqueued!.id).toBe(deletedNewest ? 11 : 4);
    }
  });

  it("migration 10 drops jobs_claim_any; a claim naming no type takes the same jobs in the same order", async () => {
    const { path } = freshPath();
    mkdirSync(dirname(path), { recursive: true });
    // A version-9 ledger with claimable jobs of three types, a finished one and a future one.
    const raw = new Database(path);
    let before: string[];
    try {
      raw.pragma("journal_mode = WAL");
      for (const m of migrationFiles("sqlite").filter((f) => f.version <= 9)) raw.exec(m.sql);
      raw.pragma("user_version = 9");
      const insert =
        raw.prepare(`INSERT INTO jobs (id, type, payload, state, priority, run_at, attempts, max_attempts, backoff, created_at, updated_at)
        VALUES (?, ?, '{}', ?, ?, ?, 0, 3, '{"kind":"fixed","delayMs":0}', 0, 0)`);
      const rows: [string, string, string, number, number][] = [
        ["01JOB0000000000000000000A1", "b", "queued", 0, 30],
        ["01JOB0000000000000000000A2", "a", "retrying", 5, 20],
        ["01JOB0000000000000000000A3", "c", "queued", 5, 10],
        ["01JOB0000000000000000000A4", "a", "queued", 0, 30],
        ["01JOB0000000000000000000A5", "c", "succeeded", 9, 0],
        ["01JOB0000000000000000000A6", "b", "queued", 9, Date.UTC(2100, 0, 1)],
        ["01JOB0000000000000000000A7", "b", "queued", -1, 0],
      ];
      for (const row of rows) insert.run(...row);
      // What version 9 answered, through the index this migration drops.
      before = raw
        .prepare(
          `SELECT id FROM jobs INDEXED BY jobs_claim_any WHERE state IN ('queued','retrying') AND run_at <= ${Date.UTC(2026, 0, 1)} ORDER BY priority DESC, run_at, id`,
        )
        .pluck()
        .all() as string[];
    } finally {
      raw.close();
    }
    expect(before).toEqual([
      "01JOB0000000000000000000A3",
      "01JOB0000000000000000000A2",
      "01JOB0000000000000000000A1",
      "01JOB0000000000000000000A4",
      "01JOB0000000000000000000A7",
    ]);

    const store = open(path);
    expect((await store.migrate()).applied).toContain(10);
    const check = new Database(path, { readonly: true });
    try {
      const indexes = check.prepare("SELECT name FROM sqlite_schema WHERE type = 'index'").pluck().all();
      expect(indexes).not.toContain("jobs_claim_any");
      expect(indexes).toContain("jobs_claim_type");
    } finally {
      check.close();
    }
    const engine = new Engine(store, { clock: new ManualClock(Date.UTC(2026, 0, 1)) });
    const got: string[] = [];
    for (let i = 0; i < 4; i++)
      got.push(...(await engine.claim({ owner: "w", limit: 2 })).map((c) => c.job.id));
    expect(got).toEqual(before);
  });

  describe("query plans", () => {
    /** Bind every named parameter a hot query uses (values do not matter for the plan). */
    function params(sql: string): Record<string, unknown> {
      const known: Record<string, unknown> = {
        type: "t",
        now: 0,
        excluded: "[]",
        excludedProjects: "[]",
        workflow: null,
        project: null,
        limit: 10,
      };
      const out: Record<string, unknown> = {};
      for (const match of sql.replace(/--.*$/gm, "").matchAll(/[:@$]([A-Za-z_][A-Za-z0-9_]*)/g)) {
        const name = match[1]!;
        out[name] = name in known ? known[name] : null;
      }
      return out;
    }

    async function plan(query: string): Promise<string> {
      const { path } = freshPath();
      const store = open(path);
      await store.migrate();
      // Give the planner a backlog with statistics, as a real queue would have.
      const engine = new Engine(store, { clock: new ManualClock() });
      await engine.enqueue(Array.from({ length: 500 }, (_, i) => ({ type: `t${i % 5}`, priority: i % 3 })));
      const raw = new Database(path);
      try {
        raw.exec("ANALYZE");
        const sql = sqlFile("sqlite", query);
        const rows = raw.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(params(sql)) as { detail: string }[];
        return rows.map((r) => r.detail).join("\n");
      } finally {
        raw.close();
      }
    }

    it("claim_by_type is served by jobs_claim_type without sorting", async () => {
      const text = await plan("claim_by_type");
      expect(text).toContain("jobs_claim_type");
      expect(text).not.toContain("USE TEMP B-TREE FOR ORDER BY");
    });

    it("claimable_types (a claim naming no type) seeks jobs_claim_type once per type, never scans", async () => {
      const text = await plan("claimable_types");
      expect(text).toMatch(/SEARCH jobs USING (COVERING )?INDEX jobs_claim_type \(type>\?\)/);
      expect(text).not.toMatch(/SCAN jobs\b/);
      expect(text).not.toContain("USE TEMP B-TREE");
    });

    it("expired_leases is served by jobs_lease", async () => {
      const text = await plan("expired_leases");
      expect(text).toContain("jobs_lease");
      expect(text).not.toContain("USE TEMP B-TREE FOR ORDER BY");
    });
  });
});
