// The rounds of bench/queue.mjs, shared with bench/floor.mjs: each function processes `jobs`
// no-op jobs with one contender and returns its rates (jobs/s).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { median } from "./sqlite-setup.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
// Loaded on first use, so a process measuring a peer's memory does not carry baton and zod.
const loadBaton = () => import(join(root, "dist", "index.js"));


const rate = (n, ms) => (n * 1000) / ms;

async function waitFor(check) {
  while (!check()) await new Promise((r) => setTimeout(r, 1));
}

export async function batonRound(concurrency, { jobs, durability }) {
  const home = mkdtempSync(join(tmpdir(), "bq-baton-"));
  const { openBaton, defineHandler } = await loadBaton();
  const { z } = await import("zod");
  const baton = await openBaton({ home, durability });
  let done = 0;
  const noop = defineHandler("noop", z.object({ i: z.number() }), async () => {
    done++;
  });
  const t0 = performance.now();
  for (let i = 0; i < jobs; i += 500) {
    const n = Math.min(500, jobs - i);
    await baton.enqueueMany(
      noop,
      Array.from({ length: n }, (_, k) => ({ payload: { i: i + k } })),
    );
  }
  const t1 = performance.now();
  const worker = baton.worker({ handlers: [noop], concurrency });
  await worker.start();
  await waitFor(() => done >= jobs);
  const t2 = performance.now();
  await worker.stop();
  await baton.close();
  rmSync(home, { recursive: true, force: true });
  return { enqueue: rate(jobs, t1 - t0), process: rate(jobs, t2 - t1) };
}

/** One claim and one complete per job through the engine, no worker machinery. */
export async function rawRound({ jobs, durability }) {
  const home = mkdtempSync(join(tmpdir(), "bq-raw-"));
  const { openBaton } = await loadBaton();
  const baton = await openBaton({ home, durability });
  for (let i = 0; i < jobs; i += 500) {
    const n = Math.min(500, jobs - i);
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
  return { process: rate(jobs, t2 - t1) };
}

export async function plainjobRound(concurrency, { jobs }) {
  const { better, defineQueue, defineWorker } = await import("plainjob");
  const dir = mkdtempSync(join(tmpdir(), "bq-plain-"));
  const db = new Database(join(dir, "q.db"));
  db.pragma("journal_mode = WAL");
  const silent = { info() {}, warn() {}, error() {}, debug() {} };
  const queue = defineQueue({ connection: better(db), logger: silent });
  let done = 0;
  const t0 = performance.now();
  for (let i = 0; i < jobs; i += 500) {
    const n = Math.min(500, jobs - i);
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
  await waitFor(() => done >= jobs);
  const t2 = performance.now();
  await Promise.all(workers.map((w) => w.stop()));
  queue.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
  return { enqueue: rate(jobs, t1 - t0), process: rate(jobs, t2 - t1) };
}

export async function bullmqRound(concurrency, { jobs }) {
  const { Queue, Worker } = await import("bullmq");
  const connection = { host: "127.0.0.1", port: 6379, maxRetriesPerRequest: null };
  const name = `bq-${process.pid}-${Date.now()}`;
  const queue = new Queue(name, { connection });
  let done = 0;
  const t0 = performance.now();
  for (let i = 0; i < jobs; i += 500) {
    const n = Math.min(500, jobs - i);
    await queue.addBulk(Array.from({ length: n }, (_, k) => ({ name: "noop", data: { i: i + k } })));
  }
  const t1 = performance.now();
  const worker = new Worker(name, async () => undefined, { connection, concurrency });
  worker.on("completed", () => done++);
  await waitFor(() => done >= jobs);
  const t2 = performance.now();
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  return { enqueue: rate(jobs, t1 - t0), process: rate(jobs, t2 - t1) };
}

export async function rounds(fn, count) {
  const results = [];
  for (let r = 0; r < count; r++) results.push(await fn());
  return {
    enqueue: results[0].enqueue === undefined ? undefined : median(results.map((x) => x.enqueue)),
    process: median(results.map((x) => x.process)),
  };
}

export async function tryRounds(label, fn, count) {
  try {
    return await rounds(fn, count);
  } catch (error) {
    console.log(`${label}: skipped (${error.message})`);
    return undefined;
  }
}

