/**
 * Load, concurrency and faults on one PostgreSQL database, with real OS processes (RELIABILITY.md
 * for PostgreSQL), plus connections killed mid-transaction and a silent host's
 * leases recovered by another process.
 *
 * The children are the SQLite fixtures run with `url`/`schema` arguments: they open the ledger
 * through the library (a private bundle of `src/`, see `test/fixtures/library.ts`). The checks read
 * the database directly.
 */
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { join } from "node:path";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { BatonError } from "../src/core/errors.js";
import { Engine } from "../src/engine/engine.js";
import { latestMigration } from "../src/store/sql-files.js";
import type { FixtureLibrary } from "./fixtures/library.js";
import { buildFixtureLibrary } from "./fixtures/library.js";
import { baton, envelope } from "./helpers/cli.js";
import { eventually, PG_ENABLED, pgTestDatabase, warnIfPgSkipped } from "./helpers/pg.js";
import { tempDir } from "./helpers/tmp.js";

const FIXTURES = join(import.meta.dirname, "fixtures");
/**
 * R-02's size: 20,000 by default (the CI variant, as R-01 on SQLite); BATON_R02_JOBS=50000 runs the
 * full requirement. The test name says which size ran.
 */
const R02_JOBS = Number(process.env.BATON_R02_JOBS ?? 20_000);

warnIfPgSkipped("PostgreSQL reliability");
const db = pgTestDatabase();
let library: FixtureLibrary | undefined;
const children: ChildProcessWithoutNullStreams[] = [];

interface ClientReport {
  role: string;
  errors: { code: string; message: string }[];
  completed?: string[];
  claims?: number;
  claimP99Ms?: number | null;
  answers?: { id: string; deduplicated: boolean }[];
}

function start(fixture: string, args: Record<string, unknown>): ChildProcessWithoutNullStreams {
  const child = spawn(
    process.execPath,
    [join(FIXTURES, fixture), JSON.stringify({ lib: library?.url, url: db.url, ...args })],
    { stdio: "pipe" },
  );
  children.push(child);
  return child;
}

/** Run a child to its end; its stdout must be one JSON line. */
async function report<T>(
  fixture: string,
  args: Record<string, unknown>,
): Promise<{ code: number | null; data: T }> {
  const child = start(fixture, args);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
  expect(stderr, `stderr of ${fixture}`).toBe("");
  try {
    return { code, data: JSON.parse(stdout) as T };
  } catch {
    throw new Error(`${fixture} printed something other than one JSON line: ${stdout}`);
  }
}

/** Start `n` load clients together (see sqlite-load-client.mjs); each must exit 0 with no errors. */
async function loadClients(n: number, args: Record<string, unknown>): Promise<ClientReport[]> {
  const startAt = Date.now() + 2000;
  const reports = await Promise.all(
    Array.from({ length: n }, () => report<ClientReport>("sqlite-load-client.mjs", { ...args, startAt })),
  );
  for (const { code, data } of reports) {
    expect(code, JSON.stringify(data.errors)).toBe(0);
    expect(data.errors).toEqual([]);
  }
  return reports.map((r) => r.data);
}

async function sql<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

function duplicates(ids: readonly string[]): string[] {
  const seen = new Set<string>();
  const twice = new Set<string>();
  for (const id of ids) (seen.has(id) ? twice : seen).add(id);
  return [...twice];
}

describe.skipIf(!PG_ENABLED)("PostgreSQL reliability", () => {
  beforeAll(async () => {
    await db.setup();
    library = await buildFixtureLibrary();
  }, 120_000);
  afterAll(async () => {
    library?.remove();
    await db.teardown();
  });
  afterEach(() => {
    while (children.length > 0) {
      const child = children.pop()!;
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
  });

  it(`R-02 (PostgreSQL) 4 processes × 16 workers drain ${R02_JOBS.toLocaleString("en")} jobs: 0 double claims, 0 lost`, async () => {
    const schema = db.freshSchema();
    const store = db.store({ schema });
    await store.migrate();
    const engine = new Engine(store, { actor: "r02" });
    for (let i = 0; i < R02_JOBS; i += 1000) {
      await engine.enqueue(
        Array.from({ length: Math.min(1000, R02_JOBS - i) }, (_, j) => ({
          type: "load",
          payload: { n: i + j },
        })),
      );
    }
    const reports = await loadClients(4, {
      role: "work",
      schema,
      poolSize: 16,
      claimers: 16,
      target: R02_JOBS,
      deadlineMs: 400_000,
    });
    const completed = reports.flatMap((r) => r.completed ?? []);
    expect(duplicates(completed)).toEqual([]);
    expect(completed).toHaveLength(R02_JOBS);
    const [counts] = await sql<{ succeeded: number; other: number; attempts: number; multi: number }>(
      `SELECT (SELECT count(*)::int FROM ${schema}.jobs WHERE state = 'succeeded') AS succeeded,
              (SELECT count(*)::int FROM ${schema}.jobs WHERE state <> 'succeeded') AS other,
              (SELECT count(*)::int FROM ${schema}.attempts) AS attempts,
              (SELECT count(*)::int FROM (SELECT job_id FROM ${schema}.attempts GROUP BY job_id HAVING count(*) > 1) m) AS multi`,
    );
    expect(counts).toEqual({ succeeded: R02_JOBS, other: 0, attempts: R02_JOBS, multi: 0 });
    const p99 = Math.max(...reports.map((r) => r.claimP99Ms ?? 0));
    // Measured, not asserted (timings belong in bench/): RELIABILITY.md asks p99 < 50 ms.
    console.log(
      `R-02 (PostgreSQL): ${R02_JOBS} jobs, 64 workers, worst per-process claim p99 ${p99.toFixed(1)} ms`,
    );
  }, 600_000);

  it("R-04 (PostgreSQL) 50 concurrent enqueues with one idempotency key from 5 processes: 1 job; 49 answers carry its id and say deduplicated", async () => {
    const schema = db.freshSchema();
    await db.store({ schema }).migrate();
    const reports = await loadClients(5, {
      role: "key",
      schema,
      count: 10,
      key: "one-key",
    });
    const answers = reports.flatMap((r) => r.answers ?? []);
    expect(answers).toHaveLength(50);
    const rows = await sql<{ id: string }>(`SELECT id FROM ${schema}.jobs WHERE idempotency_key = 'one-key'`);
    expect(rows).toHaveLength(1);
    expect(new Set(answers.map((a) => a.id))).toEqual(new Set([rows[0]!.id]));
    expect(answers.filter((a) => a.deduplicated)).toHaveLength(49);
  }, 120_000);

  it("R-19 (PostgreSQL) 10 processes start at once on an empty schema: exactly one applies the migrations; a newer schema makes the CLI refuse with SCHEMA_TOO_NEW (exit 5)", async () => {
    const schema = db.freshSchema();
    const home = tempDir("baton-pg-r19-");
    const startAt = Date.now() + 2000;
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        report<{ applied: number[]; version: number }>("sqlite-migrate-client.mjs", {
          home,
          schema,
          startAt,
        }),
      ),
    );
    const latest = latestMigration("postgres");
    for (const { code, data } of results) {
      expect(code, JSON.stringify(data)).toBe(0);
      expect(data.version).toBe(latest);
    }
    const appliers = results.filter((r) => r.data.applied.length > 0);
    expect(appliers).toHaveLength(1);
    expect(appliers[0]!.data.applied).toEqual(Array.from({ length: latest }, (_, i) => i + 1));
    expect(await sql(`SELECT version FROM ${schema}.schema_migrations ORDER BY version`)).toHaveLength(
      latest,
    );

    // A newer baton migrated this schema: this binary must refuse to touch it.
    await sql(
      `INSERT INTO ${schema}.schema_migrations (version, name, applied_at) VALUES ($1, 'future', 0)`,
      [latest + 1],
    );
    const env = { BATON_DATABASE_URL: db.url, BATON_DATABASE_SCHEMA: schema };
    const json = baton(["health", "--json"], { home, env });
    expect(json.code).toBe(5);
    expect(envelope(json).error?.code).toBe("SCHEMA_TOO_NEW");
    const human = baton(["health"], { home, env });
    expect(human.code).toBe(5);
    expect(human.stderr.trim().split("\n")).toHaveLength(1);
    expect(human.stderr).toMatch(/upgrade baton/);
  }, 120_000);

  it("connections killed mid-transaction (pg_terminate_backend): every enqueue is all or nothing, and a failure is a typed error", async () => {
    const schema = db.freshSchema();
    const store = db.store({ schema, poolSize: 4 });
    await store.migrate();
    const engine = new Engine(store, { actor: "killer-test" });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    let killing = true;
    let killed = 0;
    const killer = (async () => {
      const admin = new pg.Client({ connectionString: db.url });
      await admin.connect();
      try {
        while (killing) {
          const { rows } = await admin.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'baton' AND pid <> pg_backend_pid()) t",
            [db.name],
          );
          killed += rows[0]?.n ?? 0;
          await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 60));
        }
      } finally {
        await admin.end();
      }
    })();
    try {
      const BATCH = 40;
      const outcomes = await Promise.all(
        Array.from({ length: 60 }, async (_, b) => {
          try {
            await engine.enqueue(
              Array.from({ length: BATCH }, (_, i) => ({ type: "kill", name: `b${b}`, payload: { b, i } })),
            );
            return { b, ok: true as const };
          } catch (error) {
            return { b, ok: false as const, error };
          }
        }),
      );
      killing = false;
      await killer;
      expect(killed, "the killer terminated some connections").toBeGreaterThan(0);
      const counts = new Map(
        (
          await sql<{ name: string; n: number }>(
            `SELECT name, count(*)::int AS n FROM ${schema}.jobs GROUP BY name`,
          )
        ).map((r) => [r.name, r.n]),
      );
      for (const outcome of outcomes) {
        const n = counts.get(`b${outcome.b}`) ?? 0;
        if (outcome.ok) {
          expect(n, `batch ${outcome.b} succeeded`).toBe(BATCH);
        } else {
          expect(outcome.error).toBeInstanceOf(BatonError);
          expect(["STORE_UNAVAILABLE", "STORE_BUSY"]).toContain((outcome.error as BatonError).code);
          // Nothing half-written: all of the batch (a COMMIT whose answer was lost) or none of it.
          expect([0, BATCH], `batch ${outcome.b}`).toContain(n);
        }
      }
      // The store works again once the killing stops.
      const [after] = await engine.enqueue({ type: "kill", name: "after" });
      expect((await store.getJob(after!.job.id))?.state).toBe("queued");
      expect(unhandled).toEqual([]);
      console.log(
        `killed ${killed} connections; ${outcomes.filter((o) => o.ok).length}/60 batches committed, the rest failed typed`,
      );
    } finally {
      killing = false;
      process.off("unhandledRejection", onUnhandled);
    }
  }, 180_000);

  it("a silent host's leases are recovered by a worker in another process, and its stale tokens are refused", async () => {
    const schema = db.freshSchema();
    const store = db.store({ schema });
    await store.migrate();
    const engine = new Engine(store, { actor: "host-b" });
    const fast = { baseMs: 1, factor: 1, maxMs: 1, jitter: 0 };
    await engine.enqueue(
      Array.from({ length: 5 }, (_, n) => ({ type: "fence", payload: { n }, backoff: fast })),
    );

    // Host A claims everything with a short lease, then goes silent (SIGSTOP: alive but mute).
    const hostA = start("sqlite-stale-worker.mjs", { schema });
    const lines = createInterface({ input: hostA.stdout })[Symbol.asyncIterator]();
    const next = async () =>
      JSON.parse(((await lines.next()).value as string) ?? "null") as Record<string, unknown>;
    expect(await next()).toEqual({ ready: true });
    hostA.stdin.write(`${JSON.stringify({ cmd: "claim", leaseMs: 300, limit: 5 })}\n`);
    const { claimed } = (await next()) as { claimed: { id: string; token: string }[] };
    expect(claimed).toHaveLength(5);
    hostA.kill("SIGSTOP");

    // Host B (this process) recovers the expired leases through its own claims and finishes them.
    const done = new Set<string>();
    await eventually(
      "host B to take over host A's jobs",
      async () => {
        for (const c of await engine.claim({
          owner: "host-b",
          types: ["fence"],
          limit: 5,
          leaseMs: 60_000,
        })) {
          await engine.complete(c.job.id, { token: c.token });
          done.add(c.job.id);
        }
        return done.size === 5;
      },
      60_000,
    );

    // Host A wakes up: its tokens no longer own anything.
    hostA.kill("SIGCONT");
    for (const c of claimed) {
      hostA.stdin.write(`${JSON.stringify({ cmd: "complete", id: c.id, token: c.token })}\n`);
      expect((await next()).code).toBe("LEASE_LOST");
    }
    for (const c of claimed) {
      const attempts = await store.attempts(c.id);
      expect(attempts.map((a) => [a.owner.startsWith("stale-worker:"), a.outcome])).toEqual([
        [true, "crashed"],
        [false, "succeeded"],
      ]);
    }
    hostA.stdin.end();
  }, 120_000);
});
