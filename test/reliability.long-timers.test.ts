/**
 * timeouts, leases, delays and heartbeats of 25 days, 1 year and 10 years. Node's timers
 * hold at most 2^31−1 ms (24.8 days) and replace anything longer with 1 ms: a 25-day timeout fired
 * at once and a 90-day lease heartbeated in a 1 ms loop. The timer helper chains Node timers (the
 * fake clock below reproduces Node's overflow, so it proves the chaining), and the worker, the
 * supervisor and the CLI are checked for real over a temp SQLite file.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import type { Baton } from "../src/baton.js";
import { openBaton } from "../src/baton.js";
import { BatonError } from "../src/core/errors.js";
import {
  after,
  DurationOutOfRangeError,
  every,
  MAX_DURATION_MS,
  MAX_NODE_TIMER_MS,
  sleep,
} from "../src/core/timer.js";
import { parseTimerDuration } from "../src/core/duration.js";
import type { BatchOp } from "../src/store/types.js";
import { defineHandler } from "../src/worker/handler.js";
import type { Worker } from "../src/worker/worker.js";
import { cli, cliJson, jobRow, jobRows, newHome } from "./helpers/supervisor.js";
import { tempDir } from "./helpers/tmp.js";

const DAY = 86_400_000;
const LONG = [
  ["25 days", 25 * DAY],
  ["1 year", 365 * DAY],
  ["10 years", 3_650 * DAY],
] as const;

describe("R-34 the timer helper (a fake clock with Node's 2^31−1 ms overflow)", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("the fake clock overflows like Node: a raw 25-day setTimeout fires within a millisecond", () => {
    vi.useFakeTimers();
    let fired = false;
    setTimeout(() => (fired = true), 25 * DAY);
    vi.advanceTimersByTime(2);
    expect(fired).toBe(true);
  });

  it.each(LONG)("after(%s) fires exactly then, not a millisecond earlier", (_, ms) => {
    vi.useFakeTimers();
    let fired = 0;
    after(ms, () => fired++);
    vi.advanceTimersByTime(ms - 1);
    expect(fired).toBe(0);
    vi.advanceTimersByTime(1);
    expect(fired).toBe(1);
    vi.advanceTimersByTime(ms * 2);
    expect(fired).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it.each(LONG)("every(%s) fires once per period and stops when cancelled", (_, ms) => {
    vi.useFakeTimers();
    let fired = 0;
    const timer = every(ms, () => fired++);
    vi.advanceTimersByTime(ms - 1);
    expect(fired).toBe(0);
    vi.advanceTimersByTime(1);
    expect(fired).toBe(1);
    vi.advanceTimersByTime(ms * 2);
    expect(fired).toBe(3);
    timer.cancel();
    vi.advanceTimersByTime(ms * 2);
    expect(fired).toBe(3);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("a cancelled long timer never fires, even mid-chain", () => {
    vi.useFakeTimers();
    let fired = false;
    const timer = after(365 * DAY, () => (fired = true));
    vi.advanceTimersByTime(MAX_NODE_TIMER_MS + 10);
    timer.cancel();
    vi.advanceTimersByTime(400 * DAY);
    expect(fired).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("sleep with a signal leaves no timer once aborted", async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    const slept = sleep(10_000, { signal: controller.signal });
    expect(vi.getTimerCount()).toBe(1);
    controller.abort();
    await slept;
    expect(vi.getTimerCount()).toBe(0);
  });

  it("refuses absurd durations with DURATION_OUT_OF_RANGE", () => {
    for (const bad of [MAX_DURATION_MS + 1, 11 * 365 * DAY, Number.POSITIVE_INFINITY, Number.NaN]) {
      expect(() => after(bad, () => undefined)).toThrow(DurationOutOfRangeError);
      expect(() => every(bad, () => undefined)).toThrow(DurationOutOfRangeError);
    }
    try {
      after(20 * 365 * DAY, () => undefined);
    } catch (error) {
      expect((error as BatonError).code).toBe("DURATION_OUT_OF_RANGE");
      expect((error as BatonError).exitCode).toBe(2);
    }
    // Exactly 10 years is allowed.
    after(MAX_DURATION_MS, () => undefined).cancel();
  });

  it("docs/commands.md states the limit the code keeps: 3652d12h passes, a millisecond more does not", () => {
    // The page said `3650d`/`10y` were the limit; the code's is 10 years of 365.25 days.
    const docs = readFileSync(join(import.meta.dirname, "..", "docs", "commands.md"), "utf8").replace(
      /\s+/g,
      " ",
    );
    expect(docs).toContain("up to 10 years of 365.25 days: 3,652.5 days (`3652d12h`");
    expect(docs).toContain(`${MAX_DURATION_MS.toLocaleString("en-US")} ms`);
    expect(parseTimerDuration("3652d12h", "--timeout")).toBe(MAX_DURATION_MS);
    expect(parseTimerDuration("10y2d12h", "--timeout")).toBe(MAX_DURATION_MS);
    expect(() => parseTimerDuration("3652d12h1ms", "--timeout")).toThrow(DurationOutOfRangeError);
  });
});

describe("R-34 the library worker with long timeouts and leases", () => {
  const open: Baton[] = [];
  const workers: Worker[] = [];
  afterEach(async () => {
    while (workers.length > 0) await workers.pop()!.stop({ graceMs: 0 });
    while (open.length > 0) await open.pop()!.close();
  });

  async function ledger(): Promise<Baton> {
    const baton = await openBaton({ home: tempDir("blt-") });
    open.push(baton);
    return baton;
  }

  /** Count the heartbeats that reach the store (one per op, batched or not), passing them on. */
  function countHeartbeats(baton: Baton): () => number {
    let n = 0;
    const store = baton.store;
    const batch = store.batch.bind(store);
    const heartbeat = store.heartbeat.bind(store);
    store.batch = (ops: readonly BatchOp[]) => {
      n += ops.filter((o) => o.kind === "heartbeat").length;
      return batch(ops);
    };
    store.heartbeat = (jobId: string, token: string, leaseMs: number) => {
      n++;
      return heartbeat(jobId, token, leaseMs);
    };
    return () => n;
  }

  it.each(LONG)(
    "a job with a %s timeoutMs runs to its end (1.5 s) and succeeds, not timed out",
    async (_, ms) => {
      const baton = await ledger();
      const slow = defineHandler("slow", z.object({}), async () => {
        await new Promise((r) => setTimeout(r, 1500));
        return { done: true };
      });
      const { job } = await baton.enqueue(slow, {}, { timeoutMs: ms });
      const worker = baton.worker({ handlers: [slow] });
      workers.push(worker);
      const completed = new Promise<void>((resolve) => worker.on("completed", () => resolve()));
      await worker.start();
      await completed;
      const done = await baton.get(job.id);
      expect(done.state).toBe("succeeded");
      expect(done.error).toBeNull();
    },
  );

  it("a handler's own 30-day timeoutMs does not fire at once either", async () => {
    const baton = await ledger();
    const slow = defineHandler(
      "slow",
      z.object({}),
      async () => {
        await new Promise((r) => setTimeout(r, 1500));
      },
      { timeoutMs: 30 * DAY },
    );
    const { job } = await baton.enqueue(slow, {});
    const worker = baton.worker({ handlers: [slow] });
    workers.push(worker);
    const completed = new Promise<void>((resolve) => worker.on("completed", () => resolve()));
    await worker.start();
    await completed;
    expect((await baton.get(job.id)).state).toBe("succeeded");
  });

  it("a worker with a 90-day lease holds it for 90 days and sends no heartbeat storm", async () => {
    const baton = await ledger();
    const heartbeats = countHeartbeats(baton);
    let leaseSeen: number | null = null;
    const slow = defineHandler("slow", z.object({}), async (_payload, { job }) => {
      leaseSeen = (await baton.get(job.id)).leaseExpiresAt;
      await new Promise((r) => setTimeout(r, 1500));
    });
    const { job } = await baton.enqueue(slow, {});
    const worker = baton.worker({ handlers: [slow], leaseMs: 90 * DAY });
    workers.push(worker);
    const completed = new Promise<void>((resolve) => worker.on("completed", () => resolve()));
    const started = Date.now();
    await worker.start();
    await completed;
    // Before the fix: a 30-day heartbeat period overflowed to 1 ms (1,326 heartbeats in 1.5 s).
    expect(heartbeats()).toBe(0);
    expect(leaseSeen! - started).toBeGreaterThan(89 * DAY);
    expect((await baton.get(job.id)).state).toBe("succeeded");
  });

  it("refuses absurd timeouts, leases, delays and heartbeats with a typed error, writing nothing", async () => {
    const baton = await ledger();
    const h = defineHandler("h", z.object({}), async () => undefined);
    const absurd = 11 * 365 * DAY;
    for (const spec of [
      { type: "h", timeoutMs: absurd },
      { type: "h", delayMs: absurd },
    ]) {
      await expect(baton.enqueue(spec)).rejects.toMatchObject({ code: "DURATION_OUT_OF_RANGE" });
    }
    expect(await baton.list()).toEqual([]);
    expect(() => baton.worker({ handlers: [h], leaseMs: absurd })).toThrow(DurationOutOfRangeError);
    expect(() => baton.worker({ handlers: [h], heartbeatMs: absurd })).toThrow(DurationOutOfRangeError);
    const longTimeout = defineHandler("h", z.object({}), async () => undefined, { timeoutMs: absurd });
    expect(() => baton.worker({ handlers: [longTimeout] })).toThrow(DurationOutOfRangeError);
    await expect(baton.claim({ owner: "me", leaseMs: absurd })).rejects.toMatchObject({
      code: "DURATION_OUT_OF_RANGE",
    });
    const job = (await baton.enqueue({ type: "agentish" }))[0]!.job;
    const [claimed] = await baton.claim({ owner: "me", types: ["agentish"] });
    expect(claimed!.job.id).toBe(job.id);
    await expect(baton.heartbeat(job.id, claimed!.token, absurd)).rejects.toMatchObject({
      code: "DURATION_OUT_OF_RANGE",
    });
    // A 10-year lease is fine.
    const { leaseExpiresAt } = await baton.heartbeat(job.id, claimed!.token, 3_650 * DAY);
    expect(leaseExpiresAt - Date.now()).toBeGreaterThan(3_649 * DAY);
  });
});

describe("R-34 baton run --timeout (real daemon)", () => {
  it("a command with --timeout 25d runs to its end; 3650d too; 4000d is refused before anything is written", async () => {
    const home = newHome();
    const run = cliJson(home, ["run", "--timeout", "25d", "--", "sleep", "3"]);
    const tenYears = cliJson(home, ["run", "--timeout", "3650d", "--", "sleep", "1"]);
    const waited = cli(home, ["wait", run.id]);
    expect(waited.code).toBe(0);
    expect(jobRow(home, run.id)).toMatchObject({ state: "succeeded", error: null });
    expect(cli(home, ["wait", tenYears.id]).code).toBe(0);
    expect(jobRow(home, tenYears.id)).toMatchObject({ state: "succeeded", error: null });

    const refused = cli(home, ["run", "--json", "--timeout", "4000d", "--", "true"]);
    expect(refused.code).toBe(2);
    expect(JSON.parse(refused.stdout).error.code).toBe("DURATION_OUT_OF_RANGE");
    // Said in the unit typed, and years are a unit: 1y runs, 11y is refused in years.
    const year = cliJson(home, ["run", "--timeout", "1y", "--", "true"]);
    expect(cli(home, ["wait", year.id]).code).toBe(0);
    const elevenYears = cli(home, ["run", "--timeout", "11y", "--", "true"]);
    expect(elevenYears.code).toBe(2);
    expect(elevenYears.stderr).toContain("--timeout 11y is more than the 10-year limit");
    expect(elevenYears.stderr).not.toMatch(/\d{9,}/);
    const idle = cli(home, ["run", "--json", "--idle-timeout", "4000d", "--", "true"]);
    expect(idle.code).toBe(2);
    expect(JSON.parse(idle.stdout).error.code).toBe("DURATION_OUT_OF_RANGE");
    expect(jobRows(home)).toHaveLength(3);
  });
});

describe("durations shorter than a millisecond, and a timed-out job's exit code (real daemon)", () => {
  it("--timeout 0.5ms (and other fractions of a ms) is refused naming --timeout; wait --timeout 11y too", () => {
    // Issue 17 (tester finding): 0.5ms was rounded to 1 ms and the run ended timed_out with exit 0;
    // `wait --timeout 11y` was accepted where every other duration stops at 10 years.
    const home = newHome();
    for (const given of ["0.5ms", "1.5ms", "0.0001s", "0.0005"]) {
      const refused = cli(home, ["run", "--json", "--timeout", given, "--", "true"]);
      expect(refused.code, refused.stdout).toBe(2);
      expect(JSON.parse(refused.stdout).error).toMatchObject({
        code: "INVALID_INPUT",
        message: `--timeout '${given}' is not a whole number of milliseconds: the shortest duration is 1ms`,
      });
    }
    const job = cliJson(home, ["run", "--", "true"]);
    expect(cli(home, ["wait", job.id, "--timeout", "30s"]).code).toBe(0);
    const years = cli(home, ["wait", job.id, "--timeout", "11y", "--json"]);
    expect(years.code, years.stdout).toBe(2);
    expect(JSON.parse(years.stdout).error).toMatchObject({
      code: "DURATION_OUT_OF_RANGE",
      message: "--timeout 11y is more than the 10-year limit (3652.5 days); for no limit, leave it out",
    });
    const fraction = cli(home, ["wait", job.id, "--timeout", "0.5ms", "--json"]);
    expect(JSON.parse(fraction.stdout).error.message).toContain("--timeout '0.5ms' is not a whole number");
    expect(jobRows(home)).toHaveLength(1);
  });

  it("a 1 ms timeout racing `true`: every run's state and exit code agree (timed_out never exits 0)", () => {
    const home = newHome();
    for (let i = 0; i < 8; i++) {
      const r = cli(home, ["run", "--timeout", "1ms", "--wait", "--json", "--", "true"]);
      const data = JSON.parse(r.stdout).data as {
        id: string;
        state: string;
        exitCode?: number;
        exitsWith: number;
      };
      expect([data.state, data.exitsWith, r.code], r.stdout).toEqual(
        data.state === "succeeded" ? ["succeeded", 0, 0] : ["timed_out", 124, 124],
      );
      // exitCode is the command's own, as `wait --json` and `status` give it (D151).
      const status = cliJson(home, ["status", data.id]);
      expect(data.exitCode).toBe(status.exitCode);
      if (status.state === "timed_out") expect(status.exitCode).toBeUndefined();
    }
  });
});
