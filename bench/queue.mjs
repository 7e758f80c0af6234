// The queue library side by side with its peers, in one run: enqueue throughput and processing
// throughput with N workers (no-op handlers), for baton's Worker, baton's raw claim+complete loop,
// plainjob 0.0.14 (SQLite) and BullMQ (Redis at 127.0.0.1:6379). Prints medians and ratios.
//
//   npm run build && npm run bench:queue            # 5,000 jobs, 3 rounds
//   npm run bench:queue -- --quick                  # 1,000 jobs, 1 round
//   npm run bench:queue -- --durability normal      # baton at synchronous=NORMAL, as plainjob
//
// Every contender uses its own defaults for durability (baton: synchronous=FULL; plainjob:
// better-sqlite3 defaults; BullMQ: whatever Redis is configured with), which favours the others.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { z } from "zod";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const quick = process.argv.includes("--quick");
// `--durability normal`: baton with synchronous=NORMAL, as plainjob runs (like for like).
const durability = process.argv.includes("--durability")
  ? process.argv[process.argv.indexOf("--durability") + 1]
  : "full";
const JOBS = quick ? 1000 : 5000;
const ROUNDS = quick ? 1 : 3;
const CONCURRENCY = [1, 8];

const { openBaton, defineHandler } = await import(join(root, "dist", "index.js"));

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rate = (n, ms) => (n * 1000) / ms;

async function waitFor(check) {
  while (!check()) await new Promise((r) => setTimeout(r, 1));
}

async function batonRound(concurrency) {
  const home = mkdtempSync(join(tmpdir(), "bq-baton-"));
  const baton = await openBaton({ home, durability });
  let done = 0;
  const noop = defineHandler("noop", z.object({ i: z.number() }), async () => {
    done++;
  });
  const t0 = performance.now();
  for (let i = 0; i < JOBS; i += 500) {
    const n = Math.min(500, JOBS - i);
    await baton.enqueueMany(
      noop,
      Array.from({ length: n }, (_, k) => ({ payload: { i: i + k } })),
    );
  }
  const t1 = performance.now();
  const worker = baton.worker({ handlers: [noop], concurrency });
  await worker.start();
  await waitFor(() => done >= JOBS);
  const t2 = performance.now();
  await worker.stop();
  await baton.close();
  rmSync(home, { recursive: true, force: true });
  return { enqueue: rate(JOBS, t1 - t0), process: rate(JOBS, t2 - t1) };
}

/** The floor: one claim and one complete per job, no worker machinery. */
async function rawRound() {
  const home = mkdtempSync(join(tmpdir(), "bq-raw-"));
  const baton = await openBaton({ home, durability });
  for (let i = 0; i < JOBS; i += 500) {
    const n = Math.min(500, JOBS - i);
    await baton.enqueue(Array.from({ length: n }, (_, k) => ({ type: "noop", payload: { i: i + k } })));
  }
  const t1 = performance.now();
  for (;;) {
    const [c] = await baton.claim({ types: ["noop"], owner: "raw", limit: 1 });
    if (c === undefined) break;
    await baton.complete(c.job.id, { token: c.token });
  }
  const t2 = performance.now();
  await baton.close();
  rmSync(home, { recursive: true, force: true });
  return { process: rate(JOBS, t2 - t1) };
}

async function plainjobRound(concurrency) {
  const { better, defineQueue, defineWorker } = await import("plainjob");
  const dir = mkdtempSync(join(tmpdir(), "bq-plain-"));
  const db = new Database(join(dir, "q.db"));
  db.pragma("journal_mode = WAL");
  const silent = { info() {}, warn() {}, error() {}, debug() {} };
  const queue = defineQueue({ connection: better(db), logger: silent });
  let done = 0;
  const t0 = performance.now();
  for (let i = 0; i < JOBS; i += 500) {
    const n = Math.min(500, JOBS - i);
    queue.addMany(
      "noop",
      Array.from({ length: n }, (_, k) => ({ i: i + k })),
    );
  }
  const t1 = performance.now();
  const workers = Array.from({ length: concurrency }, () =>
    defineWorker("noop", async () => undefined, {
      queue,
      logger: silent,
      pollIntervall: 10,
      onCompleted: () => done++,
    }),
  );
  for (const w of workers) void w.start();
  await waitFor(() => done >= JOBS);
  const t2 = performance.now();
  await Promise.all(workers.map((w) => w.stop()));
  queue.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
  return { enqueue: rate(JOBS, t1 - t0), process: rate(JOBS, t2 - t1) };
}

async function bullmqRound(concurrency) {
  const { Queue, Worker } = await import("bullmq");
  const connection = { host: "127.0.0.1", port: 6379, maxRetriesPerRequest: null };
  const name = `bq-${process.pid}-${Date.now()}`;
  const queue = new Queue(name, { connection });
  let done = 0;
  const t0 = performance.now();
  for (let i = 0; i < JOBS; i += 500) {
    const n = Math.min(500, JOBS - i);
    await queue.addBulk(Array.from({ length: n }, (_, k) => ({ name: "noop", data: { i: i + k } })));
  }
  const t1 = performance.now();
  const worker = new Worker(name, async () => undefined, { connection, concurrency });
  worker.on("completed", () => done++);
  await waitFor(() => done >= JOBS);
  const t2 = performance.now();
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  return { enqueue: rate(JOBS, t1 - t0), process: rate(JOBS, t2 - t1) };
}

async function rounds(fn) {
  const results = [];
  for (let r = 0; r < ROUNDS; r++) results.push(await fn());
  return {
    enqueue: results[0].enqueue === undefined ? undefined : median(results.map((x) => x.enqueue)),
    process: median(results.map((x) => x.process)),
  };
}

async function tryRounds(label, fn) {
  try {
    return await rounds(fn);
  } catch (error) {
    console.log(`${label}: skipped (${error.message})`);
    return undefined;
  }
}

const fmt = (x) => (x === undefined ? "-" : `${Math.round(x).toLocaleString("en-US")}/s`);
const ratio = (a, b) => (a === undefined || b === undefined ? "-" : `${(a / b).toFixed(2)}×`);

console.log(
  `queue benchmark: ${JOBS} no-op jobs, median of ${ROUNDS} round(s), baton durability=${durability}, node ${process.version}`,
);
const raw = await rounds(rawRound);
console.log(`raw claim+complete loop (baton engine, 1 at a time): ${fmt(raw.process)}`);
for (const c of CONCURRENCY) {
  const baton = await rounds(() => batonRound(c));
  const plain = await tryRounds("plainjob", () => plainjobRound(c));
  const bull = await tryRounds("bullmq", () => bullmqRound(c));
  console.log(`\nconcurrency ${c}`);
  console.log(`  ${"".padEnd(10)} ${"enqueue".padStart(12)} ${"process".padStart(12)}`);
  for (const [label, r] of [
    ["baton", baton],
    ["plainjob", plain],
    ["bullmq", bull],
  ]) {
    console.log(`  ${label.padEnd(10)} ${fmt(r?.enqueue).padStart(12)} ${fmt(r?.process).padStart(12)}`);
  }
  console.log(
    `  ratios: baton/raw ${ratio(baton.process, raw.process)}, baton/plainjob ${ratio(baton.process, plain?.process)} (enqueue ${ratio(baton.enqueue, plain?.enqueue)}), baton/bullmq ${ratio(baton.process, bull?.process)} (enqueue ${ratio(baton.enqueue, bull?.enqueue)})`,
  );
}
process.exit(0);
