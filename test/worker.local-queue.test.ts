/**
 * The worker's claim-ahead local queue (D104), on both stores: jobs claimed beyond the free slots
 * are held under live leases of this worker; `stop()` gives the unstarted ones back without
 * spending an attempt; a held job not started within the ttl is given back; no job runs twice;
 * a worker of long jobs holds none.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import type { Engine } from "../src/engine/engine.js";
import { defineHandler } from "../src/worker/handler.js";
import type { WorkerOptions } from "../src/worker/worker.js";
import { Worker } from "../src/worker/worker.js";
import { testLedgers } from "./helpers/ledgers.js";

const ledgers = testLedgers("worker.local-queue");

async function until<T>(check: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function enqueue(engine: Engine, n: number): Promise<string[]> {
  const out = await engine.enqueue(Array.from({ length: n }, (_, i) => ({ type: "lq", payload: { i } })));
  return out.map((o) => o.job.id);
}

/** A handler that records every run and blocks on the run numbers in `gates` until opened. */
function gated(gates: Map<number, Promise<void>>) {
  const runs: string[] = [];
  const handler = defineHandler("lq", z.object({ i: z.number() }), async (_payload, { job }) => {
    runs.push(job.id);
    await gates.get(runs.length);
  });
  return { handler, runs };
}

function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

describe.each(ledgers.kinds)("worker local queue (%s)", (kind) => {
  beforeAll(() => ledgers.setup());
  afterAll(() => ledgers.teardown());

  it("holds jobs ahead under this worker's live leases; stop() gives them back unspent; each job runs once", async () => {
    const { engine, store } = await ledgers.open(kind);
    try {
      const ids = await enqueue(engine, 60);
      const g = gate();
      const { handler, runs } = gated(new Map([[4, g.promise]]));
      const options: WorkerOptions = { handlers: [handler], concurrency: 1, owner: "w1" };
      const worker = new Worker(engine, options);
      await worker.start();
      await until(() => runs.length === 4);
      // The first three outcomes committed (they may still be on their way when run 4 starts).
      await until(async () => (await engine.count({ states: ["succeeded"] })) === 3);
      // Three quick runs measured the handler time: the worker holds jobs ahead of its one slot.
      expect(worker.heldCount).toBeGreaterThan(0);
      const running = await engine.list({ states: ["running"] }, { limit: 1000 });
      expect(running).toHaveLength(1 + worker.heldCount);
      const now = engine.clock.now();
      for (const job of running) {
        expect(job.leaseOwner).toBe("w1");
        expect(job.leaseExpiresAt!).toBeGreaterThan(now);
      }
      const held = running.map((j) => j.id).filter((id) => id !== runs[3]);
      const stopping = worker.stop({ graceMs: 0 });
      g.open();
      await stopping;
      // Every held job is back in the queue with its attempt unspent and a 'released' event.
      for (const id of held) {
        const job = await engine.get(id);
        expect(job.state).toBe("queued");
        expect(job.attempts).toBe(0);
        const kinds = (await engine.events({ jobId: id, limit: 100 })).map((e) => e.kind);
        expect(kinds).toContain("released");
      }
      // A second worker runs the rest: every job ran exactly once in all (the 4th possibly twice:
      // stop() aborted it after the grace and gave it back, as without a local queue).
      const second = gated(new Map());
      const w2 = new Worker(engine, { handlers: [second.handler], concurrency: 4, owner: "w2" });
      await w2.start();
      await until(async () => (await engine.count({ states: ["succeeded"] })) === ids.length);
      await w2.stop();
      const all = [...runs, ...second.runs];
      const counts = new Map<string, number>();
      for (const id of all) counts.set(id, (counts.get(id) ?? 0) + 1);
      for (const [id, n] of counts) if (id !== runs[3]) expect(n, id).toBe(1);
      expect(new Set(all).size).toBe(ids.length);
      expect(held.some((id) => second.runs.includes(id))).toBe(true);
    } finally {
      await store.close();
    }
  });

  it("a held job not started within localQueueTtlMs is given back while the slot stays busy", async () => {
    const { engine, store } = await ledgers.open(kind);
    try {
      const ids = await enqueue(engine, 30);
      const g = gate();
      const { handler, runs } = gated(new Map([[3, g.promise]]));
      const worker = new Worker(engine, {
        handlers: [handler],
        concurrency: 1,
        owner: "w1",
        localQueueTtlMs: 300,
      });
      await worker.start();
      await until(() => runs.length === 3);
      // The slot is busy on run 3; the held jobs pass the ttl and go back to the queue.
      await until(async () => worker.heldCount === 0 && (await engine.count({ states: ["running"] })) === 1);
      // ...and stay there while the slot is busy: no claiming ahead again until a handler returns
      // (it used to claim them again at the next wake and give them back every ttl).
      await new Promise((r) => setTimeout(r, 1500));
      expect(worker.heldCount).toBe(0);
      expect(await engine.count({ states: ["queued"] })).toBe(ids.length - 3);
      const rest = ids.filter((id) => !runs.includes(id));
      const releases = await Promise.all(
        rest.map(
          async (id) =>
            (await engine.events({ jobId: id, limit: 100 })).filter((e) => e.kind === "released").length,
        ),
      );
      expect(Math.max(...releases)).toBeLessThanOrEqual(1);
      g.open();
      await until(async () => (await engine.count({ states: ["succeeded"] })) === ids.length);
      await worker.stop();
      expect(runs).toHaveLength(ids.length);
      expect(new Set(runs).size).toBe(ids.length);
      const attempts = await Promise.all(ids.map((id) => engine.get(id).then((j) => j.attempts)));
      expect(attempts.every((n) => n === 1)).toBe(true);
    } finally {
      await store.close();
    }
  });

  it("jobs enqueued in-process while every slot is busy are claimed ahead, even after a short claim", async () => {
    const { engine, store } = await ledgers.open(kind);
    try {
      await enqueue(engine, 3);
      const g = gate();
      const { handler, runs } = gated(new Map([[3, g.promise]]));
      const worker = new Worker(engine, { handlers: [handler], concurrency: 1 });
      await worker.start();
      // Runs 1 and 2 measure the handler; the claim ahead finds only one job (a short claim).
      await until(() => runs.length === 3);
      const more = await enqueue(engine, 20);
      await until(() => worker.heldCount > 0);
      const running = await engine.list({ states: ["running"] }, { limit: 100 });
      expect(running.map((j) => j.id).filter((id) => more.includes(id)).length).toBe(worker.heldCount);
      g.open();
      await until(async () => (await engine.count({ states: ["succeeded"] })) === 23);
      await worker.stop();
      expect(new Set(runs).size).toBe(23);
      expect(runs).toHaveLength(23);
    } finally {
      await store.close();
    }
  });

  it("a worker whose handlers take longer than the ttl holds nothing ahead; localQueue 0 turns it off", async () => {
    const { engine, store } = await ledgers.open(kind);
    try {
      await enqueue(engine, 6);
      const held: number[] = [];
      const ref: { worker?: Worker } = {};
      const slow = defineHandler("lq", z.object({ i: z.number() }), async () => {
        held.push(ref.worker!.heldCount);
        await new Promise((r) => setTimeout(r, 250));
      });
      const worker = new Worker(engine, { handlers: [slow], concurrency: 1, localQueueTtlMs: 200 });
      ref.worker = worker;
      await worker.start();
      await until(async () => (await engine.count({ states: ["succeeded"] })) === 3);
      await worker.stop();
      expect(held.every((n) => n === 0)).toBe(true);

      const quick = gated(new Map());
      const off = new Worker(engine, { handlers: [quick.handler], concurrency: 1, localQueue: 0 });
      const seen: number[] = [];
      off.on("active", () => seen.push(off.heldCount));
      await off.start();
      await until(async () => (await engine.count({ states: ["succeeded"] })) === 6);
      await off.stop();
      expect(seen.every((n) => n === 0)).toBe(true);
      expect(() => new Worker(engine, { handlers: [quick.handler], localQueue: -1 })).toThrow(/localQueue/);
    } finally {
      await store.close();
    }
  });
});
