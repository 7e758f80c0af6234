/**
 * The library's worker, in one process over a temp SQLite file: typed enqueue, concurrency,
 * priorities, retries, UnrecoverableError, timeouts, lease loss, graceful stop, events, cron.
 */
import { Session } from "node:inspector/promises";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import type { Baton } from "../src/baton.js";
import { openBaton } from "../src/baton.js";
import { BatonError } from "../src/core/errors.js";
import type { Job } from "../src/core/job.js";
import { latestDueSlot } from "../src/worker/cron.js";
import { Cron } from "croner";
import { cronSchedule } from "../src/worker/cron.js";
import { defineHandler, UnrecoverableError } from "../src/worker/handler.js";
import type { Worker } from "../src/worker/worker.js";
import { tempDir } from "./helpers/tmp.js";

const open: Baton[] = [];
const workers: Worker[] = [];

async function ledger(): Promise<Baton> {
  const baton = await openBaton({ home: tempDir("bw-") });
  open.push(baton);
  return baton;
}

function track(worker: Worker): Worker {
  workers.push(worker);
  return worker;
}

afterEach(async () => {
  while (workers.length > 0) await workers.pop()!.stop({ graceMs: 0 });
  while (open.length > 0) await open.pop()!.close();
});

/** Poll until `check` holds (no fixed sleeps: a loaded machine only makes this slower). */
async function until<T>(check: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function finished(baton: Baton, id: string): Promise<Job> {
  return until(async () => {
    const job = await baton.get(id);
    return ["succeeded", "failed", "timed_out", "cancelled"].includes(job.state) ? job : undefined;
  });
}

/** Resolve with the abort reason's message once `signal` aborts. */
function abortReason(signal: AbortSignal): Promise<string> {
  return new Promise((resolve) =>
    signal.addEventListener("abort", () => resolve((signal.reason as Error).message)),
  );
}

/** AbortSignals alive in this process now (V8's queryObjects, after a full collection). */
async function liveAbortSignals(): Promise<number> {
  const session = new Session();
  session.connect();
  try {
    const { result: proto } = await session.post("Runtime.evaluate", { expression: "AbortSignal.prototype" });
    // @types/node types these two answers as void.
    const { objects } = (await session.post("Runtime.queryObjects", {
      prototypeObjectId: proto.objectId!,
      objectGroup: "signals",
    })) as unknown as { objects: { objectId?: string } };
    const { result } = (await session.post("Runtime.callFunctionOn", {
      objectId: objects.objectId!,
      functionDeclaration: "function () { return this.length; }",
      returnByValue: true,
    })) as unknown as { result: { value: unknown } };
    await session.post("Runtime.releaseObjectGroup", { objectGroup: "signals" });
    return result.value as number;
  } finally {
    session.disconnect();
  }
}

const email = z.object({ to: z.string().email() });

describe("typed handlers and enqueue", () => {
  it("enqueues a typed payload and runs its handler with the parsed payload", async () => {
    const baton = await ledger();
    const seen: string[] = [];
    const sendEmail = defineHandler("send_email", email, async (payload, { attempt }) => {
      seen.push(`${payload.to}#${attempt}`);
      return { sent: payload.to };
    });
    const { job, deduplicated } = await baton.enqueue(sendEmail, { to: "a@b.co" }, { key: "welcome:a" });
    expect(deduplicated).toBe(false);
    const again = await baton.enqueue(sendEmail, { to: "a@b.co" }, { key: "welcome:a" });
    expect(again).toMatchObject({ deduplicated: true, job: { id: job.id } });
    await track(baton.worker({ handlers: [sendEmail] })).start();
    const done = await finished(baton, job.id);
    expect(done).toMatchObject({ state: "succeeded", result: { sent: "a@b.co" } });
    expect(seen).toEqual(["a@b.co#1"]);
  });

  it("refuses a payload that does not fit the schema with INVALID_INPUT and writes nothing", async () => {
    const baton = await ledger();
    const sendEmail = defineHandler("send_email", email, async () => undefined);
    // @ts-expect-error -- the payload type is checked at compile time too
    const wrong = baton.enqueue(sendEmail, { to: 42 });
    await expect(wrong).rejects.toMatchObject({ code: "INVALID_INPUT" });
    await expect(baton.enqueue(sendEmail, { to: "not an address" })).rejects.toBeInstanceOf(BatonError);
    expect(await baton.list()).toHaveLength(0);
  });

  it("batch enqueue is one transaction: one bad payload and nothing is written", async () => {
    const baton = await ledger();
    const h = defineHandler("h", z.object({ n: z.number() }), async () => undefined);
    const ok = await baton.enqueueMany(h, [
      { payload: { n: 1 } },
      { payload: { n: 2 }, options: { priority: 3 } },
    ]);
    expect(ok).toHaveLength(2);
    await expect(
      baton.enqueueMany(h, [{ payload: { n: 3 } }, { payload: { n: "x" as unknown as number } }]),
    ).rejects.toMatchObject({ code: "INVALID_INPUT" });
    expect(await baton.list()).toHaveLength(2);
  });
});

describe("worker", () => {
  it("runs up to `concurrency` handlers at once and never more, per-type limits included", async () => {
    const baton = await ledger();
    let now = 0;
    let peak = 0;
    let peakNarrow = 0;
    let narrowNow = 0;
    const wide = defineHandler("wide", z.object({ i: z.number() }), async () => {
      peak = Math.max(peak, ++now);
      await new Promise((r) => setTimeout(r, 30));
      now--;
    });
    const narrow = defineHandler(
      "narrow",
      z.object({ i: z.number() }),
      async () => {
        peakNarrow = Math.max(peakNarrow, ++narrowNow);
        peak = Math.max(peak, ++now);
        await new Promise((r) => setTimeout(r, 30));
        narrowNow--;
        now--;
      },
      { concurrency: 1 },
    );
    await baton.enqueueMany(
      wide,
      Array.from({ length: 24 }, (_, i) => ({ payload: { i } })),
    );
    await baton.enqueueMany(
      narrow,
      Array.from({ length: 6 }, (_, i) => ({ payload: { i } })),
    );
    await track(baton.worker({ handlers: [wide, narrow], concurrency: 4 })).start();
    await until(async () => (await baton.engine.count({ states: ["succeeded"] })) === 30);
    expect(peak).toBeLessThanOrEqual(4);
    expect(peak).toBeGreaterThan(1);
    expect(peakNarrow).toBe(1);
  });

  it("claims in priority order, then by due time", async () => {
    const baton = await ledger();
    const order: number[] = [];
    const h = defineHandler("p", z.object({ n: z.number() }), async ({ n }) => {
      order.push(n);
    });
    await baton.enqueue(h, { n: 1 }, { priority: 0 });
    await baton.enqueue(h, { n: 2 }, { priority: 10 });
    await baton.enqueue(h, { n: 3 }, { priority: -5 });
    await baton.enqueue(h, { n: 4 }, { priority: 10 });
    await baton.enqueue(h, { n: 5 }, { priority: 5 });
    await track(baton.worker({ handlers: [h], concurrency: 1 })).start();
    await until(() => (order.length === 5 ? true : undefined));
    expect(order).toEqual([2, 4, 5, 1, 3]);
  });

  it("retries a failing handler with the job's backoff, then succeeds; events say so", async () => {
    const baton = await ledger();
    let calls = 0;
    const flaky = defineHandler(
      "flaky",
      z.object({}),
      async (_p, { attempt }) => {
        calls++;
        if (attempt < 3) throw new Error(`boom ${attempt}`);
        return "ok";
      },
      { maxAttempts: 5, backoff: { baseMs: 10, jitter: 0 } },
    );
    const { job } = await baton.enqueue(flaky, {});
    const worker = track(baton.worker({ handlers: [flaky], pollMs: 50 }));
    const events: string[] = [];
    worker.on("active", (j, attempt) => events.push(`active ${attempt}`));
    worker.on("failed", (j, error) => events.push(`failed ${j.state} ${error.message}`));
    worker.on("completed", (j, result) => events.push(`completed ${String(result)}`));
    await worker.start();
    const done = await finished(baton, job.id);
    expect(done.state).toBe("succeeded");
    expect(calls).toBe(3);
    expect(events).toEqual([
      "active 1",
      "failed retrying boom 1",
      "active 2",
      "failed retrying boom 2",
      "active 3",
      "completed ok",
    ]);
  });

  it("UnrecoverableError fails the job at once, leaving its other attempts unspent", async () => {
    const baton = await ledger();
    const h = defineHandler(
      "bad",
      z.object({}),
      async () => {
        throw new UnrecoverableError("no such user");
      },
      { maxAttempts: 5 },
    );
    const { job } = await baton.enqueue(h, {});
    await track(baton.worker({ handlers: [h] })).start();
    const done = await finished(baton, job.id);
    expect(done).toMatchObject({ state: "failed", attempts: 1, error: "no such user" });
  });

  it("a payload that no longer fits the schema (enqueued raw) fails without retries", async () => {
    const baton = await ledger();
    const h = defineHandler("strict", email, async () => "never");
    const [outcome] = await baton.enqueue({ type: "strict", payload: { to: 1 }, maxAttempts: 4 });
    await track(baton.worker({ handlers: [h] })).start();
    const done = await finished(baton, outcome!.job.id);
    expect(done.state).toBe("failed");
    expect(done.attempts).toBe(1);
    expect(done.error).toMatch(/schema/);
  });

  it("aborts the signal on timeout and records a timeout", async () => {
    const baton = await ledger();
    let reason = "";
    const h = defineHandler(
      "slow",
      z.object({}),
      async (_p, { signal }) => {
        reason = await abortReason(signal);
      },
      { timeoutMs: 100, maxAttempts: 1 },
    );
    const { job } = await baton.enqueue(h, {});
    await track(baton.worker({ handlers: [h] })).start();
    const done = await finished(baton, job.id);
    expect(done.state).toBe("timed_out");
    await until(() => (reason === "" ? undefined : true));
    expect(reason).toMatch(/timed out/);
  });

  it("makes no AbortSignal for a handler that never reads its signal; one read after an abort is aborted", async () => {
    const baton = await ledger();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    let running = 0;
    const quiet = defineHandler("quiet", z.object({}), async () => {
      running++;
      await gate;
    });
    let late: { aborted: boolean; reason: string } | undefined;
    const slow = defineHandler(
      "late_reader",
      z.object({}),
      async (_p, context) => {
        // The signal is read only once the timeout has been recorded.
        await until(async () => ((await baton.get(timedOut)).state === "timed_out" ? true : undefined));
        late = { aborted: context.signal.aborted, reason: (context.signal.reason as Error).message };
      },
      { timeoutMs: 100, maxAttempts: 1 },
    );
    for (let i = 0; i < 20; i++) await baton.enqueue(quiet, {});
    const worker = track(baton.worker({ handlers: [quiet], concurrency: 20 }));
    const before = await liveAbortSignals();
    await worker.start();
    await until(() => (running === 20 ? true : undefined));
    // 20 handlers hold their slots: none of them read `signal`, so none has one.
    expect((await liveAbortSignals()) - before).toBeLessThan(5);
    release();
    await until(() => (worker.activeCount === 0 ? true : undefined));
    const timedOut = (await baton.enqueue(slow, {})).job.id;
    await track(baton.worker({ handlers: [slow] })).start();
    await until(() => late);
    expect(late).toEqual({ aborted: true, reason: "timed out after 100 ms" });
  });

  it("aborts the signal when the lease is lost (job cancelled by someone else) and records nothing more", async () => {
    const baton = await ledger();
    let aborted: string | undefined;
    const started: string[] = [];
    const h = defineHandler("long", z.object({}), async (_p, { signal, job }) => {
      started.push(job.id);
      aborted = await abortReason(signal);
      return "late result";
    });
    const { job } = await baton.enqueue(h, {});
    const worker = track(baton.worker({ handlers: [h], leaseMs: 3000, heartbeatMs: 50 }));
    const lost: string[] = [];
    worker.on("lost", (id) => lost.push(id));
    await worker.start();
    await until(() => (started.length === 1 ? true : undefined));
    await baton.cancel(job.id, { error: "operator cancel" });
    await until(() => (aborted === undefined ? undefined : true));
    expect(aborted).toMatch(/lease lost/);
    expect(lost).toEqual([job.id]);
    await until(() => (worker.activeCount === 0 ? true : undefined));
    const after = await baton.get(job.id);
    expect(after.state).toBe("cancelled");
    expect(after.result).toBeNull();
  });

  it("stop() lets running handlers finish within the grace period", async () => {
    const baton = await ledger();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const h = defineHandler("gated", z.object({}), async () => {
      await gate;
      return "finished";
    });
    const { job } = await baton.enqueue(h, {});
    const worker = baton.worker({ handlers: [h] });
    await worker.start();
    await until(() => (worker.activeCount === 1 ? true : undefined));
    const stopping = worker.stop({ graceMs: 30_000 });
    setTimeout(release, 50);
    await stopping;
    expect(await baton.get(job.id)).toMatchObject({ state: "succeeded", result: "finished" });
  });

  it("stop() gives back jobs still running after the grace, aborting them, without spending the attempt", async () => {
    const baton = await ledger();
    let reason = "";
    const h = defineHandler(
      "stubborn",
      z.object({}),
      async (_p, { signal }) => {
        reason = await abortReason(signal);
      },
      { maxAttempts: 1 },
    );
    const { job } = await baton.enqueue(h, {});
    const worker = baton.worker({ handlers: [h] });
    const released: string[] = [];
    worker.on("released", (j) => released.push(j.id));
    await worker.start();
    await until(() => (worker.activeCount === 1 ? true : undefined));
    await worker.stop({ graceMs: 50 });
    expect(reason).toMatch(/shutdown/);
    expect(released).toEqual([job.id]);
    expect(await baton.get(job.id)).toMatchObject({ state: "queued", attempts: 0 });
    // Another worker picks it up and may still use its one attempt.
    const next = defineHandler("stubborn", z.object({}), async () => "second worker");
    await track(baton.worker({ handlers: [next] })).start();
    expect(await finished(baton, job.id)).toMatchObject({ state: "succeeded", result: "second worker" });
  });

  it("claims only the types it has handlers for; other jobs stay for agents", async () => {
    const baton = await ledger();
    const h = defineHandler("mine", z.object({}), async () => "done");
    const [other] = await baton.enqueue({ type: "edit_file", payload: { path: "a.ts" } });
    const { job } = await baton.enqueue(h, {});
    await track(baton.worker({ handlers: [h] })).start();
    await finished(baton, job.id);
    expect((await baton.get(other!.job.id)).state).toBe("queued");
  });

  it("rate limit: at most `max` starts per interval in one process", async () => {
    const baton = await ledger();
    const starts: number[] = [];
    const h = defineHandler(
      "limited",
      z.object({ i: z.number() }),
      async () => {
        starts.push(Date.now());
      },
      { rateLimit: { max: 2, intervalMs: 400 } },
    );
    const enqueuedAt = Date.now();
    await baton.enqueueMany(
      h,
      Array.from({ length: 6 }, (_, i) => ({ payload: { i } })),
    );
    await track(baton.worker({ handlers: [h], concurrency: 6 })).start();
    await until(() => (starts.length === 6 ? true : undefined));
    // Six starts at two per 400 ms need two further windows after the first (a lower bound:
    // a slow machine only stretches it; without the limit it takes milliseconds).
    expect(Math.max(...starts) - enqueuedAt).toBeGreaterThanOrEqual(800);
  });
});

describe("cron", () => {
  it("latestDueSlot fires once for missed slots: the latest one", () => {
    const cron = new Cron("*/10 * * * * *", { paused: true });
    const base = Date.parse("2026-01-01T00:00:00Z");
    expect(latestDueSlot(cron, base, base + 9_000)).toBeUndefined();
    expect(latestDueSlot(cron, base, base + 35_000)).toBe(base + 30_000);
  });

  it("refuses a bad cron expression with INVALID_INPUT", async () => {
    const baton = await ledger();
    const h = defineHandler("t", z.object({}), async () => undefined);
    expect(() =>
      baton.worker({
        handlers: [h],
        schedules: [cronSchedule({ name: "x", cron: "not cron", handler: h, payload: {} })],
      }),
    ).toThrow(BatonError);
  });

  it("two workers on one ledger fire each slot of a schedule once", async () => {
    const baton = await ledger();
    const h = defineHandler("tick", z.object({}), async () => "tock");
    const schedule = cronSchedule({ name: "every-second", cron: "* * * * * *", handler: h, payload: {} });
    const a = track(baton.worker({ handlers: [h], schedules: [schedule] }));
    const other = await openBaton({ home: baton.home });
    open.push(other);
    const b = track(other.worker({ handlers: [h], schedules: [schedule] }));
    await Promise.all([a.start(), b.start()]);
    await until(async () =>
      (await baton.engine.count({ types: ["tick"], states: ["succeeded"] })) >= 2 ? true : undefined,
    );
    const jobs = await baton.list({ types: ["tick"] }, { limit: 1000 });
    const keys = jobs.map((j) => j.idempotencyKey);
    expect(new Set(keys).size).toBe(keys.length);
    expect(jobs.every((j) => j.tags.includes("schedule:every-second"))).toBe(true);
  });
});
