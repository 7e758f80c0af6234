/**
 * Load and concurrency on one SQLite file, with real OS processes (RELIABILITY.md ).
 *
 * Each child is `test/fixtures/sqlite-load-client.mjs`: it opens the ledger through the library (a
 * private bundle of `src/`, see `test/fixtures/library.ts`) and prints one JSON line saying what it
 * did and every error that reached it as a caller. The checks then read the database file directly.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FixtureLibrary } from "./fixtures/library.js";
import { buildFixtureLibrary } from "./fixtures/library.js";
import { tempDir } from "./helpers/tmp.js";

const ROOT = join(import.meta.dirname, "..");
const CLIENT = join(ROOT, "test", "fixtures", "sqlite-load-client.mjs");

let library: FixtureLibrary | undefined;

interface ClientError {
  code: string;
  message: string;
}

interface ClientReport {
  role: string;
  pid: number;
  errors: ClientError[];
  ids?: string[];
  completed?: string[];
  claims?: number;
  answers?: { id: string; deduplicated: boolean }[];
}

/** Run one client process; resolve with its report (and fail loudly if it printed anything else). */
function client(args: Record<string, unknown>): Promise<ClientReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLIENT, JSON.stringify({ lib: library?.url, ...args })], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (code !== 0) {
        reject(new Error(`client ${JSON.stringify(args.role)} exited ${code ?? signal}: ${stderr}${stdout}`));
        return;
      }
      try {
        resolve(JSON.parse(stdout) as ClientReport);
      } catch {
        reject(new Error(`client printed something other than one JSON line: ${stdout}${stderr}`));
      }
    });
  });
}

/** A moment a little in the future at which every child starts its work together. */
const startAt = (): number => Date.now() + 1500;

function openDb(path: string): Database.Database {
  // Read-write so that SQLite may create the -shm it needs; the checks only read.
  return new Database(path, { timeout: 10_000 });
}

function duplicates(ids: readonly string[]): string[] {
  const seen = new Set<string>();
  const twice = new Set<string>();
  for (const id of ids) (seen.has(id) ? twice : seen).add(id);
  return [...twice];
}

/** The ledger-wide checks shared by: every job ran exactly once, to success. */
function expectEveryJobCompletedOnce(dbPath: string, expected: number): void {
  const db = openDb(dbPath);
  try {
    const one = <T>(sql: string): T => db.prepare(sql).get() as T;
    expect(one<{ n: number }>("SELECT count(*) AS n FROM jobs").n).toBe(expected);
    // 0 lost: every job reached a terminal state, and it is success.
    expect(db.prepare("SELECT state, count(*) AS n FROM jobs GROUP BY state").all()).toEqual([
      { state: "succeeded", n: expected },
    ]);
    // 0 double claims: each job had exactly one attempt, and it ended.
    expect(one<{ n: number }>("SELECT count(*) AS n FROM attempts").n).toBe(expected);
    expect(
      db
        .prepare("SELECT job_id, count(*) AS n FROM attempts GROUP BY job_id HAVING count(*) != 1 LIMIT 5")
        .all(),
    ).toEqual([]);
    expect(one<{ n: number }>("SELECT count(*) AS n FROM attempts WHERE ended_at IS NULL").n).toBe(0);
    expect(one<{ n: number }>("SELECT count(*) AS n FROM attempts WHERE outcome != 'succeeded'").n).toBe(0);
    // Each job completed exactly once: one 'claimed' and one 'completed' event per job.
    for (const kind of ["claimed", "completed"]) {
      expect(
        db
          .prepare(
            "SELECT j.id, (SELECT count(*) FROM events e WHERE e.job_id = j.id AND e.kind = ?) AS n FROM jobs j WHERE n != 1 LIMIT 5",
          )
          .all(kind),
      ).toEqual([]);
    }
    expect(one<{ n: number }>("SELECT count(*) AS n FROM events WHERE kind = 'completed'").n).toBe(expected);
    expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
  } finally {
    db.close();
  }
}

describe("SQLite under load from many OS processes", () => {
  beforeAll(async () => {
    library = await buildFixtureLibrary();
  }, 60_000);
  afterAll(() => library?.remove());

  it("R-01 8 processes × 4 claimers claim and complete 20,000 jobs from one file: 0 double claims, 0 lost, each completed once, 0 BUSY to callers (durability normal)", async () => {
    // RELIABILITY.md does not fix the durability; `normal` (WAL + synchronous=NORMAL) keeps this
    // run short on a shared 2-core machine. Locking and atomicity are the same in both modes.
    const dbPath = join(tempDir(), "baton.db");
    const JOBS = 20_000;
    const loaded = await client({
      role: "enqueue",
      db: dbPath,
      durability: "normal",
      count: JOBS,
      batch: 500,
    });
    expect(loaded.errors).toEqual([]);
    expect(loaded.ids).toHaveLength(JOBS);

    const began = Date.now();
    const at = startAt();
    const workers = await Promise.all(
      Array.from({ length: 8 }, () =>
        client({ role: "work", db: dbPath, durability: "normal", claimers: 4, target: JOBS, startAt: at }),
      ),
    );
    const seconds = (Date.now() - at) / 1000;

    // 0 errors of any kind reached a caller: no SQLITE_BUSY, STORE_BUSY, LEASE_LOST…
    expect(workers.flatMap((w) => w.errors)).toEqual([]);
    const completed = workers.flatMap((w) => w.completed ?? []);
    // Every claimer believed it completed distinct jobs, and together they completed all of them.
    expect(duplicates(completed)).toEqual([]);
    expect(completed).toHaveLength(JOBS);
    expect(new Set(completed)).toEqual(new Set(loaded.ids));
    expectEveryJobCompletedOnce(dbPath, JOBS);

    const perProcess = workers.map((w) => w.completed?.length ?? 0).join(", ");
    console.log(
      `R-01: ${JOBS} jobs claimed and completed by 8×4 claimers in ${seconds.toFixed(1)} s ` +
        `(${Math.round(JOBS / seconds)} jobs/s, durability normal; per process: ${perProcess}; ` +
        `${((Date.now() - began) / 1000).toFixed(1)} s with process start-up)`,
    );
  }, 120_000);

  it("R-03 4 processes enqueue 5,000 jobs each while 4 worker processes claim: exactly 20,000 rows, 0 errors to callers", async () => {
    const dbPath = join(tempDir(), "baton.db");
    const PER_PRODUCER = 5_000;
    const JOBS = 4 * PER_PRODUCER;
    // Create the schema first so that the timed part is only the concurrent traffic.
    expect((await client({ role: "enqueue", db: dbPath, durability: "normal", count: 0 })).errors).toEqual(
      [],
    );

    const at = startAt();
    const producers = Array.from({ length: 4 }, (_, i) =>
      // One job per enqueue call: 20,000 separate write transactions competing with the workers.
      client({
        role: "enqueue",
        db: dbPath,
        durability: "normal",
        count: PER_PRODUCER,
        batch: 1,
        name: `p${i}`,
        startAt: at,
      }),
    );
    const workers = Array.from({ length: 4 }, () =>
      client({
        role: "work",
        db: dbPath,
        durability: "normal",
        claimers: 1,
        limit: 10,
        target: JOBS,
        startAt: at,
      }),
    );
    const reports = await Promise.all([...producers, ...workers]);
    const seconds = (Date.now() - at) / 1000;

    expect(reports.flatMap((r) => r.errors)).toEqual([]);
    const enqueued = reports.filter((r) => r.role === "enqueue").flatMap((r) => r.ids ?? []);
    expect(enqueued).toHaveLength(JOBS);
    expect(duplicates(enqueued)).toEqual([]);
    const completed = reports.filter((r) => r.role === "work").flatMap((r) => r.completed ?? []);
    expect(duplicates(completed)).toEqual([]);
    expect(new Set(completed)).toEqual(new Set(enqueued));

    // Exactly 20,000 rows: every acknowledged enqueue is there once, and nothing else is.
    const db = openDb(dbPath);
    try {
      expect((db.prepare("SELECT count(*) AS n FROM jobs").get() as { n: number }).n).toBe(JOBS);
      const perProducer = db
        .prepare(
          "SELECT json_extract(payload, '$.from') AS producer, count(*) AS n, count(DISTINCT json_extract(payload, '$.n')) AS distinctN FROM jobs GROUP BY producer ORDER BY producer",
        )
        .all();
      expect(perProducer).toEqual(
        ["p0", "p1", "p2", "p3"].map((producer) => ({ producer, n: PER_PRODUCER, distinctN: PER_PRODUCER })),
      );
      expect(
        (db.prepare("SELECT count(*) AS n FROM history WHERE kind = 'enqueued'").get() as { n: number }).n,
      ).toBe(JOBS);
    } finally {
      db.close();
    }
    expectEveryJobCompletedOnce(dbPath, JOBS);
    console.log(`R-03: 4×${PER_PRODUCER} single-job enqueues alongside 4 workers in ${seconds.toFixed(1)} s`);
  }, 120_000);

  it("R-04 (SQLite) 50 concurrent enqueues with one idempotency key from 5 processes: 1 job; 49 answers carry its id and say deduplicated", async () => {
    const dbPath = join(tempDir(), "baton.db");
    expect((await client({ role: "enqueue", db: dbPath, count: 0 })).errors).toEqual([]);
    const at = startAt();
    const reports = await Promise.all(
      Array.from({ length: 5 }, () =>
        client({ role: "key", db: dbPath, key: "deploy-2026-01-01", count: 10, startAt: at }),
      ),
    );
    expect(reports.flatMap((r) => r.errors)).toEqual([]);
    const answers = reports.flatMap((r) => r.answers ?? []);
    expect(answers).toHaveLength(50);

    const db = openDb(dbPath);
    try {
      const rows = db.prepare("SELECT id, idempotency_key AS key FROM jobs").all() as {
        id: string;
        key: string;
      }[];
      expect(rows).toHaveLength(1);
      const [row] = rows;
      expect(row?.key).toBe("deploy-2026-01-01");
      expect(answers.every((a) => a.id === row?.id)).toBe(true);
      expect(answers.filter((a) => !a.deduplicated)).toHaveLength(1);
      expect(answers.filter((a) => a.deduplicated)).toHaveLength(49);
      expect(
        (db.prepare("SELECT count(*) AS n FROM history WHERE kind = 'enqueued'").get() as { n: number }).n,
      ).toBe(1);
    } finally {
      db.close();
    }
  }, 60_000);
});
