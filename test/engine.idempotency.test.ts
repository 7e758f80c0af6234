/**
 * Idempotency keys stay bound to their job after it finishes, until it is cleaned or deleted
 * (D52): an agent that re-runs its enqueue step after a crash gets the finished job back
 * (`deduplicated: true` and its state) instead of new work that `resume` would list as left. The
 * queue library's typed enqueue keeps live-only keys by default ("one at a time per key"), and
 * either side may ask for the other. `retry` leaves a succeeded or skipped checkpoint alone unless
 * forced, and never rewrites `max_attempts`. On both stores.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { Baton } from "../src/baton.js";
import type { Engine } from "../src/engine/engine.js";
import { getOperation } from "../src/ops/catalogue.js";
import { invoke } from "../src/ops/invoke.js";
import type { OpContext } from "../src/ops/operation.js";
import type { ResumeOutput } from "../src/ops/resume.js";
import type { Store } from "../src/store/types.js";
import { defineHandler } from "../src/worker/handler.js";
import { testLedgers } from "./helpers/ledgers.js";

/** A real project directory: an operation's `project` must be one (D145). */
const PROJECT = mkdtempSync(join(tmpdir(), "baton-keys-project-"));
mkdirSync(join(PROJECT, ".git"));
afterAll(() => rmSync(PROJECT, { recursive: true, force: true }));
const ledgers = testLedgers("idempotency keys");

describe.each(ledgers.kinds)("idempotency keys and retry (%s)", (kind) => {
  let engine: Engine;
  let store: Store;
  let ctx: OpContext;
  beforeAll(() => ledgers.setup());
  afterAll(() => ledgers.teardown());
  beforeEach(async () => {
    ({ engine, store } = await ledgers.open(kind));
    ctx = { engine, cwd: PROJECT, actor: "test", location: store.location };
  });
  afterEach(() => store.close());

  const op = (name: string, input: Record<string, unknown>) => invoke(getOperation(name)!, input, ctx);
  const enqueueTask = async (input: Record<string, unknown>) =>
    ((await op("enqueue_task", { project: PROJECT, type: "task", ...input })) as { jobs: any[] }).jobs[0];

  it("D137 a key held by another kind of job is refused, a finished one too; same-kind keys dedupe", async () => {
    const held = await enqueueTask({ idempotencyKey: "kind-a", payload: {} });
    await op("complete_task", { id: held.id, result: { exitCode: 0 } });
    for (const type of ["command", "task:backup", "agent:claude"])
      await expect(
        engine.enqueue({ type, payload: {}, idempotencyKey: "kind-a", project: PROJECT }),
      ).rejects.toMatchObject({ code: "KEY_CONFLICT", details: { heldByType: "task" } });
    const [cmd] = await engine.enqueue({ type: "command", payload: {}, idempotencyKey: "kind-b" });
    const [again] = await engine.enqueue({ type: "command", payload: {}, idempotencyKey: "kind-b" });
    expect(again).toMatchObject({ deduplicated: true, job: { id: cmd!.job.id } });
    await expect(enqueueTask({ idempotencyKey: "kind-b", payload: {} })).rejects.toMatchObject({
      code: "KEY_CONFLICT",
    });
    const [agent] = await engine.enqueue({ type: "agent:claude", payload: {}, idempotencyKey: "kind-c" });
    const [other] = await engine.enqueue({ type: "agent:codex", payload: {}, idempotencyKey: "kind-c" });
    expect(other).toMatchObject({ deduplicated: true, job: { id: agent!.job.id } });
  });

  it("a key stays bound to its finished job: deduplicated, with its state, and resume does not list it", async () => {
    const first = await enqueueTask({ idempotencyKey: "key-c", payload: { file: "c.ts" } });
    expect(first).toMatchObject({ deduplicated: false, state: "queued" });
    await op("complete_task", { id: first.id, evidence: "done" });

    const again = await enqueueTask({ idempotencyKey: "key-c", payload: { file: "c.ts" } });
    expect(again).toEqual({ id: first.id, state: "succeeded", deduplicated: true });
    const resume = (await op("resume_session", { project: PROJECT })) as ResumeOutput;
    expect(JSON.stringify(resume)).not.toContain(first.id);
    expect(await engine.count({})).toBe(1);

    // Failed, cancelled, skipped and archived jobs keep their key too.
    for (const [key, finish] of [
      ["key-f", (id: string) => engine.fail(id, { error: "no", noRetry: true })],
      ["key-x", (id: string) => engine.cancel(id)],
      ["key-s", (id: string) => engine.skip(id)],
      ["key-a", (id: string) => engine.archive([id]).then(() => undefined)],
    ] as const) {
      const job = await enqueueTask({ idempotencyKey: key });
      await finish(job.id);
      const state = (await engine.get(job.id)).state;
      expect(await enqueueTask({ idempotencyKey: key })).toEqual({ id: job.id, state, deduplicated: true });
    }
  });

  it("the key is free again once its job is deleted or cleaned", async () => {
    const a = await enqueueTask({ idempotencyKey: "gone" });
    await engine.complete(a.id);
    await engine.delete([a.id]);
    const b = await enqueueTask({ idempotencyKey: "gone" });
    expect(b.deduplicated).toBe(false);
    expect(b.id).not.toBe(a.id);
    await engine.complete(b.id);
    expect(await engine.clean(-1_000)).toBe(1);
    const c = await enqueueTask({ idempotencyKey: "gone" });
    expect(c.deduplicated).toBe(false);
  });

  it("idempotencyScope 'while-live' frees the key when the job finishes; a live job is still returned", async () => {
    const a = await enqueueTask({ idempotencyKey: "live", idempotencyScope: "while-live" });
    expect((await enqueueTask({ idempotencyKey: "live", idempotencyScope: "while-live" })).id).toBe(a.id);
    await engine.complete(a.id);
    const b = await enqueueTask({ idempotencyKey: "live", idempotencyScope: "while-live" });
    expect(b).toMatchObject({ deduplicated: false, state: "queued" });
    // Both jobs now carry the key; the default scope answers with the live one.
    expect(await enqueueTask({ idempotencyKey: "live" })).toEqual({
      id: b.id,
      state: "queued",
      deduplicated: true,
    });
  });

  it("the library's typed enqueue keeps live-only keys by default; keyScope 'until-cleaned' keeps them bound", async () => {
    const baton = new Baton(engine, "/nonexistent");
    const h = defineHandler("send", z.object({ to: z.string() }), async () => undefined);
    const a = await baton.enqueue(h, { to: "a" }, { key: "welcome:a" });
    expect((await baton.enqueue(h, { to: "a" }, { key: "welcome:a" })).job.id).toBe(a.job.id);
    await engine.complete(a.job.id);
    const b = await baton.enqueue(h, { to: "a" }, { key: "welcome:a" });
    expect(b.deduplicated).toBe(false);
    await engine.complete(b.job.id);
    const kept = await baton.enqueue(h, { to: "a" }, { key: "welcome:a", keyScope: "until-cleaned" });
    expect(kept).toMatchObject({ deduplicated: true, job: { id: b.job.id, state: "succeeded" } });
  });

  it("retry refuses a succeeded or skipped checkpoint unless forced, and keeps max_attempts", async () => {
    const done = await enqueueTask({ maxAttempts: 3 });
    await engine.complete(done.id);
    await expect(op("retry_job", { id: done.id })).rejects.toMatchObject({ code: "INVALID_TRANSITION" });
    const skipped = await enqueueTask({});
    await engine.skip(skipped.id);
    await expect(op("retry_job", { id: skipped.id })).rejects.toMatchObject({ code: "INVALID_TRANSITION" });
    expect((await engine.get(done.id)).state).toBe("succeeded");
    expect((await engine.get(skipped.id)).state).toBe("skipped");

    const forced = (await op("retry_job", { id: done.id, force: true })) as { state: string };
    expect(forced.state).toBe("queued");
    expect((await engine.get(done.id)).maxAttempts).toBe(3);

    // A failed checkpoint is retried without force; its budget is its own.
    const failed = await enqueueTask({ maxAttempts: 1 });
    const [claimed] = await engine.claim({ owner: "agent", types: ["task"] });
    expect(claimed!.job.id).toBe(done.id);
    const [claimedFailed] = await engine.claim({ owner: "agent", types: ["task"] });
    expect(claimedFailed!.job.id).toBe(failed.id);
    await engine.fail(failed.id, { token: claimedFailed!.token, error: "broken" });
    expect((await engine.get(failed.id)).state).toBe("failed");
    await op("retry_job", { id: failed.id });
    const retried = await engine.get(failed.id);
    expect(retried).toMatchObject({ state: "queued", maxAttempts: 1 });
    // Exactly one more attempt: failing it again dead-letters it.
    const [again] = await engine.claim({ owner: "agent", types: ["task"] });
    expect(again!.job.id).toBe(failed.id);
    expect((await engine.fail(failed.id, { token: again!.token, error: "still" })).state).toBe("failed");
  });
});
