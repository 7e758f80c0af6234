/**
 * What a worker process carries per job and at import (issue 22, D154), on both stores: the
 * heartbeats of every running job go through one timer of the worker (not an interval per job),
 * and still extend each job's lease; importing `baton` and running a worker, in a fresh Node
 * process, loads none of the modules only the CLI, the servers or `baton.call` need.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { defineHandler } from "../src/worker/handler.js";
import { Worker } from "../src/worker/worker.js";
import { until } from "./helpers/http.js";
import { testLedgers } from "./helpers/ledgers.js";
import { tempDir } from "./helpers/tmp.js";

const ROOT = join(import.meta.dirname, "..");
const ledgers = testLedgers("worker.lean");

/** Node timers (setTimeout/setInterval) alive in this process now. */
function liveTimers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
}

describe.each(ledgers.kinds)("worker heartbeats (%s)", (kind) => {
  beforeAll(() => ledgers.setup());
  afterAll(() => ledgers.teardown());

  it("the timers of a worker do not grow with the jobs it runs (one timer beats for all of them)", async () => {
    const { engine, store } = await ledgers.open(kind);
    const gates = [0, 1].map(() => {
      let open: () => void = () => undefined;
      const promise = new Promise<void>((r) => (open = r));
      return { promise, open };
    });
    const started: string[] = [];
    const h = defineHandler("beat", z.object({ i: z.number() }), async ({ i }) => {
      started.push(String(i));
      await gates[i === 0 ? 0 : 1]!.promise;
    });
    // A short local-queue ttl: the timer that gives back held jobs has fired before each count.
    const worker = new Worker(engine, {
      handlers: [h],
      concurrency: 16,
      leaseMs: 60_000,
      localQueueTtlMs: 20,
    });
    const settle = () => new Promise((r) => setTimeout(r, 150));
    try {
      await worker.start();
      await engine.enqueue({ type: "beat", payload: { i: 0 } });
      await until(() => started.length === 1 || undefined);
      await settle();
      const one = liveTimers();
      await engine.enqueue(Array.from({ length: 15 }, (_, k) => ({ type: "beat", payload: { i: k + 1 } })));
      await until(() => started.length === 16 || undefined);
      await settle();
      // Sixteen handlers running hold no more timers than one did (an interval per job made it 15
      // more); the slack is for the PostgreSQL pool's idle-connection timers, which come and go.
      expect(liveTimers() - one).toBeLessThanOrEqual(2);
    } finally {
      for (const g of gates) g.open();
      await until(() => worker.activeCount === 0 || undefined);
      await worker.stop({ graceMs: 0 });
      await store.close();
    }
  });

  it("every running job's lease is extended at each heartbeat period", async () => {
    const { engine, store } = await ledgers.open(kind);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const started: string[] = [];
    const h = defineHandler("beat", z.object({ i: z.number() }), async (_p, { job }) => {
      started.push(job.id);
      await gate;
    });
    const worker = new Worker(engine, { handlers: [h], concurrency: 8, leaseMs: 3000, heartbeatMs: 60 });
    try {
      await worker.start();
      const out = await engine.enqueue(
        Array.from({ length: 8 }, (_, i) => ({ type: "beat", payload: { i } })),
      );
      const ids = out.map((o) => o.job.id);
      await until(() => started.length === 8 || undefined);
      const first = await Promise.all(ids.map(async (id) => (await engine.get(id)).leaseExpiresAt!));
      // Each heartbeat moves the end of its job's lease forward: three periods' worth, for all eight.
      await until(async () => {
        const now = await Promise.all(ids.map(async (id) => (await engine.get(id)).leaseExpiresAt!));
        return now.every((at, k) => at >= first[k]! + 3 * 60) ? true : undefined;
      });
      release();
      await until(async () => {
        const jobs = await Promise.all(ids.map((id) => engine.get(id)));
        return jobs.every((j) => j.state === "succeeded") ? true : undefined;
      });
    } finally {
      release();
      await worker.stop({ graceMs: 0 });
      await store.close();
    }
  });

  it("a stopped worker leaves no heartbeat timer behind", async () => {
    const { engine, store } = await ledgers.open(kind);
    const before = liveTimers();
    let ran = 0;
    const h = defineHandler("once", z.object({}), async () => {
      ran++;
    });
    const worker = new Worker(engine, { handlers: [h], leaseMs: 60_000 });
    try {
      await worker.start();
      await engine.enqueue({ type: "once", payload: {} });
      await until(() => ran === 1 || undefined);
      await until(() => worker.activeCount === 0 || undefined);
    } finally {
      await worker.stop({ graceMs: 0 });
      await store.close();
    }
    expect(liveTimers()).toBeLessThanOrEqual(before);
  });
});

describe("a worker process's modules", () => {
  it("importing baton and draining jobs loads nothing of the CLI, the servers, the catalogue or call()", () => {
    // Every module the process loads: ES modules as a resolve hook sees them, CommonJS from require.cache.
    const script = `
import { createRequire, register } from "node:module";
import { MessageChannel } from "node:worker_threads";
const seen = new Set();
const { port1, port2 } = new MessageChannel();
port1.on("message", (url) => seen.add(url));
port1.unref();
register("data:text/javascript," + encodeURIComponent(
  "let port; export function initialize(d) { port = d.port; } " +
  "export async function resolve(s, c, n) { const r = await n(s, c); port.postMessage(r.url); return r; }"
), { data: { port: port2 }, transferList: [port2] });
const { openBaton, defineHandler } = await import("baton-ledger");
const { z } = await import("zod");
const baton = await openBaton();
let ran = 0;
const h = defineHandler("t", z.object({ n: z.number() }), async () => { ran++; });
await baton.enqueue(Array.from({ length: 50 }, (_, n) => ({ type: "t", payload: { n } })));
const worker = baton.worker({ handlers: [h], concurrency: 4 });
await worker.start();
while (ran < 50) await new Promise((r) => setTimeout(r, 5));
await worker.stop();
await baton.close();
await new Promise((r) => setTimeout(r, 50));
const require = createRequire(import.meta.url);
const all = [...seen, ...Object.keys(require.cache).map((p) => "file://" + p)];
console.log(JSON.stringify({ ran, modules: all }));
`;
    const result = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      cwd: ROOT,
      encoding: "utf8",
      env: { ...process.env, BATON_HOME: tempDir("baton-lean-") },
      timeout: 60_000,
    });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    const out = JSON.parse(result.stdout.trim().split("\n").pop()!) as { ran: number; modules: string[] };
    expect(out.ran).toBe(50);
    // The hook saw the library itself: the list is real.
    expect(out.modules.some((u) => u.endsWith("/dist/worker/worker.js"))).toBe(true);
    expect(out.modules.some((u) => u.includes("/node_modules/better-sqlite3/"))).toBe(true);
    const ours = out.modules
      .filter((u) => u.includes("/dist/"))
      .map((u) => u.slice(u.lastIndexOf("/dist/") + "/dist/".length));
    const notForWorkers = /^(cli|mcp|http|ops|tasks|agents|integrations|daemon|supervisor)\/|^cli\.mjs$/;
    expect(ours.filter((m) => notForWorkers.test(m))).toEqual([]);
    const packages = out.modules
      .filter((u) => u.includes("/node_modules/"))
      .map((u) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u)?.[1]);
    for (const name of ["commander", "yaml", "@modelcontextprotocol/sdk", "pg", "jsonc-parser", "esbuild"])
      expect(packages).not.toContain(name);
  });
});
