/**
 * Crashes and faults on the SQLite store (RELIABILITY.md R-09, R-10, R-11, R-19).
 *
 * Real OS processes run the library (a private bundle, see `test/fixtures/library.ts`) through the
 * fixtures in `test/fixtures/`;
 * the in-process parts use the sources. Random choices are seeded and the seed is printed, so a
 * failure can be replayed with `BATON_TEST_SEED=<seed>`.
 */
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import Database from "better-sqlite3";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../src/core/clock.js";
import { BatonError } from "../src/core/errors.js";
import { Engine } from "../src/engine/engine.js";
import { latestMigration } from "../src/store/sql-files.js";
import { InjectedSqliteError } from "../src/store/sqlite/errors.js";
import type { FaultHook } from "../src/store/sqlite/sqlite-store.js";
import { SqliteStore } from "../src/store/sqlite/sqlite-store.js";
import { baton, envelope } from "./helpers/cli.js";
import type { FixtureLibrary } from "./fixtures/library.js";
import { buildFixtureLibrary } from "./fixtures/library.js";
import { tempDir } from "./helpers/tmp.js";

const ROOT = join(import.meta.dirname, "..");
const FIXTURES = join(ROOT, "test", "fixtures");

let library: FixtureLibrary | undefined;

/** mulberry32: a small seeded generator so that random schedules reproduce. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function testSeed(): number {
  const fromEnv = Number(process.env.BATON_TEST_SEED);
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : Math.floor(Math.random() * 2 ** 31) + 1;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Lines a child prints, delivered one at a time. */
class LineReader {
  private readonly lines: string[] = [];
  private waiter: ((line: string | undefined) => void) | undefined;
  private ended = false;

  constructor(child: ChildProcessWithoutNullStreams) {
    const rl = createInterface({ input: child.stdout });
    rl.on("line", (line) => {
      if (this.waiter !== undefined) {
        const w = this.waiter;
        this.waiter = undefined;
        w(line);
      } else this.lines.push(line);
    });
    rl.on("close", () => {
      this.ended = true;
      this.waiter?.(undefined);
    });
  }

  next(): Promise<string | undefined> {
    const line = this.lines.shift();
    if (line !== undefined || this.ended) return Promise.resolve(line);
    return new Promise((resolve) => (this.waiter = resolve));
  }
}

const children: ChildProcessWithoutNullStreams[] = [];
afterEach(() => {
  // Never leave a child behind, even when a test fails half-way.
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});

function start(fixture: string, args: Record<string, unknown>): ChildProcessWithoutNullStreams {
  const child = spawn(
    process.execPath,
    [join(FIXTURES, fixture), JSON.stringify({ lib: library?.url, ...args })],
    { stdio: "pipe" },
  );
  children.push(child);
  return child;
}

function exited(
  child: ChildProcessWithoutNullStreams,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
}

beforeAll(async () => {
  library = await buildFixtureLibrary();
}, 60_000);
afterAll(() => library?.remove());

// -----------------------------------------------------------------------------------------------

describe("R-09 stale-worker fencing", () => {
  it("R-09 stale worker gets LEASE_LOST 100/100 after another process took its job: worker A (a child frozen with SIGSTOP past its 50 ms lease) vs worker B; exactly one completion per job", async () => {
    const dbPath = join(tempDir(), "baton.db");
    const store = new SqliteStore({ path: dbPath });
    await store.migrate();
    const engineB = new Engine(store, { actor: "worker-b" });
    const workerA = start("sqlite-stale-worker.mjs", { db: dbPath });
    const fromA = new LineReader(workerA);
    const ask = async (command: Record<string, unknown>): Promise<Record<string, unknown>> => {
      workerA.stdin.write(`${JSON.stringify(command)}\n`);
      const line = await fromA.next();
      if (line === undefined) throw new Error("worker A died");
      return JSON.parse(line) as Record<string, unknown>;
    };
    try {
      expect(JSON.parse((await fromA.next()) ?? "null")).toEqual({ ready: true });
      const RUNS = 100;
      const PER_ROUND = 5;
      const LEASE_MS = 50;
      const outcomes: { heartbeat: unknown; complete: unknown }[] = [];
      const jobIds: string[] = [];

      for (let round = 0; round < RUNS / PER_ROUND; round++) {
        // A retry may start at once (backoff 0), so B can take the job as soon as A's lease is gone.
        const enqueued = await engineB.enqueue(
          Array.from({ length: PER_ROUND }, (_, i) => ({
            type: "fence",
            payload: { round, i },
            maxAttempts: 3,
            backoff: { baseMs: 0 },
          })),
        );
        jobIds.push(...enqueued.map((o) => o.job.id));

        const { claimed } = (await ask({ cmd: "claim", leaseMs: LEASE_MS, limit: PER_ROUND })) as {
          claimed: { id: string; token: string; attempt: number }[];
        };
        expect(claimed.map((c) => c.id).sort()).toEqual(enqueued.map((o) => o.job.id).sort());

        // Stop worker A past its lease (a GC pause, a laptop lid, SIGSTOP).
        workerA.kill("SIGSTOP");
        await sleep(LEASE_MS + 20);
        const taken: { id: string; token: string }[] = [];
        for (let tries = 0; taken.length < PER_ROUND && tries < 50; tries++) {
          const batch = await engineB.claim({
            owner: "worker-b",
            types: ["fence"],
            limit: PER_ROUND,
            leaseMs: 60_000,
          });
          taken.push(...batch.map((c) => ({ id: c.job.id, token: c.token })));
          if (taken.length < PER_ROUND) await sleep(5);
        }
        expect(taken.map((t) => t.id).sort()).toEqual(claimed.map((c) => c.id).sort());
        workerA.kill("SIGCONT");

        // A resumes and carries on as if nothing happened: every stale token is refused.
        for (const c of claimed) {
          const heartbeat = await ask({ cmd: "heartbeat", id: c.id, token: c.token });
          const complete = await ask({ cmd: "complete", id: c.id, token: c.token });
          outcomes.push({ heartbeat: heartbeat.code, complete: complete.code });
        }
        for (const t of taken) await engineB.complete(t.id, { token: t.token, result: { by: "worker-b" } });
      }

      expect(outcomes).toHaveLength(RUNS);
      expect(outcomes.filter((o) => o.complete === "LEASE_LOST")).toHaveLength(RUNS);
      expect(outcomes.filter((o) => o.heartbeat === "LEASE_LOST")).toHaveLength(RUNS);

      const db = new Database(dbPath);
      try {
        const perJob = db
          .prepare(
            `SELECT j.id, j.state,
                 (SELECT count(*) FROM events e WHERE e.job_id = j.id AND e.kind = 'completed') AS completions,
                 (SELECT group_concat(a.outcome, ',') FROM (SELECT outcome FROM attempts WHERE job_id = j.id ORDER BY n) a) AS attempts,
                 json_extract(j.result, '$.by') AS completedBy
               FROM jobs j ORDER BY j.id`,
          )
          .all() as {
          id: string;
          state: string;
          completions: number;
          attempts: string;
          completedBy: string;
        }[];
        expect(perJob.map((j) => j.id)).toEqual([...jobIds].sort());
        for (const job of perJob) {
          expect(job).toEqual({
            id: job.id,
            state: "succeeded",
            completions: 1,
            attempts: "crashed,succeeded",
            completedBy: "worker-b",
          });
        }
      } finally {
        db.close();
      }
    } finally {
      workerA.stdin.end();
      await exited(workerA);
      await store.close();
    }
  }, 60_000);

  it("R-09 stale worker gets LEASE_LOST on complete, fail and heartbeat after the lease passed on a manual clock (in process)", async () => {
    const clock = new ManualClock();
    const store = new SqliteStore({ path: join(tempDir(), "baton.db"), clock });
    await store.migrate();
    const engine = new Engine(store, { clock });
    try {
      for (let run = 0; run < 100; run++) {
        const [enqueued] = await engine.enqueue({ type: "fence", maxAttempts: 2, backoff: { baseMs: 0 } });
        const [a] = await engine.claim({ owner: "a", types: ["fence"], leaseMs: 50 });
        clock.advance(51);
        const [b] = await engine.claim({ owner: "b", types: ["fence"], leaseMs: 50 });
        expect(a?.job.id).toBe(enqueued?.job.id);
        expect(b?.job.id).toBe(enqueued?.job.id);
        const id = a!.job.id;
        await expect(engine.complete(id, { token: a!.token })).rejects.toMatchObject({ code: "LEASE_LOST" });
        await expect(engine.fail(id, { token: a!.token, error: "late" })).rejects.toMatchObject({
          code: "LEASE_LOST",
        });
        await expect(engine.heartbeat(id, a!.token)).rejects.toMatchObject({ code: "LEASE_LOST" });
        await engine.complete(id, { token: b!.token });
        // Once finished, the stale token is still refused (no second completion).
        await expect(engine.complete(id, { token: a!.token })).rejects.toMatchObject({ code: "LEASE_LOST" });
        const events = await engine.events({ jobId: id, limit: 100 });
        expect(events.filter((e) => e.kind === "completed")).toHaveLength(1);
      }
    } finally {
      await store.close();
    }
  });
});

// -----------------------------------------------------------------------------------------------

describe("R-10 crash loop", () => {
  it("R-10 crash loop: a child doing enqueue/claim/complete is SIGKILLed at a random point 200 times: integrity ok, every acknowledged enqueue present, no job both running and finished", async () => {
    const seed = testSeed();
    console.log(`R-10 seed ${seed} (replay with BATON_TEST_SEED=${seed})`);
    const dbPath = join(tempDir(), "baton.db");
    const KILLS = 200;
    const LANES = 4; // children running at once against the same file, each killed and replaced
    const acknowledged = new Set<string>();
    const unexpectedErrors: string[] = [];
    let kills = 0;
    let killedBeforeReady = 0;

    const db = new Database(dbPath, { timeout: 10_000 });
    const checkLedger = (): void => {
      expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
      // Every acknowledged enqueue is present.
      const present = db
        .prepare("SELECT count(*) AS n FROM jobs WHERE id IN (SELECT value FROM json_each(?))")
        .get(JSON.stringify([...acknowledged])) as { n: number };
      expect(present.n).toBe(acknowledged.size);
      // No job both running and finished: a running job holds a lease, exactly one open attempt and no
      // finish time; any other job holds neither; a finished job has its finish time; and every claim
      // left its attempt row (release and redrive may lower the count, never raise it past the rows).
      const contradictions = db
        .prepare(
          `SELECT id, state, finished_at,
               (SELECT count(*) FROM attempts a WHERE a.job_id = j.id AND a.ended_at IS NULL) AS open_attempts
             FROM jobs j
             WHERE (state = 'running' AND (finished_at IS NOT NULL OR lease_token IS NULL OR open_attempts != 1))
                OR (state != 'running' AND (open_attempts != 0 OR lease_token IS NOT NULL))
                OR (state IN ('succeeded','failed','timed_out','cancelled','skipped') AND finished_at IS NULL)
                OR attempts > (SELECT count(*) FROM attempts a WHERE a.job_id = j.id)
             LIMIT 5`,
        )
        .all();
      expect(contradictions).toEqual([]);
    };

    const lane = async (): Promise<void> => {
      while (kills < KILLS) {
        const index = kills++;
        // Each child's schedule derives from the seed and its number (lanes interleave freely).
        const random = seeded(seed + index * 7919);
        const child = start("sqlite-crash-loop.mjs", { db: dbPath, leaseMs: 300, seed: seed + index });
        let stderr = "";
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        const lines = new LineReader(child);
        const done = exited(child);
        // Mostly kill mid-loop, 20–150 ms after the ledger is open; sometimes during start-up
        // and migration, at a random moment after spawn.
        const early = random() < 0.1;
        const delay = early ? random() * 200 : 20 + random() * 130;
        let timer: NodeJS.Timeout | undefined;
        if (early) timer = setTimeout(() => child.kill("SIGKILL"), delay);
        let ready = false;
        for (;;) {
          const line = await lines.next();
          if (line === undefined) break;
          if (line === "ready") ready = true;
          if (line === "ready" && !early) timer = setTimeout(() => child.kill("SIGKILL"), delay);
          else if (line.startsWith("ack ")) for (const id of line.slice(4).split(" ")) acknowledged.add(id);
          else if (line.startsWith("error ")) {
            // A worker that stalled past its short lease may legitimately lose it; nothing else is expected.
            if (!line.startsWith("error LEASE_LOST ")) unexpectedErrors.push(line);
          }
        }
        const { signal } = await done;
        clearTimeout(timer);
        if (signal !== "SIGKILL") {
          unexpectedErrors.push(`child ${index} ended by itself (${signal ?? "exit"}): ${stderr}`);
        }
        if (!ready) killedBeforeReady++;
        // Until a child has finished migrating, there is no schema to check.
        if ((db.pragma("user_version", { simple: true }) as number) > 0) checkLedger();
      }
    };
    try {
      await Promise.all(Array.from({ length: LANES }, () => lane()));
      expect(unexpectedErrors).toEqual([]);
      expect(kills).toBe(KILLS);
      checkLedger();
      const states = db.prepare("SELECT state, count(*) AS n FROM jobs GROUP BY state ORDER BY state").all();
      console.log(
        `R-10: ${KILLS} SIGKILLs (${LANES} at a time), ${acknowledged.size} acknowledged jobs all present; states ${JSON.stringify(states)}` +
          `; ${killedBeforeReady} of them during start-up or migration`,
      );
      expect(acknowledged.size).toBeGreaterThan(KILLS);
    } finally {
      db.close();
    }
  }, 120_000);
});

// -----------------------------------------------------------------------------------------------

type OpName = "enqueue" | "claim" | "complete";
const OPS: readonly OpName[] = ["enqueue", "claim", "complete"];
const FAULTS = [
  { sqlite: "SQLITE_BUSY", baton: "STORE_BUSY" },
  { sqlite: "SQLITE_IOERR", baton: "STORE_IO" },
  { sqlite: "SQLITE_FULL", baton: "STORAGE_FULL" },
] as const;

interface FaultPlan {
  op: OpName;
  statement: number;
  code: string;
  persistent: boolean;
}

/**
 * One scripted scenario on a fresh ledger: a setup without faults, then enqueue, claim and complete,
 * with the fault plan armed during exactly one of the three operations.
 */
class Scenario {
  readonly dbPath: string;
  readonly clock = new ManualClock();
  readonly store: SqliteStore;
  readonly engine: Engine;
  /** The operation during which the hook is armed, and each op's statement count (from BEGIN). */
  private armedFor: OpName | undefined;
  private base = 0;
  private fired = 0;
  readonly statementsSeen = new Map<OpName, number>();
  private plan: FaultPlan | undefined;
  private tokenA = "";
  private idA = "";

  constructor(dir: string, plan?: FaultPlan) {
    this.dbPath = join(dir, "baton.db");
    this.plan = plan;
    const hook: FaultHook = (index, sql) => {
      if (this.armedFor === undefined) return;
      if (sql === "BEGIN IMMEDIATE") this.base = index;
      const relative = index - this.base;
      this.statementsSeen.set(
        this.armedFor,
        Math.max(this.statementsSeen.get(this.armedFor) ?? 0, relative + 1),
      );
      const p = this.plan;
      if (
        p !== undefined &&
        p.op === this.armedFor &&
        p.statement === relative &&
        (p.persistent || this.fired === 0)
      ) {
        this.fired++;
        throw new InjectedSqliteError(p.code);
      }
    };
    // durability normal: every case builds a fresh ledger, and power loss is not what is tested here.
    this.store = new SqliteStore({
      path: this.dbPath,
      clock: this.clock,
      random: () => 0.5,
      faultHook: hook,
      durability: "normal",
    });
    this.engine = new Engine(this.store, { clock: this.clock, actor: "r11" });
  }

  get faultsFired(): number {
    return this.fired;
  }

  disarm(): void {
    this.plan = undefined;
  }

  /** Jobs A (running, with a waiting dependent B), C (running, lease expired), D (queued). */
  async setup(): Promise<void> {
    await this.store.migrate();
    const [a] = await this.engine.enqueue({
      type: "t",
      idempotencyKey: "k0",
      priority: 10,
      payload: { job: "A" },
    });
    this.idA = a!.job.id;
    await this.engine.enqueue({ type: "t", dependsOn: [this.idA], payload: { job: "B" } });
    await this.engine.enqueue({ type: "t", priority: 5, payload: { job: "C" } });
    await this.engine.enqueue({ type: "t", payload: { job: "D" } });
    const [claimedA] = await this.engine.claim({ owner: "w1", types: ["t"], leaseMs: 60_000 });
    expect(claimedA?.job.id).toBe(this.idA);
    this.tokenA = claimedA!.token;
    const [claimedC] = await this.engine.claim({ owner: "w1", types: ["t"], leaseMs: 1_000 });
    expect(claimedC?.job.payload).toEqual({ job: "C" });
    this.clock.advance(5_000);
  }

  async run(op: OpName): Promise<unknown> {
    this.armedFor = op;
    try {
      switch (op) {
        case "enqueue":
          // A duplicate of A's key (deduplicated), a fresh keyed job, and a job of another type.
          return await this.engine.enqueue([
            { type: "t", idempotencyKey: "k0" },
            { type: "t", idempotencyKey: "k1", tags: ["x"], payload: { job: "E" } },
            { type: "u", payload: { job: "F" } },
          ]);
        case "claim":
          // Recovers C's expired lease, then claims D.
          return await this.engine.claim({ owner: "w2", types: ["t"], leaseMs: 60_000 });
        case "complete":
          // Completes A, which releases its dependent B.
          return await this.engine.complete(this.idA, { token: this.tokenA, evidence: { done: true } });
      }
    } finally {
      this.armedFor = undefined;
    }
  }

  /** The committed state, read through a separate connection, with ids and tokens normalised. */
  snapshot(): string {
    const db = new Database(this.dbPath, { timeout: 10_000 });
    try {
      const dump = {
        jobs: db.prepare("SELECT * FROM jobs ORDER BY id").all(),
        deps: db.prepare("SELECT * FROM job_deps ORDER BY job_id, depends_on").all(),
        attempts: db.prepare("SELECT * FROM attempts ORDER BY job_id, n").all(),
        events: db.prepare("SELECT * FROM events ORDER BY id").all(),
        pauses: db.prepare("SELECT * FROM pauses").all(),
      };
      const ids = (dump.jobs as { id: string }[]).map((j) => j.id);
      let text = JSON.stringify(dump);
      ids.forEach((id, index) => (text = text.split(id).join(`job#${index}`)));
      return text.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, "<token>");
    } finally {
      db.close();
    }
  }

  close(): Promise<void> {
    return this.store.close();
  }
}

/** Run `tasks` with at most `width` at a time (persistent BUSY cases spend most of their time asleep). */
async function pool<T>(tasks: (() => Promise<T>)[], width: number): Promise<T[]> {
  const results: T[] = new Array<T>(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < tasks.length) {
        const index = next++;
        results[index] = await tasks[index]!();
      }
    }),
  );
  return results;
}

describe("R-11 fault injection", () => {
  it("R-11 for every N, statement N of enqueue/claim/complete fails with BUSY/IOERR/FULL: transient → same end state; persistent → typed error, process up, no partial write", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      // The run without faults: its end state is the reference, and it counts each op's statements.
      const baseline = new Scenario(tempDir());
      await baseline.setup();
      for (const op of OPS) await baseline.run(op);
      const expected = baseline.snapshot();
      const counts = new Map(baseline.statementsSeen);
      await baseline.close();
      for (const op of OPS) expect(counts.get(op) ?? 0).toBeGreaterThanOrEqual(4); // BEGIN … COMMIT

      const cases: FaultPlan[] = [];
      for (const op of OPS) {
        for (let statement = 0; statement < counts.get(op)!; statement++) {
          for (const fault of FAULTS) {
            for (const persistent of [false, true])
              cases.push({ op, statement, code: fault.sqlite, persistent });
          }
        }
      }

      const failures = await pool(
        cases.map((plan) => async (): Promise<string[]> => {
          const problems: string[] = [];
          const label = `${plan.persistent ? "persistent" : "transient"} ${plan.code} at statement ${plan.statement} of ${plan.op}`;
          const scenario = new Scenario(tempDir(), plan);
          try {
            await scenario.setup();
            for (const op of OPS) {
              if (op !== plan.op || !plan.persistent) {
                await scenario.run(op);
                continue;
              }
              const before = scenario.snapshot();
              const error = await scenario.run(op).then(
                () => undefined,
                (e: unknown) => e,
              );
              const want = FAULTS.find((f) => f.sqlite === plan.code)!.baton;
              if (!(error instanceof BatonError) || error.code !== want) {
                problems.push(`${label}: expected ${want}, got ${String(error)}`);
              }
              if (scenario.snapshot() !== before) problems.push(`${label}: a partial write was committed`);
              // The store is still usable: once the fault clears, the same operation succeeds.
              scenario.disarm();
              await scenario.run(op);
            }
            if (scenario.faultsFired === 0) problems.push(`${label}: the fault never fired`);
            if (!plan.persistent && scenario.faultsFired !== 1)
              problems.push(`${label}: fired ${scenario.faultsFired} times`);
            if (scenario.snapshot() !== expected)
              problems.push(`${label}: end state differs from the run without faults`);
          } catch (error) {
            problems.push(`${label}: ${String(error)}`);
          } finally {
            await scenario.close();
          }
          return problems;
        }),
        24,
      );
      expect(failures.flat()).toEqual([]);
      expect(unhandled).toEqual([]);
      console.log(
        `R-11: ${cases.length} fault cases (statements per op: ${OPS.map((op) => `${op} ${counts.get(op)}`).join(", ")}; ` +
          `× BUSY/IOERR/FULL × transient/persistent)`,
      );
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  }, 120_000);
});

// -----------------------------------------------------------------------------------------------

describe("R-19 concurrent first start and a schema newer than the binary", () => {
  it("R-19 (SQLite) 10 processes start at once on an empty database: exactly one applies the migrations, all succeed; a newer schema makes the CLI refuse with SCHEMA_TOO_NEW (exit 5)", async () => {
    const home = join(tempDir(), "home"); // does not exist yet: the first process creates it
    const startAt = Date.now() + 1500;
    const reports = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const child = start("sqlite-migrate-client.mjs", { home, startAt });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        const { code } = await exited(child);
        return { code, stdout, stderr };
      }),
    );
    const latest = latestMigration("sqlite");
    const all = Array.from({ length: latest }, (_, i) => i + 1);
    for (const report of reports) {
      expect(report.stderr).toBe("");
      expect(report.code, `a migrating process failed: ${report.stdout}`).toBe(0);
    }
    const results = reports.map((r) => JSON.parse(r.stdout) as { applied: number[]; version: number });
    expect(results.every((r) => r.version === latest)).toBe(true);
    const appliers = results.filter((r) => r.applied.length > 0);
    expect(appliers).toHaveLength(1);
    expect(appliers[0]?.applied).toEqual(all);

    const db = new Database(join(home, "baton.db"));
    try {
      expect(db.pragma("user_version", { simple: true })).toBe(latest);
      expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
      // A newer baton migrated this file: this binary must refuse to touch it.
      db.pragma(`user_version = ${latest + 1}`);
    } finally {
      db.close();
    }

    const json = baton(["health", "--json"], { home });
    expect(json.code).toBe(5);
    const answer = envelope(json);
    expect(answer.ok).toBe(false);
    expect(answer.error?.code).toBe("SCHEMA_TOO_NEW");
    expect(answer.error?.message).toMatch(
      new RegExp(`schema version ${latest + 1}.*only up to ${latest}.*upgrade`),
    );

    const human = baton(["health"], { home });
    expect(human.code).toBe(5);
    expect(human.stdout).toBe("");
    const message = human.stderr.trim();
    expect(message.split("\n")).toHaveLength(1);
    expect(message).toMatch(/upgrade baton/);
    expect(message).not.toMatch(/\n\s+at /);

    // The refusal touched nothing.
    const after = new Database(join(home, "baton.db"));
    try {
      expect(after.pragma("user_version", { simple: true })).toBe(latest + 1);
    } finally {
      after.close();
    }
  }, 60_000);
});
