// baton's PostgreSQL benchmark: baton vs raw `pg` doing the minimal equivalent (SKIP LOCKED
// claim + complete, plain INSERTs), side by side in one run on the same server. Prints absolute
// numbers and ratios.
//
//   BATON_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres node bench/postgres.mjs [--quick]
//
// (BATON_TEST_DATABASE_URL is used when BATON_BENCH_DATABASE_URL is unset.) The run creates its own
// database `baton_bench_<random>` and drops it at the end. Needs a built dist/ (`npm run build`).
// Not compared here (yet): graphile-worker and pg-boss, which the issue names; they are not
// dependencies of this repository.
import { randomBytes } from "node:crypto";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const quick = process.argv.includes("--quick");
const N = { single: quick ? 300 : 2000, process: quick ? 1000 : 8000, latency: quick ? 50 : 300 };
const CONCURRENCY = 8;
const base = process.env.BATON_BENCH_DATABASE_URL || process.env.BATON_TEST_DATABASE_URL;
if (!base) {
  console.error("set BATON_BENCH_DATABASE_URL (or BATON_TEST_DATABASE_URL) to a PostgreSQL server");
  process.exit(2);
}
const { openBaton } = await import(join(root, "dist", "index.js"));

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

const fmt = (n) => (n >= 100 ? Math.round(n).toLocaleString("en-US") : n.toFixed(2));
function report(what, unit, baton, raw, higherIsBetter = true) {
  const ratio = higherIsBetter ? baton / raw : raw / baton;
  console.log(
    `${what.padEnd(40)} baton ${fmt(baton)} ${unit}, raw ${fmt(raw)} ${unit}  baton/raw ${ratio.toFixed(2)}×`,
  );
}
const perSecond = (count, ms) => (count * 1000) / ms;
const percentile = (xs, p) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];

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
        for (const c of batch) await engine.complete(c.job.id, { token: c.token });
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

await admin(`CREATE DATABASE ${name}`);
try {
  console.log(
    `baton vs raw pg on ${new URL(base).host}, concurrency ${CONCURRENCY}${quick ? " (quick)" : ""}`,
  );
  const rawPool = new pg.Pool({ connectionString: url.toString(), max: CONCURRENCY });
  await rawPool.query(RAW_SCHEMA);
  const baton = await openBaton({ databaseUrl: url.toString(), poolSize: CONCURRENCY });
  const engine = baton.engine;

  report(
    "enqueue one-by-one (commits/s)",
    "jobs/s",
    await batonEnqueueOneByOne(engine, N.single),
    await rawEnqueueOneByOne(rawPool, N.single),
  );

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
  const batonBacklog = N.process + N.single;
  const batonRate = await batonProcess(engine, batonBacklog, 1);
  const rawRate = await rawProcess(rawPool, N.process);
  report(`process claim+complete ×${CONCURRENCY}`, "jobs/s", batonRate, rawRate);

  await engine.enqueue(rows.map((n) => ({ type: "bench", payload: { n } })).slice(0, N.process));
  await rawPool.query(
    "INSERT INTO raw_jobs (type, payload, state, run_at) SELECT 'bench', '{}', 'queued', 0 FROM generate_series(1, $1)",
    [N.process],
  );
  report(
    `process, baton claims 32 at a time ×${CONCURRENCY}`,
    "jobs/s",
    await batonProcess(engine, N.process, 32),
    await rawProcess(rawPool, N.process),
  );

  const latencies = await batonLatency(engine, engine.store, N.latency);
  console.log(
    `${"enqueue → handler (LISTEN/NOTIFY)".padEnd(40)} p50 ${percentile(latencies, 0.5).toFixed(2)} ms, p99 ${percentile(latencies, 0.99).toFixed(2)} ms`,
  );
  await baton.close();
  await rawPool.end();
} finally {
  await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
}
