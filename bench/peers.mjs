#!/usr/bin/env node
/**
 * The rows of issue 22's tables, each side by side with the peers and the ratios, in one run:
 *
 *   SQLite: baton (durability normal, and full for its own row) · plainjob 0.0.14 · BullMQ (Redis)
 *   PostgreSQL: baton · graphile-worker 0.17.3 (default, and localQueue 500) · pg-boss 10.4 (batchSize 100)
 *
 *   npm run build && node bench/peers.mjs                 # 10,000 jobs, median of 2 rounds
 *   node bench/peers.mjs --jobs 2000 --rounds 1           # quicker
 *   node bench/peers.mjs --only sqlite                    # or: --only postgres
 *   node bench/peers.mjs --only rss --rounds 3            # the RSS row alone: baton (normal), plainjob
 *
 * PostgreSQL needs BATON_BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres);
 * Redis at 127.0.0.1:6379. Every phase runs in its own process (`--child`): the producer is a
 * separate connection from the worker. No-op handlers, ~100-byte payloads. Rows:
 *   enqueue one by one, enqueue in batches of 1,000   (jobs/s, the producer process)
 *   process, concurrency 1 and 8   (jobs/s from the first handler call to the last of the backlog)
 *   worker peak RSS                (the concurrency-8 worker process: getrusage maxRSS)
 *   enqueue → handler p50 / p99    (one job at a time from the producer; the handler reads the same
 *                                   monotonic clock as the producer did before its enqueue call)
 * Each round gives every contender a fresh queue; figures are medians of the rounds; the load
 * average is printed before and after.
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : process.argv[i + 1];
};
const PG_URL = process.env.BATON_BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const PAD = "x".repeat(80);
const now = () => Number(process.hrtime.bigint()) / 1e6;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const s = xs.filter((x) => typeof x === "number").sort((a, b) => a - b);
  if (s.length === 0) return undefined;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
const loadavg = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");

// --- the child side: one phase of one system ---------------------------------------------------

/** Adapters: open(ctx) → { enqueueOne(i, extra), enqueueMany(n), work(c, onJob) → stop, close }. */
const systems = {
  async baton(ctx) {
    const { openBaton, defineHandler } = await import(join(root, "dist", "index.js"));
    const { z } = await import("zod");
    const baton = await openBaton(
      ctx.pg
        ? { databaseUrl: PG_URL, databaseSchema: ctx.queue }
        : { databasePath: join(ctx.dir, "baton.db"), durability: ctx.durability },
    );
    return {
      enqueueOne: (i, t) => baton.enqueue({ type: "noop", payload: { i, t, pad: PAD } }),
      enqueueMany: (from, n) =>
        baton.enqueue(
          Array.from({ length: n }, (_, k) => ({ type: "noop", payload: { i: from + k, pad: PAD } })),
        ),
      async work(concurrency, onJob) {
        const noop = defineHandler(
          "noop",
          z.object({ i: z.number(), t: z.number().optional() }).passthrough(),
          async (p) => onJob(p),
        );
        const worker = baton.worker({ handlers: [noop], concurrency });
        await worker.start();
        return () => worker.stop();
      },
      close: () => baton.close(),
    };
  },
  async plainjob(ctx) {
    const { better, defineQueue, defineWorker } = await import("plainjob");
    const { default: Database } = await import("better-sqlite3");
    const db = new Database(join(ctx.dir, "plainjob.db"));
    db.pragma("journal_mode = WAL");
    const silent = { info() {}, warn() {}, error() {}, debug() {} };
    const queue = defineQueue({ connection: better(db), logger: silent });
    return {
      enqueueOne: async (i, t) => queue.add("noop", { i, t, pad: PAD }),
      enqueueMany: async (from, n) =>
        queue.addMany(
          "noop",
          Array.from({ length: n }, (_, k) => ({ i: from + k, pad: PAD })),
        ),
      async work(concurrency, onJob) {
        // Processing polls every 10 ms (the benchmark's favour); latency uses plainjob's default poll.
        const workers = Array.from({ length: concurrency }, () =>
          defineWorker(
            "noop",
            async (job) => onJob(typeof job.data === "string" ? JSON.parse(job.data) : job.data),
            {
              queue,
              logger: silent,
              ...(ctx.phase === "latency" ? {} : { pollIntervall: 10 }),
            },
          ),
        );
        for (const w of workers) void w.start();
        return () => Promise.all(workers.map((w) => w.stop()));
      },
      close: async () => {
        queue.close();
        db.close();
      },
    };
  },
  async bullmq(ctx) {
    const { Queue, Worker } = await import("bullmq");
    const connection = { host: "127.0.0.1", port: 6379, maxRetriesPerRequest: null };
    const queue = new Queue(ctx.queue, { connection });
    return {
      enqueueOne: (i, t) => queue.add("noop", { i, t, pad: PAD }),
      enqueueMany: (from, n) =>
        queue.addBulk(
          Array.from({ length: n }, (_, k) => ({ name: "noop", data: { i: from + k, pad: PAD } })),
        ),
      async work(concurrency, onJob) {
        const worker = new Worker(ctx.queue, async (job) => onJob(job.data), { connection, concurrency });
        return () => worker.close();
      },
      close: async () => {
        if (ctx.phase === "cleanup") await queue.obliterate({ force: true });
        await queue.close();
      },
    };
  },
  async graphile(ctx) {
    const { default: gw } = await import("graphile-worker");
    const logger = new gw.Logger(() => (level, text) => {
      if (level === "error") console.error(`graphile-worker: ${text}`);
    });
    const shared = { connectionString: PG_URL, logger };
    const utils = await gw.makeWorkerUtils(shared);
    await utils.migrate();
    return {
      enqueueOne: (i, t) => utils.addJob("noop", { i, t, pad: PAD }),
      enqueueMany: (from, n) =>
        utils.addJobs(
          Array.from({ length: n }, (_, k) => ({ identifier: "noop", payload: { i: from + k, pad: PAD } })),
        ),
      async work(concurrency, onJob) {
        const runner = await gw.run({
          ...shared,
          concurrency,
          noHandleSignals: true,
          crontab: "",
          taskList: { noop: async (payload) => onJob(payload) },
          ...(ctx.variant === "lq500" ? { preset: { worker: { localQueue: { size: 500 } } } } : {}),
        });
        return () => runner.stop();
      },
      close: async () => {
        if (ctx.phase === "cleanup")
          await utils.withPgClient((c) => c.query("DELETE FROM graphile_worker._private_jobs"));
        await utils.release();
      },
    };
  },
  async pgboss(ctx) {
    const { default: PgBoss } = await import("pg-boss");
    const boss = new PgBoss({ connectionString: PG_URL });
    boss.on("error", () => undefined);
    await boss.start();
    await boss.createQueue(ctx.queue).catch(() => undefined);
    return {
      enqueueOne: (i, t) => boss.send(ctx.queue, { i, t, pad: PAD }),
      enqueueMany: (from, n) =>
        boss.insert(
          Array.from({ length: n }, (_, k) => ({ name: ctx.queue, data: { i: from + k, pad: PAD } })),
        ),
      async work(concurrency, onJob) {
        for (let w = 0; w < concurrency; w++)
          await boss.work(ctx.queue, { batchSize: 100, pollingIntervalSeconds: 0.5 }, async (jobs) => {
            for (const j of jobs) onJob(j.data);
          });
        return () => boss.offWork(ctx.queue);
      },
      close: async () => {
        if (ctx.phase === "cleanup") await boss.deleteQueue(ctx.queue).catch(() => undefined);
        await boss.stop({ graceful: false, wait: true, timeout: 5000 });
      },
    };
  },
};

async function child() {
  const ctx = JSON.parse(process.argv[process.argv.indexOf("--child") + 1]);
  if (ctx.phase === "cleanup" && ctx.system === "baton") {
    if (ctx.pg) {
      const { default: pg } = await import("pg");
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${ctx.queue}" CASCADE`);
      await client.end();
    }
    process.send?.({});
    process.exit(0);
  }
  const sys = await systems[ctx.system](ctx);
  const out = {};
  if (ctx.phase === "enqueue1") {
    const t0 = now();
    for (let i = 0; i < ctx.jobs; i++) await sys.enqueueOne(i, 0);
    out.rate = (ctx.jobs * 1000) / (now() - t0);
  } else if (ctx.phase === "batch") {
    const t0 = now();
    for (let i = 0; i < ctx.jobs; i += 1000) await sys.enqueueMany(i, Math.min(1000, ctx.jobs - i));
    out.rate = (ctx.jobs * 1000) / (now() - t0);
  } else if (ctx.phase === "fill") {
    for (let i = 0; i < ctx.jobs; i += 1000) await sys.enqueueMany(i, Math.min(1000, ctx.jobs - i));
  } else if (ctx.phase === "work") {
    let done = 0;
    let first;
    let last;
    let cpuFirst;
    let cpuLast;
    const stop = await sys.work(ctx.concurrency, () => {
      last = now();
      if (first === undefined) {
        first = last;
        cpuFirst = process.cpuUsage();
      }
      if (++done === ctx.jobs) cpuLast = process.cpuUsage(cpuFirst);
    });
    const deadline = Date.now() + ctx.capMs;
    while (done < ctx.jobs && Date.now() < deadline) await sleep(2);
    out.rate = done < 2 ? 0 : ((done - 1) * 1000) / (last - first);
    out.capped = done < ctx.jobs;
    // The worker process's CPU time (user + system, all its threads) per job over the same span,
    // and as a share of the wall time: near 1 means the drain is bound by the process's own work.
    if (cpuLast !== undefined && last > first) {
      const cpuMs = (cpuLast.user + cpuLast.system) / 1000;
      out.cpuUsPerJob = (cpuMs * 1000) / (done - 1);
      out.busy = cpuMs / (last - first);
    }
    out.rssMiB = process.resourceUsage().maxRSS / 1024;
    await stop();
  } else if (ctx.phase === "latency") {
    // The worker side: reports each job's latency (its payload carries the producer's clock).
    const seen = [];
    const stop = await sys.work(1, (p) => {
      if (typeof p.t === "number" && p.t > 0) seen.push(now() - p.t);
    });
    process.send({ ready: true });
    await new Promise((resolve) => process.on("message", (m) => m.stop && resolve()));
    await stop();
    out.latencies = seen;
  } else if (ctx.phase === "produce") {
    // One job at a time, waiting for the worker's report between (via the parent's go signal).
    for (let i = 0; i < ctx.jobs; i++) {
      await sys.enqueueOne(i, now());
      await sleep(ctx.gapMs);
    }
  }
  await sys.close();
  process.send?.(out);
  process.exit(0);
}

// --- the parent side ---------------------------------------------------------------------------

function run(ctx, { onReady } = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [fileURLToPath(import.meta.url), "--child", JSON.stringify(ctx)], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    let result;
    p.on("message", (m) => {
      if (m.ready) onReady?.(p);
      else result = m;
    });
    p.on("exit", (code) =>
      code === 0 ? resolve(result ?? {}) : reject(new Error(`${ctx.system} ${ctx.phase} exited ${code}`)),
    );
  });
}

async function contender(base, { jobs, latencySamples, capMs }) {
  const dir = mkdtempSync(join(tmpdir(), `peers-${base.system}-`));
  // A fresh queue per phase: its own folder (SQLite files), queue name or PostgreSQL schema.
  const fresh = (tag) => {
    mkdirSync(join(dir, tag), { recursive: true });
    return { ...base, dir: join(dir, tag), queue: `${base.queueBase}_${tag}` };
  };
  const r = {};
  try {
    if (!base.skipEnqueue) {
      r.enqueue1 = (
        await run({ ...fresh("e1"), phase: "enqueue1", jobs: Math.min(jobs, base.oneByOne ?? jobs) })
      ).rate;
      await run({ ...fresh("e1"), phase: "cleanup" }).catch(() => undefined);
      r.batch = (await run({ ...fresh("b"), phase: "batch", jobs })).rate;
      await run({ ...fresh("b"), phase: "cleanup" }).catch(() => undefined);
    }
    for (const c of [1, 8]) {
      const q = fresh(`p${c}`);
      await run({ ...q, phase: "fill", jobs });
      const w = await run({ ...q, phase: "work", jobs, concurrency: c, capMs });
      r[`c${c}`] = w.rate;
      r[`cpu${c}`] = w.cpuUsPerJob;
      r[`busy${c}`] = w.busy;
      if (w.capped) r[`c${c}capped`] = true;
      if (c === 8) r.rss = w.rssMiB;
      await run({ ...q, phase: "cleanup" }).catch(() => undefined);
      rmSync(q.dir, { recursive: true, force: true });
    }
    if (latencySamples > 0) {
      const q = fresh("lat");
      let worker;
      const workerDone = run({ ...q, phase: "latency" }, { onReady: (p) => (worker = p) });
      while (worker === undefined) await sleep(20);
      await sleep(300);
      await run({ ...q, phase: "produce", jobs: latencySamples, gapMs: 5 });
      await sleep(base.system === "plainjob" ? 2000 : 300);
      worker.send({ stop: true });
      const lat = (await workerDone).latencies ?? [];
      if (lat.length > 0) r.latency = { p50: pct(lat, 0.5), p99: pct(lat, 0.99), n: lat.length };
      await run({ ...q, phase: "cleanup" }).catch(() => undefined);
    }
  } catch (error) {
    r.error = error.message;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return r;
}

async function parent() {
  const jobs = Number(arg("jobs", "10000"));
  const rounds = Number(arg("rounds", "2"));
  const only = arg("only", "all");
  const latencySamples = Number(arg("latency", "500"));
  const capMs = Number(arg("cap", "120000"));
  const tag = `${process.pid}`;
  if (only === "rss") return rssOnly({ jobs, rounds, capMs, tag });
  let bullP50;
  const sqlite = [
    { label: "baton (normal)", system: "baton", durability: "normal" },
    { label: "baton (full)", system: "baton", durability: "full", skipLatency: true, oneByOne: 2000 },
    { label: "plainjob", system: "plainjob" },
    { label: "bullmq", system: "bullmq" },
  ];
  const pg = [
    { label: "baton (pg)", system: "baton", pg: true },
    { label: "graphile", system: "graphile", pg: true, oneByOne: 3000 },
    { label: "graphile lq500", system: "graphile", variant: "lq500", pg: true, skipEnqueue: true },
    { label: "pg-boss", system: "pgboss", pg: true, oneByOne: 3000, skipLatency: true },
  ];
  const groups = [
    ...(only === "postgres" ? [] : [["SQLite", sqlite]]),
    ...(only === "sqlite" ? [] : [["PostgreSQL", pg]]),
  ];
  console.log(
    `peers benchmark: ${jobs.toLocaleString("en-US")} no-op jobs (~100-byte payloads), median of ${rounds} round(s), ` +
      `each phase in its own process; node ${process.version}; load average ${loadavg()} before`,
  );
  for (const [name, list] of groups) {
    const all = Object.fromEntries(list.map((c) => [c.label, []]));
    for (let round = 0; round < rounds; round++) {
      for (const c of list) {
        const base = { ...c, queueBase: `peers_${c.system}${c.variant ?? ""}_${tag}_${round}` };
        // baton on PostgreSQL: its own fresh schema per round (the queue name is the schema).
        all[c.label].push(
          await contender(base, {
            jobs,
            latencySamples: c.skipLatency ? 0 : latencySamples,
            capMs,
          }),
        );
      }
    }
    const m = (label, key) => median(all[label].map((r) => r[key]));
    const ml = (label, key) =>
      all[label] === undefined ? undefined : median(all[label].map((r) => r.latency?.[key]));
    const errors = list.flatMap((c) =>
      all[c.label].filter((r) => r.error).map((r) => `${c.label}: ${r.error}`),
    );
    printTable(name, list, m, ml);
    for (const e of errors) console.log(`  error: ${e}`);
    if (name === "SQLite") {
      const b = "baton (normal)";
      const target = (what, value, bound) =>
        console.log(
          `  ${what.padEnd(58)} ${value === undefined ? "-" : `${value.toFixed(2)}×`.padStart(7)}  ${value === undefined ? "" : value >= bound ? "met" : "MISSED"}`,
        );
      console.log("targets (ratios in this run):");
      target("process c=1 ≥ 1.0× plainjob", m(b, "c1") / m("plainjob", "c1"), 1);
      target("process c=1 ≥ 1.0× BullMQ", m(b, "c1") / m("bullmq", "c1"), 1);
      target("process c=8 ≥ 1.0× plainjob", m(b, "c8") / m("plainjob", "c8"), 1);
      target("process c=8 ≥ 1.0× BullMQ", m(b, "c8") / m("bullmq", "c8"), 1);
      target("enqueue one by one ≥ 0.75× plainjob", m(b, "enqueue1") / m("plainjob", "enqueue1"), 0.75);
      target("enqueue batches ≥ 1.0× plainjob", m(b, "batch") / m("plainjob", "batch"), 1);
      target("durability full: c=8 ≥ 0.8× its normal", m("baton (full)", "c8") / m(b, "c8"), 0.8);
      const rss = m(b, "rss") / m("plainjob", "rss");
      console.log(
        `  ${"worker peak RSS ≤ 1.2× plainjob".padEnd(58)} ${rss.toFixed(2).padStart(6)}×  ${rss <= 1.2 ? "met" : "MISSED"}`,
      );
      latencyTargets(ml(b, "p50"), ml(b, "p99"), ml("bullmq", "p50"));
      bullP50 = ml("bullmq", "p50");
    } else {
      const b = "baton (pg)";
      const target = (what, value, bound) =>
        console.log(
          `  ${what.padEnd(58)} ${value === undefined || Number.isNaN(value) ? "      -" : `${value.toFixed(2)}×`.padStart(7)}  ${value >= bound ? "met" : "MISSED"}`,
        );
      console.log("targets (ratios in this run):");
      target("process c=1 ≥ 1.0× graphile-worker localQueue 500", m(b, "c1") / m("graphile lq500", "c1"), 1);
      target("process c=8 ≥ 1.0× graphile-worker localQueue 500", m(b, "c8") / m("graphile lq500", "c8"), 1);
      target("enqueue batches ≥ 1.0× graphile-worker", m(b, "batch") / m("graphile", "batch"), 1);
      latencyTargets(ml(b, "p50"), ml(b, "p99"), bullP50);
    }
  }
  console.log(`load average ${loadavg()} after`);
}

/**
 * The worker peak RSS row alone (`--only rss`): baton at durability normal and plainjob, a
 * backlog of `jobs` drained at concurrency 8 in a process of its own, contenders alternating
 * within each round. Prints every round's figures, the medians and their ratio.
 */
async function rssOnly({ jobs, rounds, capMs, tag }) {
  const list = [
    { label: "baton (normal)", system: "baton", durability: "normal" },
    { label: "plainjob", system: "plainjob" },
  ];
  console.log(
    `peers benchmark, worker peak RSS only: ${jobs.toLocaleString("en-US")} no-op jobs drained at concurrency 8, ` +
      `${rounds} round(s); node ${process.version}; load average ${loadavg()} before`,
  );
  const all = Object.fromEntries(list.map((c) => [c.label, []]));
  for (let round = 0; round < rounds; round++) {
    for (const c of list) {
      const dir = mkdtempSync(join(tmpdir(), `peers-${c.system}-`));
      const q = { ...c, dir, queue: `peers_${c.system}_${tag}_${round}_rss` };
      try {
        await run({ ...q, phase: "fill", jobs });
        const w = await run({ ...q, phase: "work", jobs, concurrency: 8, capMs });
        if (w.capped) console.log(`  ${c.label}: capped before the backlog drained`);
        all[c.label].push(w.rssMiB);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  for (const c of list)
    console.log(
      `  ${c.label.padEnd(16)} peak RSS (MiB) ${all[c.label].map((x) => x.toFixed(1)).join(", ")}  median ${median(all[c.label]).toFixed(1)}`,
    );
  const rss = median(all["baton (normal)"]) / median(all.plainjob);
  console.log(
    `  ${"worker peak RSS ≤ 1.2× plainjob".padEnd(58)} ${rss.toFixed(2).padStart(6)}×  ${rss <= 1.2 ? "met" : "MISSED"}`,
  );
  console.log(`load average ${loadavg()} after`);
}

function latencyTargets(p50, p99, bullP50) {
  if (p50 === undefined) return;
  const vsBull =
    bullP50 === undefined
      ? "(BullMQ not measured in this group: see the SQLite table)"
      : `${(p50 / bullP50).toFixed(2)}× BullMQ's ${bullP50.toFixed(2)} ms ${p50 <= bullP50 ? "met" : "MISSED"}`;
  console.log(`  ${"latency p50 ≤ BullMQ's".padEnd(58)} ${p50.toFixed(2)} ms  ${vsBull}`);
  console.log(`  ${"latency p99 ≤ 5 ms".padEnd(58)} ${p99.toFixed(2)} ms  ${p99 <= 5 ? "met" : "MISSED"}`);
}

function printTable(name, list, m, ml) {
  const base = list[0].label;
  const fmt = (x) => (x === undefined ? "-" : Math.round(x).toLocaleString("en-US"));
  const ratio = (a, b) => (a === undefined || b === undefined || b === 0 ? "" : ` (${(a / b).toFixed(2)}×)`);
  const rows = [
    ["enqueue one by one (/s)", (l) => m(l, "enqueue1")],
    ["enqueue, batches of 1,000 (/s)", (l) => m(l, "batch")],
    ["process, concurrency 1 (/s)", (l) => m(l, "c1")],
    ["process, concurrency 8 (/s)", (l) => m(l, "c8")],
    ["worker peak RSS (MiB)", (l) => m(l, "rss")],
  ];
  // The worker process's own CPU (a server's, Redis or PostgreSQL, is not in it) per job, and its
  // share of the drain's wall time: near 1 means the worker process, not waiting, bounds the rate.
  const cpuRow = (c) => [
    `worker CPU µs/job, busy, c=${c}`,
    (l) => m(l, `cpu${c}`),
    (l) => m(l, `busy${c}`),
  ];
  console.log(`\n${name}: each peer's column shows baton/peer in brackets (baton = ${base})`);
  const width = 26;
  console.log(`  ${"workload".padEnd(32)}${list.map((c) => c.label.padStart(width)).join("")}`);
  for (const [label, get] of rows) {
    const b = get(base);
    const cells = list.map((c, i) => {
      const v = get(c.label);
      return `${fmt(v)}${i === 0 ? "" : ratio(b, v)}`.padStart(width);
    });
    console.log(`  ${label.padEnd(32)}${cells.join("")}`);
  }
  const lat = list.map((c) => {
    const p50 = ml(c.label, "p50");
    const p99 = ml(c.label, "p99");
    return (p50 === undefined ? "-" : `${p50.toFixed(2)} / ${p99.toFixed(2)}`).padStart(width);
  });
  console.log(`  ${"enqueue → handler p50 / p99 ms".padEnd(32)}${lat.join("")}`);
  for (const [label, cpu, busy] of [cpuRow(1), cpuRow(8)]) {
    const cells = list.map((c) => {
      const v = cpu(c.label);
      const b = busy(c.label);
      return (v === undefined ? "-" : `${Math.round(v)}, ${b.toFixed(2)}`).padStart(width);
    });
    console.log(`  ${label.padEnd(32)}${cells.join("")}`);
  }
}

if (process.argv.includes("--child")) await child();
else await parent();
