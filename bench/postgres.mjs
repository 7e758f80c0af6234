// baton's PostgreSQL benchmark, side by side in one run on the same server: baton, raw `pg` doing
// the minimal equivalent (SKIP LOCKED claim + complete, plain INSERTs), graphile-worker 0.17.3 and
// pg-boss 10.4.2 (exact devDependencies; driven in bench/postgres-peers.mjs, each with its own
// defaults and a no-op handler). Prints one table: the median over the rounds (3, or 1 with
// --quick) of each measure for each system, the ratios baton/raw, baton/graphile-worker and
// baton/pg-boss, then where baton stands against issue 7's targets.
//
//   BATON_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres node bench/postgres.mjs [--quick] [--rounds=N]
//
// (BATON_TEST_DATABASE_URL is used when BATON_BENCH_DATABASE_URL is unset.) The run creates its own
// database `baton_bench_<random>` (the peers use their default schemas in it, `graphile_worker`
// and `pgboss`) and drops it at the end. Needs a built dist/ (`npm run build`). A peer that fails
// is reported on a line of its own; the rest of the table still prints.
import { randomBytes } from "node:crypto";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { z } from "zod";
import { benchGraphileWorker, benchPgBoss, percentile, perSecond } from "./postgres-peers.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const quick = process.argv.includes("--quick");
const roundsArg = process.argv.find((a) => a.startsWith("--rounds="));
const ROUNDS = roundsArg ? Number(roundsArg.slice("--rounds=".length)) : quick ? 1 : 3;
const N = { single: quick ? 300 : 2000, process: quick ? 1000 : 8000, latency: quick ? 50 : 300 };
const CONCURRENCY = 8;
// A peer's processing run stops after this long (pg-boss polls: 8 jobs per 2 s at batchSize 1).
const CAP_MS = quick ? 3_000 : 8_000;
const PG_BOSS_LATENCY_SAMPLES = quick ? 3 : 4; // about 2 s each: its worker polls every 2 s
const base = process.env.BATON_BENCH_DATABASE_URL || process.env.BATON_TEST_DATABASE_URL;
if (!base) {
  console.error("set BATON_BENCH_DATABASE_URL (or BATON_TEST_DATABASE_URL) to a PostgreSQL server");
  process.exit(2);
}
if (!(ROUNDS >= 1)) {
  console.error("--rounds=N needs N ≥ 1");
  process.exit(2);
}
const { openBaton, defineHandler } = await import(join(root, "dist", "index.js"));

const name = `baton_bench_${randomBytes(5).toString("hex")}`;
const url = new URL(base);
url.pathname = `/${name}`;
const admin = async (sql) => {
  const client = new pg.Client({ connectionString: base });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
};

// --- raw pg -----------------------------------------------------------------------------------
const RAW_SCHEMA = `CREATE TABLE raw_jobs (id BIGSERIAL PRIMARY KEY, type TEXT NOT NULL, payload TEXT NOT NULL,
  state TEXT NOT NULL, priority INTEGER NOT NULL DEFAULT 0, run_at BIGINT NOT NULL);
  CREATE INDEX raw_claim ON raw_jobs (priority DESC, run_at, id) WHERE state = 'queued'`;
const RAW_CLAIM = `UPDATE raw_jobs SET state = 'running' WHERE id = (
  SELECT id FROM raw_jobs WHERE state = 'queued' AND run_at <= $1 ORDER BY priority DESC, run_at, id
  LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id`;

async function rawEnqueueOneByOne(pool, count) {
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    await pool.query("INSERT INTO raw_jobs (type, payload, state, run_at) VALUES ($1, $2, 'queued', $3)", [
      "bench",
      JSON.stringify({ i }),
      Date.now(),
    ]);
  }
  return perSecond(count, performance.now() - start);
}

async function rawProcess(pool, count) {
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (;;) {
        const { rows } = await pool.query(RAW_CLAIM, [Date.now()]);
        if (rows.length === 0) return;
        await pool.query("UPDATE raw_jobs SET state = 'succeeded' WHERE id = $1", [rows[0].id]);
      }
    }),
  );
  return perSecond(count, performance.now() - start);
}

// --- baton ------------------------------------------------------------------------------------
async function batonEnqueueOneByOne(engine, count) {
  const start = performance.now();
  for (let i = 0; i < count; i++) await engine.enqueue({ type: "bench", payload: { i } });
  return perSecond(count, performance.now() - start);
}

async function batonProcess(engine, count, limit) {
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, w) => {
      for (;;) {
        const batch = await engine.claim({ owner: `w${w}`, types: ["bench"], limit, leaseMs: 60_000 });
        if (batch.length === 0) return;
        if (limit === 1) {
          await engine.complete(batch[0].job.id, { token: batch[0].token });
          continue;
        }
        // The batched mode: the outcomes of a fetch in one group commit, as a library worker does.
        const results = await engine.batch(
          batch.map((c) => ({ kind: "finish", jobId: c.job.id, outcome: "succeeded", options: { token: c.token } })),
        );
        if (results.some((r) => !r.ok)) throw new Error(`a batched completion failed: ${JSON.stringify(results)}`);
      }
    }),
  );
  return perSecond(count, performance.now() - start);
}

/** enqueue → the handler starts, with a worker woken by LISTEN/NOTIFY (no polling in between). */
async function batonLatency(engine, store, samples) {
  const latencies = [];
  let pending;
  const unsubscribe = store.onWake(async () => {
    const batch = await engine.claim({ owner: "latency", types: ["latency"], limit: 1, leaseMs: 60_000 });
    for (const c of batch) {
      pending?.(performance.now());
      await engine.complete(c.job.id, { token: c.token });
    }
  });
  await new Promise((resolve) => setTimeout(resolve, 500)); // the LISTEN connection is up
  for (let i = 0; i < samples; i++) {
    const handled = new Promise((resolve) => (pending = resolve));
    const start = performance.now();
    await engine.enqueue({ type: "latency", payload: { i } });
    latencies.push((await handled) - start);
  }
  unsubscribe();
  return latencies;
}

/**
 * The library's Worker (group commit, D29 and D36) at concurrency 8 with a no-op handler: what an
 * application runs, and what graphile-worker's run() is (its row "process ×8" is run()).
 */
async function batonWorker(round, count) {
  // A schema of its own, so these jobs do not grow the ledger the other rows measure.
  const baton = await openBaton({
    databaseUrl: url.toString(),
    databaseSchema: `baton_worker_${round}`,
    poolSize: CONCURRENCY,
  });
  let done = 0;
  const noop = defineHandler("bench_worker", z.object({ n: z.number() }), async () => {
    done++;
  });
  for (let i = 0; i < count; i += 1000) {
    const n = Math.min(1000, count - i);
    await baton.enqueueMany(
      noop,
      Array.from({ length: n }, (_, k) => ({ payload: { n: i + k } })),
    );
  }
  const worker = baton.worker({ handlers: [noop], concurrency: CONCURRENCY });
  const start = performance.now();
  await worker.start();
  while (done < count) await new Promise((resolve) => setTimeout(resolve, 2));
  const rate = perSecond(count, performance.now() - start);
  await worker.stop();
  await baton.close();
  return rate;
}

/** One round of baton and raw pg: every measure, in the order of the table. */
async function batonAndRaw(engine, rawPool, round) {
  const out = {};
  await rawPool.query("TRUNCATE raw_jobs");
  out.enqueue = {
    baton: await batonEnqueueOneByOne(engine, N.single),
    raw: await rawEnqueueOneByOne(rawPool, N.single),
  };

  await rawPool.query("TRUNCATE raw_jobs");
  const rows = Array.from({ length: N.process }, (_, i) => i);
  for (let i = 0; i < rows.length; i += 1000) {
    const chunk = rows.slice(i, i + 1000);
    await engine.enqueue(chunk.map((n) => ({ type: "bench", payload: { n } })));
    await rawPool.query(
      "INSERT INTO raw_jobs (type, payload, state, run_at) SELECT 'bench', json_build_object('n', n)::text, 'queued', 0 FROM unnest($1::int[]) AS n",
      [chunk],
    );
  }
  // The enqueue-one-by-one jobs are still queued for baton: process them too, count them.
  out.process = {
    baton: await batonProcess(engine, N.process + N.single, 1),
    raw: await rawProcess(rawPool, N.process),
  };

  await engine.enqueue(rows.map((n) => ({ type: "bench", payload: { n } })));
  await rawPool.query(
    "INSERT INTO raw_jobs (type, payload, state, run_at) SELECT 'bench', '{}', 'queued', 0 FROM generate_series(1, $1)",
    [N.process],
  );
  out.batched = {
    baton: await batonProcess(engine, N.process, 32),
    raw: await rawProcess(rawPool, N.process),
  };
  out.worker = { baton: await batonWorker(round, N.process) };
  out.latency = await batonLatency(engine, engine.store, N.latency);
  return out;
}

// --- the table --------------------------------------------------------------------------------
const median = (xs) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const fmt = (n) => (n >= 100 ? Math.round(n).toLocaleString("en-US") : n >= 10 ? n.toFixed(1) : n.toFixed(2));
/** A cell: a number, or { rate, capped } from a peer's processing run, or undefined (none). */
const cell = (v) =>
  v === undefined ? "–" : typeof v === "number" ? fmt(v) : `${fmt(v.rate)}${v.capped ? "*" : ""}`;
const value = (v) => (v === undefined ? undefined : typeof v === "number" ? v : v.rate);
/** baton's advantage: > 1 means baton is faster (or, for latencies, quicker). */
function ratio(baton, other, higherIsBetter) {
  const [b, o] = [value(baton), value(other)];
  if (b === undefined || o === undefined || b === 0 || o === 0) return "–";
  return `${(higherIsBetter ? b / o : o / b).toFixed(2)}×`;
}
/** The median of a peer's rounds for one measure ({ rate, capped } when the rounds were capped runs). */
function peerMedian(results, key) {
  const xs = results.map((r) => r[key]).filter((x) => x !== undefined);
  if (xs.length === 0) return undefined;
  if (typeof xs[0] === "number") return median(xs);
  return { rate: median(xs.map((x) => x.rate)), capped: xs.some((x) => x.capped) };
}
const peerLatency = (results, p) => {
  // The samples of every round together; each round keeps p50/p99 only, so take their median.
  const xs = results.map((r) => r.latency?.[p]).filter((x) => x !== undefined);
  return xs.length ? median(xs) : undefined;
};

await admin(`CREATE DATABASE ${name}`);
let exitCode = 0;
try {
  console.log(
    `baton vs raw pg vs graphile-worker 0.17.3 vs pg-boss 10.4.2 on ${new URL(base).host}, concurrency ${CONCURRENCY}, ` +
      `${ROUNDS} round${ROUNDS === 1 ? "" : "s"} (medians)${quick ? " (quick)" : ""}`,
  );
  const rawPool = new pg.Pool({ connectionString: url.toString(), max: CONCURRENCY });
  await rawPool.query(RAW_SCHEMA);
  const baton = await openBaton({ databaseUrl: url.toString(), poolSize: CONCURRENCY });
  const ours = [];
  const gw = [];
  const boss = [];
  const failures = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      ours.push(await batonAndRaw(baton.engine, rawPool, round));
      const options = { url: url.toString(), N, concurrency: CONCURRENCY, capMs: CAP_MS, round };
      gw.push(await benchGraphileWorker({ ...options, latencySamples: N.latency }));
      boss.push(await benchPgBoss({ ...options, latencySamples: PG_BOSS_LATENCY_SAMPLES }));
      for (const [peer, r] of [
        ["graphile-worker", gw.at(-1)],
        ["pg-boss", boss.at(-1)],
      ]) {
        if (r.error) failures.push(`${peer} failed in round ${round + 1}: ${r.error}`);
      }
    }
  } finally {
    await baton.close();
    await rawPool.end();
  }

  const ourMedian = (key, who) => median(ours.map((r) => r[key][who]));
  const batonLat = ours.flatMap((r) => r.latency);
  const rows = [
    ["enqueue one by one (jobs/s)", "enqueue", true],
    [`process ×${CONCURRENCY}, one job per claim (jobs/s)`, "process", true],
    [`process ×${CONCURRENCY}, 32 per fetch (jobs/s)`, "batched", true],
  ].map(([what, key]) => [
    what,
    ourMedian(key, "baton"),
    ourMedian(key, "raw"),
    peerMedian(gw, key),
    peerMedian(boss, key),
    true,
  ]);
  rows.push([
    `  baton Worker ×${CONCURRENCY} (jobs/s)`,
    ourMedian("worker", "baton"),
    ourMedian("process", "raw"),
    peerMedian(gw, "process"),
    undefined,
    true,
  ]);
  rows.push([
    "  pg-boss polling every 0.5 s (jobs/s)",
    ourMedian("batched", "baton"),
    undefined,
    undefined,
    peerMedian(boss, "tuned"),
    true,
  ]);
  for (const [label, p] of [
    ["p50", 0.5],
    ["p99", 0.99],
  ]) {
    rows.push([
      `enqueue → handler ${label} (ms)`,
      percentile(batonLat, p),
      undefined,
      peerLatency(gw, label),
      peerLatency(boss, label),
      false,
    ]);
  }

  const head = ["measure", "baton", "raw pg", "graphile-w.", "pg-boss", "b/raw", "b/gw", "b/pg-boss"];
  const widths = [42, 10, 10, 12, 10, 8, 8, 10];
  const line = (cells) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(" ");
  console.log(line(head));
  for (const [what, b, r, g, p, higher] of rows) {
    console.log(
      line([
        what,
        cell(b),
        cell(r),
        cell(g),
        cell(p),
        ratio(b, r, higher),
        ratio(b, g, higher),
        ratio(b, p, higher),
      ]),
    );
  }
  console.log(
    `ratios: > 1× means baton is faster. * = the peer did not finish within ${CAP_MS / 1000} s: jobs done / time taken.\n` +
      "raw pg claims one job per query in both process rows; baton's 32-per-fetch row records each fetch's " +
      "outcomes in one group commit (engine.batch). " +
      `graphile-worker: run() at concurrency ${CONCURRENCY}, ` +
      "pool 10, pollInterval 2 s; its 32-per-fetch row uses localQueue size 32.\n" +
      `pg-boss: ${CONCURRENCY} work() workers on a queue, batchSize 1 or 32, polling every 2 s (default) unless noted; ` +
      `its latency is from ${PG_BOSS_LATENCY_SAMPLES} jobs per round, each sent right after the previous was handled.`,
  );
  for (const failure of failures) console.log(failure);

  const processRaw = ourMedian("process", "baton") / ourMedian("process", "raw");
  const processGw = value(peerMedian(gw, "process"));
  const batchedRaw = ourMedian("batched", "baton") / ourMedian("batched", "raw");
  const enqueueRaw = ourMedian("enqueue", "baton") / ourMedian("enqueue", "raw");
  const p50 = percentile(batonLat, 0.5);
  const target = (what, measured, ok) =>
    console.log(
      `  ${what.padEnd(36)} ${measured.padStart(8)}  ${ok === undefined ? "" : ok ? "met" : "MISSED"}`,
    );
  console.log("issue 7 targets:");
  target(`process ×${CONCURRENCY} ≥ 0.8× raw pg`, `${processRaw.toFixed(2)}×`, processRaw >= 0.8);
  const workerRaw = ourMedian("worker", "baton") / ourMedian("process", "raw");
  target(`  the same, baton's Worker vs raw pg`, `${workerRaw.toFixed(2)}×`, workerRaw >= 0.8);
  const vsGw = processGw ? ourMedian("process", "baton") / processGw : undefined;
  target(
    `process ×${CONCURRENCY} ≥ 1.2× graphile-worker`,
    vsGw === undefined ? "not measured" : `${vsGw.toFixed(2)}×`,
    vsGw === undefined ? undefined : vsGw >= 1.2,
  );
  const workerGw = processGw ? ourMedian("worker", "baton") / processGw : undefined;
  target(
    `  the same, baton's Worker vs run()`,
    workerGw === undefined ? "not measured" : `${workerGw.toFixed(2)}×`,
    workerGw === undefined ? undefined : workerGw >= 1.2,
  );
  target("batched mode ≥ 1.6× raw pg", `${batchedRaw.toFixed(2)}×`, batchedRaw >= 1.6);
  target("enqueue one by one ≥ 0.6× raw pg", `${enqueueRaw.toFixed(2)}×`, enqueueRaw >= 0.6);
  target("enqueue → handler p50 ≤ 3 ms", `${p50.toFixed(2)} ms`, p50 <= 3);
} catch (error) {
  console.error(error);
  exitCode = 1;
} finally {
  await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
}
process.exitCode = exitCode;
// Everything above is closed; if a handle still keeps the process alive, say so and leave.
setTimeout(() => {
  console.error("bench/postgres.mjs: something is still open 5 s after the end; exiting");
  process.exit(exitCode || 1);
}, 5_000).unref();
