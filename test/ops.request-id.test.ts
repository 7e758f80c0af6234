/**
 * Request ids at the operation layer, on both stores: every front-end passes the caller's id
 * as `requestId` in the operation context; a repeat answers the first call and changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getOperation } from "../src/ops/catalogue.js";
import { invoke } from "../src/ops/invoke.js";
import type { OpContext } from "../src/ops/operation.js";
import { testLedgers } from "./helpers/ledgers.js";

const ledgers = testLedgers("ops.request-id");

describe.each(ledgers.kinds)("R-32 request ids (%s)", (kind) => {
  beforeAll(() => ledgers.setup());
  afterAll(() => ledgers.teardown());

  it("R-32 a repeated request answers the first call's outcome; the ledger changes once", async () => {
    const { engine, store } = await ledgers.open(kind);
    try {
      const ctx = (requestId?: string): OpContext => ({
        engine,
        cwd: "/tmp",
        actor: "test",
        location: store.location,
        ...(requestId === undefined ? {} : { requestId }),
      });
      const enqueue = getOperation("enqueue_task")!;
      const complete = getOperation("complete_task")!;
      const batch = { tasks: [{ name: "a" }, { name: "b", priority: 3 }] };
      const first = (await invoke(enqueue, batch, ctx("r-1"))) as { jobs: { id: string }[] };
      expect(await invoke(enqueue, batch, ctx("r-1"))).toEqual(first);
      expect(await store.countJobs({})).toBe(2);

      const ids = first.jobs.map((j) => j.id);
      const done = await invoke(complete, { ids, evidence: "ok" }, ctx("r-2"));
      // complete_task sees the tasks succeeded before it writes (D60), so the repeat answers "already
      // done" for the same jobs and states rather than replaying the recorded write.
      const again = await invoke(complete, { ids, evidence: "ok" }, ctx("r-2"));
      const answered = done as { completed: { id: string; state: string }[]; errors: unknown[] };
      expect(again).toEqual({
        ...answered,
        completed: answered.completed.map((c) => ({ ...c, alreadyDone: true })),
      });
      // A repeat with other arguments is refused even when the task is already done and the call
      // would write nothing (issue 17: complete answered alreadyDone to other evidence and --force).
      for (const other of [
        { ids, evidence: "DIFFERENT" },
        { ids, evidence: "ok", force: true },
      ])
        await expect(invoke(complete, other, ctx("r-2"))).rejects.toMatchObject({
          code: "INVALID_INPUT",
          message: expect.stringContaining("with other arguments"),
        });
      // ...and so is another operation that fails before it writes.
      await expect(invoke(complete, { id: "nope", evidence: "ok" }, ctx("r-1"))).rejects.toMatchObject({
        code: "INVALID_INPUT",
        message: expect.stringContaining("was used for enqueue_task"),
      });
      const events = await store.events({ jobId: ids[0]!, limit: 100 });
      expect(events.filter((e) => e.kind === "completed")).toHaveLength(1);

      // Another call under a used id is refused, and changes nothing.
      await expect(invoke(enqueue, { name: "c" }, ctx("r-2"))).rejects.toMatchObject({
        code: "INVALID_INPUT",
      });
      // The same operation with other arguments under a used id is refused too: answering the first
      // call's result would tell the caller that work was queued which never was.
      await expect(invoke(enqueue, { tasks: [{ name: "other" }] }, ctx("r-1"))).rejects.toMatchObject({
        code: "INVALID_INPUT",
        message: expect.stringContaining("with other arguments"),
      });
      await expect(invoke(enqueue, { name: "c" }, ctx("bad id!"))).rejects.toMatchObject({
        code: "INVALID_INPUT",
      });
      expect(await store.countJobs({})).toBe(2);
      // Without a request id, a call is always a new one.
      await invoke(enqueue, { name: "c" }, ctx());
      await invoke(enqueue, { name: "c" }, ctx());
      expect(await store.countJobs({})).toBe(4);
    } finally {
      await store.close();
    }
  });
});
