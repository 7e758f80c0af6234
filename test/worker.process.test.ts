/**
 * Workers in real OS processes sharing one SQLite file: a worker killed with SIGKILL mid-job loses
 * its jobs to another worker once the lease expires, each completed exactly once; a rate limit holds
 * across processes.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { openEngine } from "../src/open.js";
import type { FixtureLibrary } from "./fixtures/library.js";
import { buildFixtureLibrary } from "./fixtures/library.js";
import { tempDir } from "./helpers/tmp.js";

const FIXTURE = join(import.meta.dirname, "fixtures", "worker-process.mjs");
let library: FixtureLibrary | undefined;
const children: ChildProcess[] = [];

beforeAll(async () => {
  library = await buildFixtureLibrary("index.ts");
});
afterAll(() => library?.remove());
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
});

/** Start a worker process; resolves once it says it is ready. */
function startWorker(home: string, mode: string, out: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [FIXTURE, library!.url, home, mode, out], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => {
      if (d.toString().includes("ready")) resolve(child);
    });
    child.once("exit", (code) => reject(new Error(`worker exited ${code}: ${stderr}`)));
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((r) => child.once("exit", (code) => r(code)));
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 45_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("workers in separate processes", () => {
  it("a worker killed mid-job: after lease expiry another process completes each job exactly once", async () => {
    const home = tempDir("bwp-");
    const out = tempDir("bwp-out-");
    const { engine, store } = await openEngine({ home });
    try {
      const outcomes = await engine.enqueue(
        Array.from({ length: 12 }, (_, n) => ({
          type: "slow",
          payload: { n },
          maxAttempts: 3,
          backoff: { baseMs: 10, jitter: 0 },
        })),
      );
      const ids = outcomes.map((o) => o.job.id);
      const doomed = await startWorker(home, "hang", out);
      // It holds four jobs (its concurrency) when it dies.
      await until(() => readdirSync(out).filter((f) => f.startsWith("started-")).length === 4);
      doomed.kill("SIGKILL");
      await exited(doomed);
      const held = readdirSync(out)
        .filter((f) => f.startsWith("started-"))
        .map((f) => f.slice("started-".length));

      const survivor = await startWorker(home, "work", out);
      await until(async () => (await engine.count({ states: ["succeeded"] })) === 12);
      survivor.kill("SIGTERM");
      expect(await exited(survivor)).toBe(0);

      const lines = readFileSync(join(out, "done.log"), "utf8").trim().split("\n");
      const done = lines.map((l) => l.split(" ")[0]!);
      expect(done.sort()).toEqual([...ids].sort());
      for (const id of held) {
        const attempts = await engine.attempts(id);
        expect(attempts.map((a) => a.outcome)).toEqual(["crashed", "succeeded"]);
      }
      expect(existsSync(join(out, "done.log"))).toBe(true);
    } finally {
      await store.close();
    }
  });

  it("R-17 poison pill: a job that kills its worker every time is dead-lettered; 1,000 others complete; redrive works", async () => {
    const home = tempDir("bwq-");
    const out = tempDir("bwq-out-");
    const { engine, store } = await openEngine({ home });
    try {
      const normal = Array.from({ length: 1000 }, (_, n) => ({
        type: "slow",
        payload: { n },
        // Jobs running beside the poison die with its process: their retries absorb that.
        maxAttempts: 10,
        backoff: { baseMs: 10, jitter: 0 },
      }));
      const [poison] = await engine.enqueue({
        type: "slow",
        payload: { n: -1, poison: true },
        maxAttempts: 3,
        backoff: { baseMs: 10, jitter: 0 },
      });
      await engine.enqueue(normal);
      // A process manager: whenever the worker dies, start another.
      let current = await startWorker(home, "work", out);
      let restarts = 0;
      let watching = true;
      const manager = (async () => {
        while (watching) {
          await exited(current);
          if (!watching) return;
          restarts++;
          current = await startWorker(home, "work", out);
        }
      })();
      await until(
        async () =>
          (await engine.get(poison!.job.id)).state === "failed" &&
          (await engine.count({ states: ["succeeded"] })) === 1000,
        120_000,
      );
      const dead = await engine.get(poison!.job.id);
      expect(dead).toMatchObject({ state: "failed", attempts: 3 });
      expect((await engine.attempts(dead.id)).map((a) => a.outcome)).toEqual([
        "crashed",
        "crashed",
        "crashed",
      ]);
      expect(restarts).toBeGreaterThanOrEqual(3);

      // The bug is fixed; redrive the dead letter and it completes like any other job.
      writeFileSync(join(out, "fixed"), "");
      await engine.redrive(dead.id);
      await until(async () => (await engine.get(dead.id)).state === "succeeded");
      expect(await engine.count({ states: ["succeeded"] })).toBe(1001);
      watching = false;
      current.kill("SIGTERM");
      await manager;
    } finally {
      await store.close();
    }
  });

  it("a rate limit holds across two processes: eight starts at 2 per second take three more seconds", async () => {
    const home = tempDir("bwr-");
    const out = tempDir("bwr-out-");
    const { engine, store } = await openEngine({ home });
    try {
      const [a, b] = await Promise.all([startWorker(home, "rate", out), startWorker(home, "rate", out)]);
      const enqueuedAt = Date.now();
      await engine.enqueue(Array.from({ length: 8 }, (_, n) => ({ type: "limited", payload: { n } })));
      await until(async () => (await engine.count({ states: ["succeeded"] })) === 8);
      a.kill("SIGTERM");
      b.kill("SIGTERM");
      await Promise.all([exited(a), exited(b)]);
      const results = (await engine.list({ types: ["limited"] }, { limit: 100 })).map(
        (j) => j.result as { startedAt: number; by: number },
      );
      // Each process runs one job at a time for 700 ms: while one is busy the other takes the
      // next start, so both take part.
      expect(new Set(results.map((r) => r.by)).size).toBe(2);
      // Any three starts include two on one of the 2 slots, and a slot frees one window after it
      // was taken: eight starts need three more windows after the first two. A slow machine only
      // stretches this. Without the limit the last start comes at 2.1 s (four rounds of 700 ms),
      // and with a limit per process rather than across them it would too.
      const last = Math.max(...results.map((r) => r.startedAt));
      expect(last - enqueuedAt).toBeGreaterThanOrEqual(3000 - 300);
    } finally {
      await store.close();
    }
  });
});
