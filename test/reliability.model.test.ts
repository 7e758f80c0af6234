/**
 * a model-based test. fast-check generates seeded sequences of the catalogue's operations
 * (enqueue with idempotency keys and depends_on, claim, heartbeat, complete, fail, release,
 * cancel, skip, archive, delete with a dependents policy, clean, redrive, retry, export, import)
 * and runs them from three processes against one ledger (a temp SQLite file, and a PostgreSQL
 * schema): this test process and two children running the built library, each step sent to the
 * process the generator chose, some steps two at once in two processes. After every step:
 * - every job that is not finished has a way forward and `explain` names it truthfully;
 * - no job completes more often than it was reopened (by a forced retry or a redrive);
 * - every acknowledged enqueue is still there unless a step of the sequence removed it, and a
 *   key answers its own job while that job exists;
 * - every reference (id, short id, name, an unknown one) resolves to one matching job or fails with
 *   JOB_NOT_FOUND / AMBIGUOUS_ID;
 * - an export imported into a fresh ledger exports the same rows (at export/import steps and at
 *   the end of every sequence).
 *
 * A failure prints the seed and the shrunk command list (fast-check). `npm run fuzz` runs a long
 * budget: BATON_FUZZ_RUNS (runs per store), BATON_FUZZ_SEED (replay one seed).
 */
import { spawn } from "node:child_process";
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Baton } from "../src/baton.js";
import { openBaton } from "../src/baton.js";
import { shortId } from "../src/core/ids.js";
import { TERMINAL_STATES } from "../src/core/states.js";
import type { OpenOptions } from "../src/open.js";
import type { LedgerRows, Row } from "../src/store/transfer/rows.js";
import { postgresRows, sqliteRows } from "../src/store/transfer/rows.js";
import { exportLedger, importLedger } from "../src/store/transfer/transfer.js";
import { PG_ENABLED, pgTestDatabase, warnIfPgSkipped } from "./helpers/pg.js";
import { tempDir } from "./helpers/tmp.js";

warnIfPgSkipped("model-based test (R-38)");
const db = pgTestDatabase();

const RUNS = Number(process.env.BATON_FUZZ_RUNS ?? "0");
/**
 * Short seeded budgets for CI; `npm run fuzz` sets BATON_FUZZ_RUNS and draws a new seed each run.
 * The CI budget replays one fixed seed: a random one made its coverage check below (complete_task
 * succeeded at least once in 6 PostgreSQL sequences) fail in a full run for nothing the
 * product did, and a test that fails at random hides the failures that matter.
 */
const CI_SEED = 3838;
const SEED =
  process.env.BATON_FUZZ_SEED !== undefined
    ? Number(process.env.BATON_FUZZ_SEED)
    : Number(process.env.BATON_FUZZ_RUNS ?? "0") > 0
      ? undefined
      : CI_SEED;
const SQLITE_RUNS = RUNS > 0 ? RUNS : 12;
const PG_RUNS = RUNS > 0 ? RUNS : 6;
const MAX_STEPS = RUNS > 0 ? 60 : 24;
const FUZZ_TIMEOUT = RUNS > 0 ? 24 * 3_600_000 : 120_000;

const CHILD = fileURLToPath(new URL("./helpers/model-child.mjs", import.meta.url));
const PROCESSES = 3;
/** A code a step may answer with: a typed refusal. Anything else (INTERNAL, untyped) is a bug. */
const UNTYPED = new Set(["INTERNAL", "UNTYPED"]);

type Answer = { ok: true; value: unknown } | { ok: false; code: string; message: string };

// ---- the processes -------------------------------------------------------------------------

interface Proc {
  call(op: string, input: unknown): Promise<Answer>;
}

class ChildProc implements Proc {
  private seq = 0;
  private readonly waiting = new Map<number, (a: Answer) => void>();
  private readonly child: ChildProcessWithoutNullStreams;
  private stderr = "";
  constructor(private readonly cwd: string) {
    this.child = spawn(process.execPath, [CHILD], { stdio: ["pipe", "pipe", "pipe"] });
    this.child.stderr.on("data", (d: Buffer) => (this.stderr += d.toString()));
    createInterface({ input: this.child.stdout }).on("line", (line) => {
      const msg = JSON.parse(line) as Answer & { seq: number };
      this.waiting.get(msg.seq)?.(msg);
      this.waiting.delete(msg.seq);
    });
    this.child.on("exit", (code) => {
      for (const resolve of this.waiting.values())
        resolve({ ok: false, code: "UNTYPED", message: `child exited ${code}: ${this.stderr}` });
      this.waiting.clear();
    });
  }
  private send(msg: Record<string, unknown>): Promise<Answer> {
    const seq = ++this.seq;
    return new Promise((resolve) => {
      this.waiting.set(seq, resolve);
      this.child.stdin.write(`${JSON.stringify({ seq, ...msg })}\n`);
    });
  }
  async open(options: OpenOptions): Promise<void> {
    const a = await this.send({ open: options });
    if (!a.ok) throw new Error(`child could not open the ledger: ${a.code} ${a.message}`);
  }
  async closeLedger(): Promise<void> {
    await this.send({ close: true });
  }
  call(op: string, input: unknown): Promise<Answer> {
    return this.send({ op, input, cwd: this.cwd, actor: "model" });
  }
  stop(): void {
    this.child.stdin.end();
  }
}

class LocalProc implements Proc {
  constructor(
    readonly baton: Baton,
    private readonly cwd: string,
  ) {}
  async call(op: string, input: unknown): Promise<Answer> {
    try {
      return { ok: true, value: await this.baton.call(op, input, { cwd: this.cwd, actor: "model" }) };
    } catch (error) {
      const e = error as { code?: string; message?: string };
      return { ok: false, code: e.code ?? "UNTYPED", message: String(e.message ?? error) };
    }
  }
}

// ---- the commands --------------------------------------------------------------------------

/** `job` picks one of the jobs the model knows (index modulo their number). */
type Op =
  | { kind: "enqueue"; name: number | null; key: number | null; deps: number[]; maxAttempts: number }
  | { kind: "claim"; owner: number; leaseSeconds: number }
  | { kind: "heartbeat"; job: number }
  | { kind: "complete"; job: number; token: boolean; ref: "id" | "short" | "name" }
  | { kind: "fail"; job: number; noRetry: boolean }
  | { kind: "release"; job: number }
  | { kind: "cancel"; job: number }
  | { kind: "skip"; job: number; ref: "id" | "short" | "name" }
  | { kind: "archive"; job: number }
  | { kind: "redrive"; job: number }
  | { kind: "retry"; job: number; force: boolean }
  | { kind: "delete"; job: number; dependents: "cancel" | "release" | null }
  | { kind: "clean"; dependents: "cancel" | "release" | null }
  | { kind: "export" }
  | { kind: "import" };

/** One step: one command, or two at once in two different processes. */
interface Step {
  ops: { proc: number; op: Op }[];
}

const job = fc.nat(40);
const refKind = fc.constantFrom("id" as const, "short" as const, "name" as const);
const dependents = fc.constantFrom("cancel" as const, "release" as const, null);

/** Commands that may run beside another (the solo ones change or read the whole ledger). */
const concurrentOp: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("enqueue" as const),
      name: fc.option(fc.nat(3), { nil: null }),
      key: fc.option(fc.nat(4), { nil: null }),
      deps: fc.array(job, { maxLength: 2 }),
      maxAttempts: fc.constantFrom(1, 2),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("claim" as const),
      owner: fc.nat(2),
      leaseSeconds: fc.constantFrom(1, 600),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("heartbeat" as const), job }) },
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant("complete" as const), job, token: fc.boolean(), ref: refKind }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("fail" as const), job, noRetry: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("release" as const), job }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("cancel" as const), job }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("skip" as const), job, ref: refKind }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("redrive" as const), job }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("retry" as const), job, force: fc.boolean() }) },
);

const soloOp: fc.Arbitrary<Op> = fc.oneof(
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("archive" as const), job }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("delete" as const), job, dependents }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("clean" as const), dependents }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("export" as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("import" as const) }) },
);

const proc = fc.nat(PROCESSES - 1);
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ ops: fc.tuple(fc.record({ proc, op: concurrentOp })) }) },
  {
    weight: 3,
    arbitrary: fc.tuple(proc, fc.nat(PROCESSES - 2), concurrentOp, concurrentOp).map(([a, d, x, y]) => ({
      ops: [
        { proc: a, op: x },
        { proc: (a + 1 + d) % PROCESSES, op: y },
      ],
    })),
  },
  { weight: 2, arbitrary: fc.record({ ops: fc.tuple(fc.record({ proc, op: soloOp })) }) },
);

// ---- the model -----------------------------------------------------------------------------

const TYPE = "r38";
/** How often each operation was acknowledged or refused (printed: a model that only ever sees refusals tests nothing). */
const tally = new Map<string, number>();
function count(what: string): void {
  tally.set(what, (tally.get(what) ?? 0) + 1);
}
const FINISHED = new Set<string>(TERMINAL_STATES);

interface Model {
  /** Every id an enqueue acknowledged, in order. */
  acked: string[];
  /** Ids a delete or clean of the sequence removed (they may be missing). */
  removed: Set<string>;
  /** The job each idempotency key was answered with. */
  keys: Map<string, string>;
  /** The latest claim token of each job. */
  tokens: Map<string, string>;
  /** How often each job was reopened after it succeeded (a forced retry or a redrive). */
  reopened: Map<string, number>;
  names: Map<string, string | null>;
}

interface Snapshot {
  jobs: Map<string, Row>;
  deps: Map<string, string[]>;
  events: Row[];
  text: string;
}

async function exportText(rows: LedgerRows): Promise<string> {
  let text = "";
  try {
    await exportLedger(rows, (line) => {
      text += line;
    });
  } finally {
    await rows.close();
  }
  return text;
}

function parseExport(text: string): Snapshot {
  const jobs = new Map<string, Row>();
  const deps = new Map<string, string[]>();
  const events: Row[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const parsed = JSON.parse(line) as { table?: string; row?: Row };
    if (parsed.table === "jobs") jobs.set(String(parsed.row!.id), parsed.row!);
    if (parsed.table === "job_deps") {
      const id = String(parsed.row!.job_id);
      deps.set(id, [...(deps.get(id) ?? []), String(parsed.row!.depends_on)]);
    }
    if (parsed.table === "events") events.push(parsed.row!);
  }
  return { jobs, deps, events, text };
}

/** The rows of an export, without its header and end lines (their times differ). */
function rowLines(text: string): string[] {
  return text.split("\n").filter((l) => l.startsWith('{"table"'));
}

interface Ledger {
  options: OpenOptions;
  rows(): Promise<LedgerRows>;
}

class World {
  readonly model: Model = {
    acked: [],
    removed: new Set(),
    keys: new Map(),
    tokens: new Map(),
    reopened: new Map(),
    names: new Map(),
  };
  private lastExport: string | null = null;
  constructor(
    readonly ledger: Ledger,
    readonly procs: Proc[],
    readonly local: LocalProc,
  ) {}

  /** A job the model believes exists (a removed one now and then: its refusal is checked too). */
  private pick(n: number): string | undefined {
    const live = this.model.acked.filter((id) => !this.model.removed.has(id));
    const ids = n % 10 === 9 || live.length === 0 ? this.model.acked : live;
    return ids.length === 0 ? undefined : ids[n % ids.length];
  }

  private ref(id: string, kind: "id" | "short" | "name"): string {
    const name = this.model.names.get(id);
    if (kind === "short") return shortId(id);
    if (kind === "name" && name !== null && name !== undefined) return name;
    return id;
  }

  /** The input of one command (undefined: nothing to do, e.g. no job yet). */
  private input(op: Op): { name: string; input: Record<string, unknown> } | undefined {
    if (op.kind === "enqueue") {
      const depIds = op.deps.map((d) => this.pick(d)).filter((d): d is string => d !== undefined);
      return {
        name: "enqueue_task",
        input: {
          type: TYPE,
          payload: { n: this.model.acked.length },
          maxAttempts: op.maxAttempts,
          backoff: { baseMs: 0, maxMs: 0 },
          ...(op.name === null ? {} : { name: `file-${op.name}` }),
          ...(op.key === null ? {} : { idempotencyKey: `key-${op.key}` }),
          ...(depIds.length === 0 ? {} : { dependsOn: [...new Set(depIds)] }),
        },
      };
    }
    if (op.kind === "claim")
      return {
        name: "claim_task",
        input: { types: [TYPE], owner: `agent-${op.owner}`, leaseSeconds: op.leaseSeconds, limit: 2 },
      };
    if (op.kind === "export" || op.kind === "import" || op.kind === "clean") return undefined;
    return this.jobInput(op);
  }

  private jobInput(op: Exclude<Op, { kind: "enqueue" | "claim" | "export" | "import" | "clean" }>) {
    const id = this.pick(op.job);
    if (id === undefined) return undefined;
    const token = this.model.tokens.get(id) ?? "no-such-token";
    switch (op.kind) {
      case "heartbeat":
        return { name: "heartbeat_task", input: { id, token, leaseSeconds: 600 } };
      case "complete":
        return {
          name: "complete_task",
          input: { id: this.ref(id, op.ref), evidence: "done", ...(op.token ? { token } : {}) },
        };
      case "fail":
        return { name: "fail_task", input: { id, error: "broke", token, noRetry: op.noRetry } };
      case "release":
        return { name: "release_task", input: { id, token } };
      case "cancel":
        return { name: "stop_job", input: { id } };
      case "skip":
        return { name: "skip_task", input: { id: this.ref(id, op.ref), reason: "not needed" } };
      case "archive":
        return { name: "archive", input: { id } };
      case "redrive":
        return { name: "redrive_task", input: { id } };
      case "retry":
        return { name: "retry_job", input: { id, force: op.force } };
      case "delete":
        return {
          name: "delete_task",
          input: { id, ...(op.dependents === null ? {} : { dependents: op.dependents }) },
        };
    }
  }

  async snapshot(): Promise<Snapshot> {
    return parseExport(await exportText(await this.ledger.rows()));
  }

  async run(s: Step): Promise<void> {
    const before = await this.snapshot();
    const solo = s.ops[0]!.op;
    if (solo.kind === "export") {
      this.lastExport = before.text;
      await this.roundTrip(before.text);
      return this.check(before);
    }
    if (solo.kind === "import") {
      await this.roundTrip(this.lastExport ?? before.text);
      return this.check(before);
    }
    if (solo.kind === "clean") {
      const a = await this.local.call("clean", {
        olderThan: "0s",
        ...(solo.dependents === null ? {} : { dependents: solo.dependents }),
      });
      this.expectTyped("clean", a);
      // Only jobs finished before the clean may go.
      for (const [id, row] of before.jobs) if (FINISHED.has(String(row.state))) this.forget(id);
      return this.check(before);
    }
    const calls = s.ops.map(({ proc, op }) => ({ proc, op, call: this.input(op) }));
    const answers = await Promise.all(
      calls.map(({ proc, call }) =>
        call === undefined ? Promise.resolve(undefined) : this.procs[proc]!.call(call.name, call.input),
      ),
    );
    const keysBefore = new Map(this.model.keys);
    calls.forEach(({ op, call }, i) => {
      const a = answers[i];
      if (call === undefined || a === undefined) return;
      this.expectTyped(`${call.name} ${JSON.stringify(call.input)}`, a);
      count(`${call.name} ${a.ok ? "ok" : a.code}`);
      this.learn(op, call.input, a, keysBefore);
    });
    // Two enqueues with one key, at once: one job, both answers name it.
    const keyed = calls
      .map((c, i) => ({ key: c.call?.input.idempotencyKey, a: answers[i] }))
      .filter((c) => c.key !== undefined && c.a?.ok === true);
    if (keyed.length === 2 && keyed[0]!.key === keyed[1]!.key) {
      const ids = keyed.map((k) => (k.a as { value: { jobs: { id: string }[] } }).value.jobs[0]!.id);
      expect(ids[1], `two enqueues with key ${String(keyed[0]!.key)} at once made two jobs`).toBe(ids[0]);
    }
    return this.check(before);
  }

  private expectTyped(what: string, a: Answer): void {
    if (!a.ok && UNTYPED.has(a.code)) throw new Error(`${what} answered ${a.code}: ${a.message}`);
  }

  private forget(id: string): void {
    this.model.removed.add(id);
    for (const [k, v] of this.model.keys) if (v === id) this.model.keys.delete(k);
  }

  /** Update the model from one acknowledged answer. */
  private learn(op: Op, input: Record<string, unknown>, a: Answer, keysBefore: Map<string, string>): void {
    if (!a.ok) return;
    const value = a.value as Record<string, unknown>;
    switch (op.kind) {
      case "enqueue": {
        const [j] = value.jobs as { id: string; deduplicated: boolean }[];
        const key = input.idempotencyKey as string | undefined;
        if (key !== undefined) {
          const bound = this.model.keys.get(key);
          // D52: a key stays bound to its job, finished or not, until it is deleted or cleaned.
          // (Bound before this step: of two enqueues at once, the first to answer may be the one
          // that found the other's job.)
          if (bound !== undefined) expect(j!.id, `key ${key} is bound to ${bound}`).toBe(bound);
          if (keysBefore.has(key))
            expect(j!.deduplicated, `key ${key} is bound to ${bound} but made a new job`).toBe(true);
          this.model.keys.set(key, j!.id);
        }
        if (!this.model.acked.includes(j!.id)) {
          this.model.acked.push(j!.id);
          this.model.names.set(j!.id, (input.name as string | undefined) ?? null);
        }
        break;
      }
      case "claim":
        for (const c of value.claimed as { job: { id: string }; token: string }[])
          this.model.tokens.set(c.job.id, c.token);
        break;
      case "retry": {
        // Only a forced retry reopens a succeeded job; counted whatever the state before the step,
        // since a complete may have run beside it.
        const id = input.id as string;
        if (input.force === true) this.model.reopened.set(id, (this.model.reopened.get(id) ?? 0) + 1);
        break;
      }
      case "delete":
        if ((value.deleted as number) > 0) this.forget(input.id as string);
        break;
      case "heartbeat":
      case "complete":
      case "fail":
      case "release":
      case "cancel":
      case "skip":
      case "archive":
      case "redrive":
      case "clean":
      case "export":
      case "import":
        break;
    }
  }

  /** Export → import into a fresh SQLite ledger → export again: the same rows. */
  private async roundTrip(text: string): Promise<void> {
    const path = join(tempDir("bmodel-imp-"), "baton.db");
    const fresh = await openBaton({ databasePath: path, home: tempDir("bmodel-imph-") });
    await fresh.close();
    const target = sqliteRows(path);
    try {
      await importLedger(target, Readable.from([text]));
    } finally {
      await target.close();
    }
    const again = await exportText(sqliteRows(path));
    expect(rowLines(again), "an export imported into a fresh ledger exports other rows").toEqual(
      rowLines(text),
    );
  }

  /** The invariants, on the ledger as it is now. */
  async check(before: Snapshot): Promise<void> {
    const now = await this.snapshot();
    // No lost acknowledged enqueue.
    for (const id of this.model.acked) {
      if (!this.model.removed.has(id))
        expect(now.jobs.has(id), `acknowledged job ${id} is gone (no step removed it)`).toBe(true);
    }
    // Nothing a step did not remove disappeared since the step began.
    for (const id of before.jobs.keys()) {
      if (!now.jobs.has(id) && !this.model.removed.has(id))
        throw new Error(`job ${id} vanished without a delete or clean`);
    }
    // No job completes more often than it was reopened.
    const completions = new Map<string, number>();
    for (const e of now.events)
      if (e.kind === "completed" && e.job_id !== null)
        completions.set(String(e.job_id), (completions.get(String(e.job_id)) ?? 0) + 1);
    for (const [id, n] of completions)
      expect(
        n,
        `job ${id} completed ${n} times, reopened ${this.model.reopened.get(id) ?? 0}`,
      ).toBeLessThanOrEqual(1 + (this.model.reopened.get(id) ?? 0));
    // Every live job has a way forward and explain names it.
    for (const [id, row] of now.jobs) {
      const a = await this.local.call("explain_task", { id });
      if (!a.ok) throw new Error(`explain ${id}: ${a.code} ${a.message}`);
      const { state, reasons } = a.value as { state: string; reasons: string[] };
      const text = reasons.join("\n");
      if (state !== row.state) continue; // moved on since the snapshot (no concurrent step now: never)
      const why = `job ${id} (${state}): explain says ${JSON.stringify(reasons)}`;
      if (state === "waiting") {
        const deps = (now.deps.get(id) ?? []).map((d) => ({ d, row: now.jobs.get(d) }));
        const missing = deps.filter((x) => x.row === undefined);
        expect(
          missing.map((x) => x.d),
          `${why}; it waits on jobs that no longer exist`,
        ).toEqual([]);
        const open = deps.filter(
          (x) => x.row !== undefined && !["succeeded", "skipped"].includes(String(x.row.state)),
        );
        expect(open.length, `${why}; every dependency is done, yet it waits`).toBeGreaterThan(0);
        for (const x of open)
          expect(text, why).toContain(`waiting on dependency ${x.d} (${String(x.row!.state)})`);
      } else if (state === "queued" || state === "retrying") {
        if (Number(row.run_at) > Date.now()) expect(text, why).toMatch(/scheduled for/);
        else expect(text, why).toMatch(/it is ready|scheduled for/);
      } else if (state === "running") {
        expect(row.lease_owner, why).not.toBeNull();
        expect(row.lease_expires_at, why).not.toBeNull();
        expect(text, why).toMatch(/^it is running/);
      } else {
        expect(FINISHED.has(state), why).toBe(true);
      }
    }
    // Every reference resolves to one matching job or fails.
    const names = new Map<string, string[]>();
    for (const [id, row] of now.jobs)
      if (row.name !== null) names.set(String(row.name), [...(names.get(String(row.name)) ?? []), id]);
    const refs = [
      ...[...now.jobs.keys()].flatMap((id) => [id, shortId(id)]),
      ...names.keys(),
      "file-none",
      "01ZZZZZZZZZZZZZZZZZZZZZZZZ",
    ];
    for (const ref of refs) {
      const a = await this.local.call("explain_task", { id: ref });
      if (a.ok) {
        const got = (a.value as { id: string }).id;
        const row = now.jobs.get(got);
        expect(row, `${ref} resolved to ${got}, which is not in the ledger`).toBeDefined();
        expect(
          got === ref || shortId(got) === ref || got.startsWith(ref) || row!.name === ref,
          `${ref} resolved to ${got}, which it does not name`,
        ).toBe(true);
      } else {
        expect(["JOB_NOT_FOUND", "AMBIGUOUS_ID"], `${ref}: ${a.code} ${a.message}`).toContain(a.code);
        if (now.jobs.has(ref)) throw new Error(`the full id ${ref} did not resolve: ${a.code} ${a.message}`);
        if ((names.get(ref)?.length ?? 0) === 1 && a.code === "JOB_NOT_FOUND")
          throw new Error(`the name ${ref} of one job did not resolve: ${a.message}`);
      }
    }
  }

  async finish(): Promise<void> {
    const now = await this.snapshot();
    await this.roundTrip(now.text);
  }
}

// ---- the property --------------------------------------------------------------------------

async function modelRuns(
  name: string,
  runs: number,
  freshLedger: () => { options: OpenOptions; rows: () => Promise<LedgerRows> },
): Promise<void> {
  const cwd = tempDir("bmodel-cwd-");
  const children = [new ChildProc(cwd), new ChildProc(cwd)];
  try {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 4, maxLength: MAX_STEPS, size: "max" }), async (steps) => {
        const ledger = freshLedger();
        const baton = await openBaton(ledger.options);
        try {
          for (const c of children) await c.open(ledger.options);
          const local = new LocalProc(baton, cwd);
          const world = new World(ledger, [local, ...children], local);
          for (const s of steps) await world.run(s);
          await world.finish();
        } finally {
          for (const c of children) await c.closeLedger();
          await baton.close();
        }
      }),
      { numRuns: runs, ...(SEED === undefined ? {} : { seed: SEED }), verbose: 1 },
    );
  } finally {
    for (const c of children) c.stop();
  }
  const answers = [...tally].sort().map(([k, n]) => `${k}: ${n}`);
  console.log(
    `R-38 ${name}: ${runs} sequences of up to ${MAX_STEPS} steps from ${PROCESSES} processes\n${answers.join("\n")}`,
  );
  // Every operation was acknowledged at least once: the generator reaches the states it needs.
  for (const op of ["enqueue_task", "claim_task", "complete_task"])
    expect(tally.get(`${op} ok`) ?? 0, `${op} never succeeded`).toBeGreaterThan(0);
  tally.clear();
}

describe("R-38 model-based: random interleavings of the catalogue from three processes", () => {
  it(
    "R-38 SQLite file: every step keeps the ledger's promises",
    async () => {
      await modelRuns("SQLite", SQLITE_RUNS, () => {
        const dir = tempDir("bmodel-");
        const path = join(dir, "baton.db");
        return {
          options: { databasePath: path, home: dir, durability: "normal" },
          rows: () => Promise.resolve(sqliteRows(path)),
        };
      });
    },
    FUZZ_TIMEOUT,
  );

  describe.skipIf(!PG_ENABLED)("PostgreSQL (needs BATON_TEST_DATABASE_URL)", () => {
    beforeAll(() => db.setup());
    afterAll(() => db.teardown());
    it(
      "R-38 PostgreSQL: every step keeps the ledger's promises",
      async () => {
        await modelRuns("PostgreSQL", PG_RUNS, () => {
          const schema = db.freshSchema();
          return {
            options: {
              databaseUrl: db.url,
              databaseSchema: schema,
              poolSize: 2,
              home: tempDir("bmodel-pg-"),
            },
            rows: () => postgresRows(db.url, schema),
          };
        });
      },
      FUZZ_TIMEOUT,
    );
  });
});
