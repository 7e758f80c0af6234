import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../src/core/clock.js";
import { BatonError } from "../src/core/errors.js";
import { Engine } from "../src/engine/engine.js";
import { getOperation } from "../src/ops/catalogue.js";
import { invoke } from "../src/ops/invoke.js";
import type { OpContext } from "../src/ops/operation.js";
import type { ResumeOutput } from "../src/ops/resume.js";
import { resumeOutputSchema } from "../src/ops/resume.js";
import type { Store } from "../src/store/types.js";
import { testLedgers } from "./helpers/ledgers.js";
import type { LedgerKind } from "./helpers/ledgers.js";

/** A real project directory: an operation's `project` must be one (D145). */
const PROJECT = mkdtempSync(join(tmpdir(), "baton-resume-project-"));
mkdirSync(join(PROJECT, ".git"));
afterAll(() => rmSync(PROJECT, { recursive: true, force: true }));
const MINUTE = 60_000;

const ledgers = testLedgers("resume_session");
let store: Store;
let clock: ManualClock;
let engine: Engine;
let ctx: OpContext;

/** A fresh ledger of `kind` per test (called by each describe.each block). */
function freshLedgerPerTest(kind: LedgerKind): void {
  beforeAll(() => ledgers.setup());
  afterAll(() => ledgers.teardown());
  beforeEach(async () => {
    clock = new ManualClock();
    ({ engine, store } = await ledgers.open(kind, { clock }));
    ctx = { engine, cwd: PROJECT, actor: "test", location: store.location };
  });
  afterEach(() => store.close());
}

async function resume(input: Record<string, unknown> = {}): Promise<ResumeOutput> {
  const op = getOperation("resume_session");
  expect(op).toBeDefined();
  const out = (await invoke(op!, { project: PROJECT, ...input }, ctx)) as ResumeOutput;
  // The answer always matches the operation's declared output schema.
  expect(op!.output.safeParse(out).success).toBe(true);
  return resumeOutputSchema.parse(out);
}

/** What the agent pays: JSON length / 4. */
const tokensOf = (value: unknown): number => JSON.stringify(value).length / 4;

async function enqueueWorkflow(workflow: string, payloads: unknown[]): Promise<string[]> {
  const outcomes = await engine.enqueue(
    payloads.map((payload) => ({ type: "task", workflow, payload })),
    { project: PROJECT },
  );
  return outcomes.map((o) => o.job.id);
}

/** The ids listed in a workflow entry (each task line starts with the id). */
function listedIds(out: ResumeOutput, workflow: string): string[] {
  const entry = out.workflows.find((w) => w.workflow === workflow);
  return (entry?.tasks ?? []).map((line) => line.split(" ")[0]!);
}

describe.each(ledgers.kinds)("resume_session (%s)", (kind) => {
  freshLedgerPerTest(kind);

  it("stays within the token budget for budgets from 100 to 4,000", async () => {
    for (const [w, name] of ["docs", "refactor-auth", "tests", "migrate-db"].entries()) {
      const ids = await enqueueWorkflow(
        name,
        Array.from({ length: 60 }, (_, i) => ({
          file: `src/${name}/module-${i}.ts`,
          instructions: `Rewrite the exported functions of module ${i} to use the new API; keep behaviour identical.`,
        })),
      );
      for (const id of ids.slice(0, 10 + w * 5)) {
        await engine.complete(id, { evidence: { summary: "done, tests pass", files: [`src/${name}/x.ts`] } });
      }
      await engine.fail(ids.at(-1)!, { error: "could not parse the file: unexpected token at line 12" });
      clock.advance(MINUTE);
    }
    let previousShown = -1;
    for (const budget of [100, 150, 200, 300, 400, 600, 800, 1000, 1500, 2000, 3000, 4000]) {
      const out = await resume({ budget });
      expect(tokensOf(out), `budget ${budget}`).toBeLessThanOrEqual(budget);
      const shown = out.workflows.reduce((sum, w) => sum + w.tasks.length, 0);
      expect(shown, `budget ${budget}`).toBeGreaterThanOrEqual(previousShown);
      previousShown = shown;
      expect(out.remaining).toBe(4 * 60 - (10 + 15 + 20 + 25) - 4);
      for (const entry of out.workflows) expect(entry.tasks.length + entry.more).toBe(entry.remaining);
    }
    expect(previousShown).toBeGreaterThan(0);
  });

  it("fits a 100-task workflow with short payloads entirely within 1,500 tokens", async () => {
    const ids = await enqueueWorkflow(
      "add-docstrings",
      Array.from({ length: 100 }, (_, i) => ({ file: `src/lib/mod${i}.ts` })),
    );
    const out = await resume({ budget: 1500 });
    expect(tokensOf(out)).toBeLessThanOrEqual(1500);
    expect(out.remaining).toBe(100);
    expect(out.workflows).toHaveLength(1);
    const entry = out.workflows[0]!;
    expect(entry).toMatchObject({ workflow: "add-docstrings", remaining: 100, more: 0, done: 0, failed: 0 });
    expect(entry.tasks).toHaveLength(100);
    // Every task is there, in order, with its payload: an agent can work from this answer alone.
    expect(listedIds(out, "add-docstrings")).toEqual(ids);
    entry.tasks.forEach((line, i) => expect(line).toContain(`src/lib/mod${i}.ts`));
  });

  it("with `since` returns only what changed after the cursor", async () => {
    const ids = await enqueueWorkflow(
      "w",
      Array.from({ length: 20 }, (_, i) => ({ file: `f${i}.ts` })),
    );
    const first = await resume({ budget: 4000 });
    expect(first.cursor).toMatch(/^e\d+$/);
    expect(listedIds(first, "w")).toEqual(ids);
    expect(first.finishedSince).toBeUndefined();

    clock.advance(MINUTE);
    await engine.complete(ids[0]!, { evidence: "ok" });
    await engine.complete(ids[1]!, { evidence: "ok" });
    const [added] = await enqueueWorkflow("w", [{ file: "new.ts" }]);
    const [claimed] = await engine.claim({ owner: "agent", types: ["task"] }); // claims ids[2]
    expect(claimed!.job.id).toBe(ids[2]);

    const second = await resume({ budget: 4000, since: first.cursor });
    expect(Number(second.cursor.slice(1))).toBeGreaterThan(Number(first.cursor.slice(1)));
    expect(listedIds(second, "w").sort()).toEqual([ids[2]!, added!].sort());
    expect((second.finishedSince ?? []).map((line) => line.split(" ")[0]).sort()).toEqual(
      [ids[0], ids[1]].sort(),
    );
    // Counts are the workflow's real totals, not just the changes.
    expect(second.remaining).toBe(19);
    expect(second.workflows[0]).toMatchObject({ workflow: "w", done: 2, remaining: 19 });

    const third = await resume({ budget: 4000, since: second.cursor });
    expect(third.cursor).toBe(second.cursor);
    expect(third.workflows).toEqual([]);
    expect(third.finishedSince).toBeUndefined();
    expect(third.remaining).toBe(19);

    const error = await resume({ since: "not-a-time" }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(BatonError);
    expect((error as BatonError).code).toBe("INVALID_INPUT");
  });

  it("orders workflows by most recent activity", async () => {
    const a = await enqueueWorkflow("alpha", [{ n: 1 }, { n: 2 }, { n: 3 }]);
    clock.advance(MINUTE);
    const b = await enqueueWorkflow("beta", [{ n: 1 }, { n: 2 }]);
    clock.advance(MINUTE);
    await enqueueWorkflow("gamma", [{ n: 1 }]);
    const order = async () => (await resume({ budget: 4000 })).workflows.map((w) => w.workflow);
    expect(await order()).toEqual(["gamma", "beta", "alpha"]);

    clock.advance(MINUTE);
    await engine.complete(a[0]!, { evidence: "first step done" }); // progress in alpha
    expect(await order()).toEqual(["alpha", "gamma", "beta"]);

    clock.advance(MINUTE);
    const [claimed] = await engine.claim({ owner: "agent", workflow: "beta" });
    expect(claimed!.job.id).toBe(b[0]);
    expect(await order()).toEqual(["beta", "alpha", "gamma"]);
  });

  it("counts done, failed and remaining tasks per workflow and in total", async () => {
    const ids = await enqueueWorkflow(
      "w1",
      Array.from({ length: 10 }, (_, i) => ({ i })),
    );
    await engine.complete(ids[0]!, { evidence: "a" });
    await engine.complete(ids[1]!, { evidence: "b" });
    await engine.complete(ids[2]!, { evidence: "last one" });
    await engine.skip(ids[3]!);
    await engine.fail(ids[4]!, { error: "broken" });
    await engine.cancel(ids[5]!);
    await engine.archive([ids[6]!]); // archived: hidden, neither done nor remaining
    const [claimed] = await engine.claim({ owner: "agent", types: ["task"] });
    expect(claimed!.job.id).toBe(ids[7]);
    await enqueueWorkflow("w2", [{ i: 0 }, { i: 1 }]);
    await engine.enqueue({ type: "task", payload: { loose: true } }, { project: PROJECT });
    await engine.enqueue({ type: "task", workflow: "elsewhere", payload: {} }, { project: "/other/project" });

    const out = await resume({ budget: 4000 });
    expect(out.project).toBe(PROJECT);
    expect(out.remaining).toBe(3 + 2 + 1);
    const w1 = out.workflows.find((w) => w.workflow === "w1")!;
    expect(w1).toMatchObject({ done: 4, failed: 2, remaining: 3, more: 0 });
    expect(listedIds(out, "w1")).toEqual([ids[7], ids[8], ids[9]]);
    expect(w1.tasks[0]).toContain("running");
    expect(w1.lastDone).toContain(ids[2]);
    expect(w1.lastDone).toContain("last one");
    expect(out.workflows.find((w) => w.workflow === "w2")).toMatchObject({
      done: 0,
      failed: 0,
      remaining: 2,
    });
    // Tasks in no workflow are counted on their own, not with the whole project.
    expect(out.workflows.find((w) => w.workflow === "(none)")).toMatchObject({
      done: 0,
      failed: 0,
      remaining: 1,
    });
    expect(out.workflows.some((w) => w.workflow === "elsewhere")).toBe(false);
    expect(out.workflows.reduce((sum, w) => sum + w.remaining, 0)).toBe(out.remaining);

    // One workflow only.
    const only = await resume({ budget: 4000, workflow: "w2" });
    expect(only.workflows.map((w) => w.workflow)).toEqual(["w2"]);
    expect(only.remaining).toBe(2);
  });

  it("says so when nothing is left", async () => {
    const out = await resume();
    expect(out).toMatchObject({ remaining: 0, workflows: [] });
    expect(out.hint).toMatch(/nothing/i);
  });
});
