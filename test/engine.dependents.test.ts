/**
 * No stranded dependents (D53): deleting or cleaning a job that waiting jobs depend on used to
 * leave them `waiting` forever (explain said "ready", doctor missed them, claim never got them).
 * A delete is now refused with HAS_DEPENDENTS unless the caller says what happens to them
 * (cancel them, or release the dependency); clean keeps such a job unless told the same. A
 * dependency already gone (a ledger from before) is named by explain and doctor. Both stores.
 */
import Database from "better-sqlite3";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../src/core/clock.js";
import type { Engine } from "../src/engine/engine.js";
import { getOperation } from "../src/ops/catalogue.js";
import { invoke } from "../src/ops/invoke.js";
import type { OpContext } from "../src/ops/operation.js";
import type { Store } from "../src/store/types.js";
import { testLedgers } from "./helpers/ledgers.js";

const ledgers = testLedgers("dependents");
const HOUR = 3_600_000;

describe.each(ledgers.kinds)("deleting or cleaning a job with waiting dependents (%s)", (kind) => {
  let engine: Engine;
  let store: Store;
  let ctx: OpContext;
  beforeAll(() => ledgers.setup());
  afterAll(() => ledgers.teardown());
  beforeEach(async () => {
    ({ engine, store } = await ledgers.open(kind));
    ctx = { engine, cwd: "/p", actor: "test", location: store.location };
  });
  afterEach(() => store.close());

  const enqueue = async (spec: Record<string, unknown> = {}) =>
    (await engine.enqueue({ type: "task", ...spec }))[0]!.job;
  const failed = async () => {
    const job = await enqueue({ maxAttempts: 1 });
    await engine.fail(job.id, { error: "broken", force: true });
    return job;
  };

  it("delete is refused with HAS_DEPENDENTS naming them, and nothing changes", async () => {
    const a = await failed();
    const b = await enqueue({ dependsOn: [a.id] });
    expect(b.state).toBe("waiting");
    const refused = await engine.delete([a.id]).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: "HAS_DEPENDENTS", details: { id: a.id, dependents: [b.id] } });
    expect((await engine.get(a.id)).state).toBe("failed");
    expect((await engine.get(b.id)).state).toBe("waiting");
    // The catalogue operation (CLI, MCP, HTTP) says the same.
    await expect(invoke(getOperation("delete_task")!, { id: a.id }, ctx)).rejects.toMatchObject({
      code: "HAS_DEPENDENTS",
    });
    // Deleting both at once strands nobody.
    expect(await engine.delete([b.id, a.id])).toBe(2);
  });

  it("dependents: cancel cancels them, saying why", async () => {
    const a = await failed();
    const b = await enqueue({ dependsOn: [a.id] });
    expect(await invoke(getOperation("delete_task")!, { id: a.id, dependents: "cancel" }, ctx)).toEqual({
      deleted: 1,
    });
    const after = await engine.get(b.id);
    expect(after.state).toBe("cancelled");
    expect(after.error).toContain(a.id);
  });

  it("dependents: release drops the dependency and unblocks a job whose other dependencies are done", async () => {
    const a = await failed();
    const c = await enqueue();
    const b = await enqueue({ dependsOn: [a.id, c.id] });
    const lone = await enqueue({ dependsOn: [a.id] });
    await engine.delete([a.id], "test", "release");
    expect(await engine.get(lone.id)).toMatchObject({ state: "queued", dependsOn: [] });
    expect(await engine.get(b.id)).toMatchObject({ state: "waiting", dependsOn: [c.id] });
    await engine.complete(c.id);
    expect((await engine.get(b.id)).state).toBe("queued");
    const claimed = await engine.claim({ owner: "me", types: ["task"], limit: 5 });
    expect(claimed.map((x) => x.job.id).sort()).toEqual([b.id, lone.id].sort());
  });

  it("a succeeded dependency of a job still waiting on another is protected too", async () => {
    const done = await enqueue();
    await engine.complete(done.id);
    const other = await enqueue();
    const b = await enqueue({ dependsOn: [done.id, other.id] });
    await expect(engine.delete([done.id])).rejects.toMatchObject({ code: "HAS_DEPENDENTS" });
    // clean keeps it (everything else finished goes).
    const gone = await enqueue();
    await engine.complete(gone.id);
    expect(await engine.clean(-1000)).toBe(1);
    expect((await engine.get(done.id)).state).toBe("succeeded");
    await engine.complete(other.id);
    expect((await engine.get(b.id)).state).toBe("queued");
  });

  it("clean keeps a finished job that waiting jobs need, unless told to cancel or release them", async () => {
    const clock = new ManualClock();
    await store.close();
    ({ engine, store } = await ledgers.open(kind, { clock }));
    ctx = { engine, cwd: "/p", actor: "test", location: store.location };
    const a = await failed();
    const b = await enqueue({ dependsOn: [a.id] });
    clock.advance(2 * HOUR);
    const clean = getOperation("clean")!;
    expect(await invoke(clean, { olderThan: "1h" }, ctx)).toMatchObject({ deleted: 0 });
    expect((await engine.get(a.id)).state).toBe("failed");
    expect((await engine.explain(b.id)).reasons.join(" ")).toContain(
      `waiting on dependency ${a.id} (failed)`,
    );

    expect(await invoke(clean, { olderThan: "1h", dependents: "cancel" }, ctx)).toMatchObject({ deleted: 1 });
    expect((await engine.get(b.id)).state).toBe("cancelled");
    await expect(engine.get(a.id)).rejects.toMatchObject({ code: "JOB_NOT_FOUND" });

    const a2 = await failed();
    const b2 = await enqueue({ dependsOn: [a2.id] });
    clock.advance(2 * HOUR);
    expect(await engine.clean(HOUR, undefined, "test", "release")).toBe(2); // a2 and the cancelled b
    expect((await engine.get(b2.id)).state).toBe("queued");
  });
});

describe.each(ledgers.kinds)("completing or failing a job still waiting on its dependencies (%s)", (kind) => {
  let engine: Engine;
  let store: Store;
  let ctx: OpContext;
  beforeAll(() => ledgers.setup());
  afterAll(() => ledgers.teardown());
  beforeEach(async () => {
    ({ engine, store } = await ledgers.open(kind));
    ctx = { engine, cwd: "/p", actor: "test", location: store.location };
  });
  afterEach(() => store.close());

  const enqueue = async (spec: Record<string, unknown> = {}) =>
    (await engine.enqueue({ type: "task", ...spec }))[0]!.job;
  const op = (name: string, input: Record<string, unknown>) => invoke(getOperation(name)!, input, ctx);

  it("is refused with DEPENDENCIES_UNFINISHED naming each dependency and its state; nothing changes", async () => {
    const done = await enqueue();
    await engine.complete(done.id);
    const queued = await enqueue();
    const broken = await enqueue({ maxAttempts: 1 });
    await engine.fail(broken.id, { error: "boom" });
    const b = await enqueue({ dependsOn: [done.id, queued.id, broken.id] });
    expect(b.state).toBe("waiting");
    const events = (await engine.events({ jobId: b.id, limit: 100 })).length;
    const unfinished = [
      { id: queued.id, state: "queued" },
      { id: broken.id, state: "failed" },
    ];
    for (const call of [() => engine.complete(b.id), () => engine.fail(b.id, { error: "x" })]) {
      const refused = (await call().catch((e: unknown) => e)) as { code: string; message: string };
      expect(refused).toMatchObject({
        code: "DEPENDENCIES_UNFINISHED",
        details: { id: b.id, state: "waiting", dependencies: unfinished },
      });
      expect(refused.message).toContain(`${queued.id} (queued), ${broken.id} (failed)`);
      expect(refused.message).toContain("Nothing was changed");
      expect(refused.message).not.toContain(done.id); // succeeded: not in the way
    }
    // The catalogue (CLI, MCP, HTTP) answers the same.
    for (const [name, input] of [
      ["complete_task", { id: b.id, evidence: "did it" }],
      ["fail_task", { id: b.id, error: "could not" }],
    ] as const)
      await expect(op(name, input)).rejects.toMatchObject({
        code: "DEPENDENCIES_UNFINISHED",
        details: { dependencies: unfinished },
      });
    // In a batch it is that item's error; the others are done.
    const other = await enqueue();
    expect(await op("complete_task", { ids: [b.id, other.id] })).toMatchObject({
      completed: [{ id: other.id, state: "succeeded" }],
      errors: [{ id: b.id, code: "DEPENDENCIES_UNFINISHED" }],
    });
    expect(await engine.get(b.id)).toMatchObject({ state: "waiting", evidence: null, error: null });
    expect((await engine.events({ jobId: b.id, limit: 100 })).length).toBe(events);
  });

  it("force completes or fails it anyway; skip and cancel need no override", async () => {
    const a = await enqueue();
    const b = await enqueue({ dependsOn: [a.id] });
    expect(await op("complete_task", { id: b.id, evidence: "by hand", force: true })).toMatchObject({
      completed: [{ id: b.id, state: "succeeded" }],
    });
    expect(await engine.get(b.id)).toMatchObject({ state: "succeeded", evidence: "by hand" });
    const c = await enqueue({ dependsOn: [a.id] });
    expect(await op("fail_task", { id: c.id, error: "not possible", force: true })).toMatchObject({
      id: c.id,
      state: "failed",
    });
    const d = await enqueue({ dependsOn: [a.id] });
    expect((await engine.complete(d.id, { overDependencies: true })).state).toBe("succeeded");
    const e = await enqueue({ dependsOn: [a.id] });
    expect((await engine.skip(e.id)).state).toBe("skipped");
    const f = await enqueue({ dependsOn: [a.id] });
    expect((await engine.cancel(f.id)).state).toBe("cancelled");
  });

  it("once its dependencies are done it completes as any task", async () => {
    const a = await enqueue();
    const b = await enqueue({ dependsOn: [a.id] });
    await op("complete_task", { id: a.id });
    expect((await engine.get(b.id)).state).toBe("queued");
    expect(await op("complete_task", { id: b.id })).toMatchObject({
      completed: [{ id: b.id, state: "succeeded" }],
    });
  });
});

describe("a dependency already gone (a ledger stranded before D53)", () => {
  const sqlite = testLedgers("dependents-sqlite");
  it("explain and doctor name the missing dependency", async () => {
    const { engine, store } = await sqlite.open("sqlite");
    try {
      const a = (await engine.enqueue({ type: "task" }))[0]!.job;
      const b = (await engine.enqueue({ type: "task", dependsOn: [a.id] }))[0]!.job;
      // What a delete did before: the row gone, its dependent left waiting.
      const db = new Database(store.location);
      db.prepare("DELETE FROM jobs WHERE id = ?").run(a.id);
      db.close();
      const explained = await engine.explain(b.id);
      expect(explained.reasons.join(" ")).toContain(`dependency ${a.id}, which no longer exists`);
      expect(explained.reasons.join(" ")).not.toContain("it is ready");
      const ctx: OpContext = { engine, cwd: "/p", actor: "test", location: store.location };
      const report = (await invoke(getOperation("doctor")!, {}, ctx)) as {
        checks: { name: string; ok: boolean; detail: string }[];
      };
      const deps = report.checks.find((c) => c.name === "dependencies")!;
      expect(deps.ok).toBe(false);
      expect(deps.detail).toContain(`${b.id} (on ${a.id})`);
    } finally {
      await store.close();
    }
  });
});
