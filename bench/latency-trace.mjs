// Where a job's latency goes (D160): the latency phase of bench/peers.mjs (a producer and a worker
// in separate processes, one job at a time, `--gap` ms apart, concurrency 1), instrumented. Both
// processes record, on the shared monotonic clock: the enqueue call and its return (with the
// producer's CPU time, context switches and bytes written over it), the worker's wake (the -wal
// watch or NOTIFY → wakeSoon), each group-commit transaction (same counters, plus the WAL's frame
// count and backfill from the -shm's wal-index header), the handler's start, GC pauses, and each
// process's time waiting for a CPU (/proc/thread-self/schedstat). It prints the median of each
// part and, for the slowest 1.5 %, what held each sample. It wraps the worker's private methods
// from outside (wake, wakeSoon, the engine's batch): a diagnostic, not a benchmark to quote.
//
//   npm run build && node bench/latency-trace.mjs                  # SQLite, durability normal
//   node bench/latency-trace.mjs --pg                              # PostgreSQL (BATON_BENCH_DATABASE_URL)
//   node bench/latency-trace.mjs --jobs 1000 --gap 5
import { spawn } from "node:child_process";
import { mkdtempSync, openSync, readFileSync, readSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { PerformanceObserver } from "node:perf_hooks";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : process.argv[i + 1];
};
const pg = process.argv.includes("--pg");
const PG_URL = process.env.BATON_BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const PAD = "x".repeat(80);
const { openBaton, defineHandler } = await import(join(root, "dist", "index.js"));
const { z } = await import("zod");

const now = () => Number(process.hrtime.bigint()) / 1e6;
const events = [];
const mark = (kind, ...rest) => events.push([now(), kind, ...rest]);
const runQueueMs = () => Number(readFileSync("/proc/thread-self/schedstat", "utf8").split(" ")[1]) / 1e6;
const usage = () => {
  const u = process.resourceUsage();
  return [u.userCPUTime + u.systemCPUTime, u.voluntaryContextSwitches, u.involuntaryContextSwitches, u.fsWrite];
};
const since = (u0) => {
  const u1 = usage();
  return { cpuMs: (u1[0] - u0[0]) / 1000, waits: u1[1] - u0[1], preempted: u1[2] - u0[2], written: u1[3] - u0[3] };
};
const clockOffset = now() - performance.now();
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) events.push([clockOffset + e.startTime, "gc", e.duration]);
}).observe({ entryTypes: ["gc"] });
const open = (where) =>
  openBaton(pg ? { databaseUrl: PG_URL, databaseSchema: where } : { databasePath: join(where, "baton.db"), durability: "normal" });

if (process.argv[2] === "--worker") {
  const where = process.argv[3];
  const baton = await open(where);
  const noop = defineHandler("noop", z.object({ i: z.number() }).passthrough(), async (p) => mark("handler", p.i, runQueueMs()));
  const worker = baton.worker({ handlers: [noop], concurrency: 1 });
  const original = worker.wakeSoon;
  worker.wakeSoon = function wakeSoon() {
    mark("wake");
    return original.call(this);
  };
  let shm;
  const wal = () => {
    if (pg) return undefined;
    try {
      shm ??= openSync(join(where, "baton.db-shm"), "r");
      const b = Buffer.alloc(100);
      readSync(shm, b, 0, 100, 0);
      return { frames: b.readUInt32LE(16), backfilled: b.readUInt32LE(96) };
    } catch {
      return undefined;
    }
  };
  const engine = baton.engine;
  const batch = engine.batch.bind(engine);
  engine.batch = async (ops) => {
    const u0 = usage();
    mark("claim", ops.map((o) => o.kind).join(","));
    try {
      return await batch(ops);
    } finally {
      mark("claimed", { ...since(u0), wal: wal() });
    }
  };
  await worker.start();
  process.send({ ready: true });
  process.on("message", async (m) => {
    if (!m.stop) return;
    await worker.stop();
    await baton.close();
    process.send({ events }, () => process.exit(0));
  });
} else {
  const jobs = Number(arg("jobs", "1000"));
  const gap = Number(arg("gap", "5"));
  const where = pg ? `latency_trace_${process.pid}` : mkdtempSync(join(tmpdir(), "latency-trace-"));
  const baton = await open(where);
  const load0 = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), "--worker", where, ...(pg ? ["--pg"] : [])], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  await new Promise((resolve) => child.on("message", (m) => m.ready && resolve()));
  await new Promise((resolve) => setTimeout(resolve, 300));
  for (let i = 0; i < jobs; i++) {
    const u0 = usage();
    mark("enqueue", i, runQueueMs());
    await baton.enqueue({ type: "noop", payload: { i, pad: PAD } });
    mark("enqueued", i, runQueueMs(), since(u0));
    await new Promise((resolve) => setTimeout(resolve, gap));
  }
  await new Promise((resolve) => setTimeout(resolve, 300));
  const worker = await new Promise((resolve) => {
    child.on("message", (m) => m.events && resolve(m.events));
    child.send({ stop: true });
  });
  await baton.close();
  if (pg) {
    const { default: pgLib } = await import("pg");
    const client = new pgLib.Client({ connectionString: PG_URL });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${where}" CASCADE`);
    await client.end();
  } else rmSync(where, { recursive: true, force: true });
  report(events, worker, { jobs, gap, load0 });
}

function report(producer, worker, { jobs, gap, load0 }) {
  const started = new Map(worker.filter((e) => e[1] === "handler").map((e) => [e[2], e]));
  const done = new Map(producer.filter((e) => e[1] === "enqueued").map((e) => [e[2], e]));
  const wakes = worker.filter((e) => e[1] === "wake").map((e) => e[0]);
  const claims = worker.filter((e) => e[1] === "claim");
  const claimed = worker.filter((e) => e[1] === "claimed");
  const gcs = worker.filter((e) => e[1] === "gc");
  const rows = [];
  for (const [t0, , i, rq0] of producer.filter((e) => e[1] === "enqueue")) {
    const h = started.get(i);
    const d = done.get(i);
    if (h === undefined || d === undefined) continue;
    const k = claims.findLastIndex((c) => c[0] <= h[0]);
    if (k < 0 || claimed[k] === undefined) continue;
    const prev = started.get(i - 1);
    rows.push({
      i,
      total: h[0] - t0,
      enqueue: d[0] - t0,
      enqueueUsage: d[4],
      toWake: (wakes.find((w) => w >= d[0] - 0.5) ?? NaN) - d[0],
      claimStart: claims[k][0] - t0,
      claim: claimed[k][0] - claims[k][0],
      claimUsage: claimed[k][2],
      workerRunQueue: prev === undefined ? NaN : h[3] - prev[3],
      producerRunQueue: d[3] - rq0,
      behind: prev !== undefined && prev[0] > t0,
      gc: gcs.filter((g) => g[0] >= t0 && g[0] <= h[0]).map((g) => g[2]),
    });
  }
  const q = (k, p) => {
    const s = rows.map((r) => r[k]).filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor(s.length * p))];
  };
  const f = (x) => x.toFixed(2);
  const paid = (u) => u.written > 150; // a checkpoint writes database pages on top of the WAL frames
  console.log(
    `latency trace: ${rows.length} of ${jobs} jobs, ${gap} ms apart, ${pg ? "PostgreSQL" : "SQLite (normal)"}; load average ${load0} before`,
  );
  console.log(`  enqueue call → handler       p50 ${f(q("total", 0.5))} ms  p99 ${f(q("total", 0.99))} ms`);
  console.log(
    `  median parts: enqueue commit ${f(q("enqueue", 0.5))}, its return → wake ${f(q("toWake", 0.5))}, claim transaction ${f(q("claim", 0.5))} ms`,
  );
  console.log(
    `  worker waited > 0.5 ms for a CPU in ${rows.filter((r) => r.workerRunQueue > 0.5).length} samples; worker GC pauses ${gcs.length} (median ${f(gcs.map((g) => g[2]).sort((a, b) => a - b)[gcs.length >> 1] ?? 0)} ms)`,
  );
  if (!pg) {
    const frames = claimed.map((c) => c[2].wal?.frames ?? 0);
    console.log(
      `  transactions that paid a checkpoint: ${claimed.filter((c) => paid(c[2])).length} of the worker's ${claimed.length}, ${rows.filter((r) => paid(r.enqueueUsage)).length} enqueues; largest WAL ${Math.max(...frames)} frames`,
    );
  }
  console.log("  the slowest 1.5 %:");
  for (const r of rows.sort((a, b) => a.total - b.total).slice(Math.floor(rows.length * 0.985))) {
    const why = [];
    if (r.behind) why.push("the previous job was still in the worker");
    if (r.gc.length > 0) why.push(`worker GC ${r.gc.map(f).join("+")} ms`);
    if (r.enqueue > 0.3 * r.total) why.push(`enqueue commit ${f(r.enqueue)} ms${paid(r.enqueueUsage) ? " (a checkpoint)" : ""}`);
    if (r.claim > 0.3 * r.total) why.push(`claim transaction ${f(r.claim)} ms${paid(r.claimUsage) ? " (a checkpoint)" : ""}`);
    if (r.toWake > 0.3 * r.total) why.push(`wake ${f(r.toWake)} ms after the commit`);
    if (r.workerRunQueue > 0.3 * r.total) why.push(`worker waited ${f(r.workerRunQueue)} ms for a CPU`);
    if (r.producerRunQueue > 0.3 * r.total) why.push(`producer waited ${f(r.producerRunQueue)} ms for a CPU`);
    console.log(`    #${r.i} ${f(r.total)} ms: ${why.join("; ") || "spread over the parts"}`);
  }
}
