// How much of the gap to the SQLite targets is baton's engine, and how much its schema? Runs
// baton's own claim + success statements with no engine JavaScript (bench/floor-statements.mjs:
// the "floor") beside the engine and the peers, in one run, and prints the ratios.
//
//   npm run build && npm run bench:floor       # 6,000 jobs, median of 3 rounds
//   npm run bench:floor -- --quick             # 1,000 jobs, 1 round
//
// Part 1 (issue 2): one claim and one success per transaction, in 1 and in 8 OS processes on one
// file, for the raw loop of bench/run.mjs, the floor and baton's engine (durability full).
// Part 2 (issue 6): in one process, the Worker's pattern at concurrency 8 — the finished jobs'
// successes and the next claim of up to 8 in one transaction — for the floor, baton's Worker and
// plainjob 0.0.14 with 8 workers, at durability full and normal (plainjob runs at normal).
// Part 3 (issue 6): peak RSS of a process draining 5,000 jobs at concurrency 8 (baton's Worker,
// plainjob, the floor), and of idle processes that only load what each one needs.
import { fork } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { floorStatements } from "./floor-statements.mjs";
import { batonRound, plainjobRound } from "./queue-rounds.mjs";
import { drainInProcesses, fill, median, openBatonDb } from "./sqlite-setup.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const quick = process.argv.includes("--quick");
const rssChild = process.argv.includes("--rss-child") ? process.argv[process.argv.indexOf("--rss-child") + 1] : undefined;
const RSS_JOBS = 5000;
const JOBS = rssChild !== undefined ? RSS_JOBS : quick ? 1000 : 6000;
const ROUNDS = quick ? 1 : 3;
const dir = mkdtempSync(join(tmpdir(), "baton-floor-"));
let counter = 0;

/** jobs/s of `processes` copies of bench/sqlite-worker.mjs <kind> draining a fresh file. */
const inProcesses = (kind, processes) =>
  drainInProcesses(kind, join(dir, `${kind}-${counter++}.db`), processes, JOBS, "full");

/**
 * jobs/s of the floor doing what the Worker's group commit does at concurrency 8, one process, on
 * a database filled with JOBS jobs (by this process unless `path` is given filled).
 */
async function floorBatched(durability, path = join(dir, `floor-batched-${counter++}.db`)) {
  if (!existsSync(path)) await fill("floor", path, JOBS, durability);
  const db = new Database(path, { timeout: 5000 });
  db.pragma("journal_mode = WAL");
  db.pragma(`synchronous = ${durability === "full" ? "FULL" : "NORMAL"}`);
  db.pragma("foreign_keys = ON");
  const floor = floorStatements(db, durability);
  const start = performance.now();
  let done = 0;
  let rows = [];
  do {
    const finished = rows;
    rows = floor.succeedThenClaim("floor", finished, 8);
    done += finished.length;
  } while (rows.length > 0);
  const rate = (JOBS * 1000) / (performance.now() - start);
  db.close();
  if (done !== JOBS) throw new Error(`floor: processed ${done} of ${JOBS}`);
  return rate;
}

// A child of part 3: do one thing, report the peak RSS (getrusage) and exit.
if (rssChild !== undefined) {
  if (rssChild === "baton") await batonRound(8, { jobs: JOBS, durability: "full" });
  else if (rssChild === "plainjob") await plainjobRound(8, { jobs: JOBS });
  else if (rssChild === "floor") await floorBatched("full", process.argv[process.argv.indexOf("--rss-child") + 2]);
  else if (rssChild === "idle-baton") {
    const { defineHandler } = await import(join(root, "dist", "index.js"));
    const { z } = await import("zod");
    const baton = await openBatonDb(join(dir, "idle.db"), "full");
    defineHandler("noop", z.object({ i: z.number() }), async () => undefined);
    await baton.close();
  } else if (rssChild === "idle-sqlite") new Database(join(dir, "idle.db")).pragma("journal_mode = WAL");
  rmSync(dir, { recursive: true, force: true });
  process.send({ maxRssKiB: process.resourceUsage().maxRSS });
  process.exit(0);
}

async function peakRss(kind) {
  const args = ["--rss-child", kind];
  if (kind === "floor") {
    // Filled here, so that the child loads better-sqlite3 and nothing of baton.
    const path = join(dir, `rss-floor-${counter++}.db`);
    await fill("floor", path, RSS_JOBS, "full");
    args.push(path);
  }
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), args);
    child.once("message", (m) => resolve(m.maxRssKiB / 1024));
    child.once("exit", (code) => code !== 0 && reject(new Error(`${kind} exited ${code}`)));
  });
}

const results = new Map();
async function measure(label, fn) {
  const rates = [];
  for (let r = 0; r < ROUNDS; r++) rates.push(await fn());
  results.set(label, median(rates));
}
const get = (label) => results.get(label);
const fmt = (x) => `${Math.round(x).toLocaleString("en-US")}/s`.padStart(10);
const ratio = (a, b) => `${(get(a) / get(b)).toFixed(2)}×`;

console.log(`baton floor benchmark: ${JOBS} jobs, median of ${ROUNDS} round(s), node ${process.version}`);
console.log("\npart 1: one claim and one success per transaction, durability full");
for (const processes of [1, 8]) {
  for (const kind of ["raw", "floor", "baton"]) await measure(`${kind} ×${processes}`, () => inProcesses(kind, processes));
  console.log(
    `  ${processes} process(es): raw ${fmt(get(`raw ×${processes}`))}  floor ${fmt(get(`floor ×${processes}`))}  baton ${fmt(get(`baton ×${processes}`))}` +
      `   floor/raw ${ratio(`floor ×${processes}`, `raw ×${processes}`)}  baton/raw ${ratio(`baton ×${processes}`, `raw ×${processes}`)}  baton/floor ${ratio(`baton ×${processes}`, `floor ×${processes}`)}`,
  );
}
console.log(
  `  8 processes / 1: raw ${ratio("raw ×8", "raw ×1")}  floor ${ratio("floor ×8", "floor ×1")}  baton ${ratio("baton ×8", "baton ×1")}`,
);

console.log("\npart 2: one process at concurrency 8, successes and the next claim in one transaction");
for (const durability of ["full", "normal"]) {
  await measure(`floor ${durability}`, () => floorBatched(durability));
  await measure(`worker ${durability}`, async () => (await batonRound(8, { jobs: JOBS, durability })).process);
}
await measure("plainjob", async () => (await plainjobRound(8, { jobs: JOBS })).process);
for (const durability of ["full", "normal"]) {
  console.log(
    `  durability ${durability.padEnd(6)}: floor ${fmt(get(`floor ${durability}`))}  baton Worker ${fmt(get(`worker ${durability}`))}  plainjob (normal) ${fmt(get("plainjob"))}` +
      `   floor/plainjob ${ratio(`floor ${durability}`, "plainjob")}  Worker/plainjob ${ratio(`worker ${durability}`, "plainjob")}  Worker/floor ${ratio(`worker ${durability}`, `floor ${durability}`)}`,
  );
}

console.log(`\npart 3: peak RSS of one process (MiB), draining ${RSS_JOBS.toLocaleString("en-US")} jobs at concurrency 8 unless idle`);
const rss = {};
for (const kind of ["idle-sqlite", "idle-baton", "floor", "plainjob", "baton"]) rss[kind] = await peakRss(kind);
console.log(
  `  node + better-sqlite3, idle ${rss["idle-sqlite"].toFixed(1)}  + baton + zod, idle ${rss["idle-baton"].toFixed(1)}` +
    `  floor ${rss.floor.toFixed(1)}  plainjob ${rss.plainjob.toFixed(1)}  baton Worker ${rss.baton.toFixed(1)}   (target for the Worker ≤ 61)`,
);
rmSync(dir, { recursive: true, force: true });
process.exit(0);
