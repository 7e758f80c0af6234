// R-05 soak (RELIABILITY.md): many jobs through one library worker at concurrency 32 on a temp
// SQLite file, while a producer keeps enqueuing. Per window (a twentieth of the jobs) it prints the
// throughput, resident memory, open file descriptors, the WAL file's size and the latency of a
// claim, then the R-05 verdicts:
//
//   RSS growth < 10 %     RSS after a full GC at the end vs at the end of warm-up (node --expose-gc);
//                         without --expose-gc, median RSS of the last four windows vs the first four
//   fds stable            open fds at the end ≤ at the end of warm-up + 2
//   WAL bounded           the -wal file never exceeds 16 MiB (see WAL_BOUND)
//   claim p99 ≤ 1.5×      p99 of the probe claims of the last four windows vs of the first four
//
//   npm run build && npm run soak        # 100,000 jobs
//   npm run soak:ci                      # 10,000 jobs (what test/reliability.sqlite-soak.test.ts runs)
//   node --expose-gc bench/soak.mjs --jobs 20000 --concurrency 32 --durability normal --json
//
// Claim latency is measured by a probe, not inside the worker: every PROBE_EVERY_MS the probe
// enqueues one job of a type the worker does not handle, times `baton.claim` for it (which waits
// for the write lock behind the worker's transactions, as any claimer would) and completes it. A
// claim that slows down as the ledger grows (jobs, attempts, events pile up: nothing is cleaned
// during the soak) shows up there.
//
// RSS is sampled every 50 ms and a window's figure is the median of its samples: a single sample
// lands anywhere in the garbage collector's saw-tooth, a median over hundreds does not. Nothing is
// forced (no global.gc()): the point is what the process holds when left alone.
//
// `--lib <url>` loads the library from another build (the test passes its private bundle, so that
// a concurrent rebuild of dist/ cannot break it). `--json` prints one JSON line instead of text.
// Exits 1 when a verdict fails.
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { z } from "zod";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const JOBS = Number(option("jobs", "100000"));
const CONCURRENCY = Number(option("concurrency", "32"));
const DURABILITY = option("durability", "full");
const LIB = option("lib", pathToFileURL(join(root, "dist", "index.js")).href);
const JSON_OUT = args.includes("--json");

const WINDOWS = 20;
/**
 * Jobs run before the measured ones: module loading, statement preparation, and V8 growing its
 * young generation and old-generation limits to their working size take about 20,000 jobs here
 * (measured: after 5,000, RSS after a full GC still rose 6–7 % over the next 10,000 while the
 * retained heap stayed flat at 14 MiB; after 20,000 it moved −3 … +1 %), and RSS climbs meanwhile
 * without anything leaking.
 */
const WARMUP = Number(option("warmup", "20000"));
/** Enqueue ahead of the worker by at most this many jobs (a soak, not a backlog test). */
const BACKLOG = 2000;
const ENQUEUE_CHUNK = 250;
const PROBE_EVERY_MS = 10;
const RSS_SAMPLE_MS = 20;
/**
 * The WAL bound. SQLite checkpoints (and then rewrites the -wal file from its start) once the WAL
 * holds wal_autocheckpoint = 1000 pages (4 MiB at 4 KiB pages); the file can exceed that by the
 * transaction that crossed the line (a worker batch is at most 256 items) and by frames appended
 * while a checkpoint could not reset it. 16 MiB is four times the checkpoint size: far above what a
 * healthy ledger writes, far below what a WAL that is never reset reaches in a soak (it grows with
 * every job: ~1 KiB each).
 */
const WAL_BOUND = 16 * 1024 * 1024;
const FD_SLACK = 2;

if (!(JOBS >= WINDOWS * 10) || !(CONCURRENCY >= 1)) {
  console.error(`bench/soak.mjs: --jobs must be ≥ ${WINDOWS * 10} and --concurrency ≥ 1`);
  process.exit(2);
}

const { openBaton, defineHandler } = await import(LIB);

const median = (xs) => (xs.length === 0 ? NaN : [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]);
const quantile = (xs, q) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const openFds = () => readdirSync("/proc/self/fd").length;
const fileSize = (path) => {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
};

const home = mkdtempSync(join(tmpdir(), "baton-soak-"));
const baton = await openBaton({ home, durability: DURABILITY });
const walPath = `${baton.store.location}-wal`;

let done = 0;
const soak = defineHandler("soak", z.object({ i: z.number() }), async () => {
  done++;
});

// Per-window measurements, filled as the run goes.
const newWindow = () => ({ rss: [], heap: [], probes: [], walMax: 0 });
const warmup = newWindow();
const windows = Array.from({ length: WINDOWS }, newWindow);
const current = () =>
  done < WARMUP ? warmup : windows[Math.min(WINDOWS - 1, Math.floor(((done - WARMUP) * WINDOWS) / JOBS))];

const sampler = setInterval(() => {
  const w = current();
  const m = process.memoryUsage();
  w.rss.push(m.rss);
  w.heap.push(m.heapUsed);
  w.walMax = Math.max(w.walMax, fileSize(walPath));
}, RSS_SAMPLE_MS);

let finished = false;

async function produce() {
  let enqueued = 0;
  while (enqueued < WARMUP + JOBS) {
    if (enqueued - done >= BACKLOG) {
      await sleep(2);
      continue;
    }
    const n = Math.min(ENQUEUE_CHUNK, WARMUP + JOBS - enqueued);
    await baton.enqueueMany(
      soak,
      Array.from({ length: n }, (_, k) => ({ payload: { i: enqueued + k } })),
    );
    enqueued += n;
  }
}

async function probe() {
  while (!finished) {
    await baton.enqueue({ type: "soak_probe", payload: {} });
    const w = current();
    const t0 = performance.now();
    const [claimed] = await baton.claim({ types: ["soak_probe"], owner: "probe" });
    w.probes.push(performance.now() - t0);
    if (claimed !== undefined) await baton.complete(claimed.job.id, { token: claimed.token });
    await sleep(PROBE_EVERY_MS);
  }
}

const started = performance.now();
const worker = baton.worker({ handlers: [soak], concurrency: CONCURRENCY });
worker.on("error", (error) => console.error(`worker error: ${error.message}`));
await worker.start();
const producing = produce();
const probing = probe();

/**
 * Resident memory after a full garbage collection: what the process retains, without the
 * collector's saw-tooth (which at 10,000 jobs swings the windows' medians by ±10 %). Needs
 * `node --expose-gc` (the npm scripts and the CI test pass it); without it, undefined.
 */
async function retained() {
  if (typeof globalThis.gc !== "function") return undefined;
  globalThis.gc();
  await sleep(20);
  globalThis.gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed };
}

// Record each window's end: time, fds, WAL size.
const rows = [];
while (done < WARMUP) await sleep(5);
const fdsStart = openFds();
const retainedStart = await retained();
let lastDone = done;
let lastAt = performance.now();
const measuredFrom = lastAt;
for (let k = 1; k <= WINDOWS; k++) {
  const target = WARMUP + Math.ceil((JOBS * k) / WINDOWS);
  while (done < target) await sleep(5);
  const now = performance.now();
  const w = windows[k - 1];
  rows.push({
    window: k,
    done: done - WARMUP,
    rate: ((done - lastDone) * 1000) / (now - lastAt),
    rssMiB: median(w.rss) / 2 ** 20,
    heapMiB: median(w.heap) / 2 ** 20,
    fds: openFds(),
    walKiB: Math.max(w.walMax, fileSize(walPath)) / 1024,
    probes: w.probes.length,
    claimP50: median(w.probes),
    claimP99: quantile(w.probes, 0.99),
  });
  lastDone = done;
  lastAt = now;
}
const elapsedS = (performance.now() - measuredFrom) / 1000;
const totalS = (performance.now() - started) / 1000;
finished = true;
await producing;
await probing;
const retainedEnd = await retained();
clearInterval(sampler);
const fdsEnd = openFds();
await worker.stop();
const counts = await baton.store.countByState({ types: ["soak"] });
await baton.close();
rmSync(home, { recursive: true, force: true });

// Verdicts: the first fifth of the measured jobs against the last fifth.
const pick = (from, to, key) => windows.slice(from, to).flatMap((w) => w[key]);
// With --expose-gc: RSS after a full collection at the end of warm-up and at the end. Without it:
// the median RSS of the first four windows and of the last four.
const rssStart = retainedStart?.rss ?? median(pick(0, 4, "rss"));
const rssEnd = retainedEnd?.rss ?? median(pick(WINDOWS - 4, WINDOWS, "rss"));
const rssGrowth = rssEnd / rssStart - 1;
const walMax = Math.max(warmup.walMax, ...windows.map((w) => w.walMax), ...rows.map((r) => r.walKiB * 1024));
const claimStart = quantile(pick(0, 4, "probes"), 0.99);
const claimEnd = quantile(pick(WINDOWS - 4, WINDOWS, "probes"), 0.99);
const succeeded = counts.find((c) => c.state === "succeeded")?.count ?? 0;

const result = {
  jobs: JOBS,
  concurrency: CONCURRENCY,
  durability: DURABILITY,
  warmup: WARMUP,
  totalS,
  elapsedS,
  jobsPerS: JOBS / elapsedS,
  succeeded,
  rssStartMiB: rssStart / 2 ** 20,
  rssEndMiB: rssEnd / 2 ** 20,
  rssGrowth,
  rssMeasure: retainedStart === undefined ? "window medians" : "after full GC",
  heapRetainedStartMiB: retainedStart === undefined ? null : retainedStart.heap / 2 ** 20,
  heapRetainedEndMiB: retainedEnd === undefined ? null : retainedEnd.heap / 2 ** 20,
  fdsStart,
  fdsEnd,
  walMaxBytes: walMax,
  walBoundBytes: WAL_BOUND,
  claimP99StartMs: claimStart,
  claimP99EndMs: claimEnd,
  claimRatio: claimEnd / claimStart,
  windows: rows,
};
const verdicts = {
  "all jobs succeeded": succeeded === WARMUP + JOBS,
  "RSS growth < 10 %": rssGrowth < 0.1,
  [`fds stable (end ≤ start + ${FD_SLACK})`]: fdsEnd <= fdsStart + FD_SLACK,
  "WAL bounded (≤ 16 MiB)": walMax <= WAL_BOUND,
  "claim p99 end ≤ 1.5× start": claimEnd <= 1.5 * claimStart,
};
result.verdicts = verdicts;
result.pass = Object.values(verdicts).every(Boolean);

if (JSON_OUT) {
  console.log(JSON.stringify(result));
} else {
  const f = (x, d = 1) => x.toFixed(d);
  console.log(
    `R-05 soak: ${JOBS.toLocaleString("en-US")} jobs after ${WARMUP.toLocaleString("en-US")} of warm-up, concurrency ${CONCURRENCY}, durability=${DURABILITY}, node ${process.version}`,
  );
  console.log(
    `${"window".padStart(6)} ${"done".padStart(8)} ${"jobs/s".padStart(8)} ${"rss MiB".padStart(8)} ${"heap MiB".padStart(9)} ${"fds".padStart(4)} ${"wal KiB".padStart(8)} ${"probes".padStart(6)} ${"claim p50".padStart(10)} ${"p99 ms".padStart(7)}`,
  );
  for (const r of rows) {
    console.log(
      `${String(r.window).padStart(6)} ${String(r.done).padStart(8)} ${f(r.rate, 0).padStart(8)} ${f(r.rssMiB).padStart(8)} ${f(r.heapMiB).padStart(9)} ${String(r.fds).padStart(4)} ${f(r.walKiB, 0).padStart(8)} ${String(r.probes).padStart(6)} ${f(r.claimP50, 2).padStart(10)} ${f(r.claimP99, 2).padStart(7)}`,
    );
  }
  console.log(
    `\n${f(elapsedS)} s measured (${f(totalS)} s in all), ${f(JOBS / elapsedS, 0)} jobs/s; RSS (${result.rssMeasure}) ${f(rssStart / 2 ** 20)} → ${f(rssEnd / 2 ** 20)} MiB (${f(rssGrowth * 100)} %)${retainedStart === undefined ? "" : `, heap ${f(result.heapRetainedStartMiB)} → ${f(result.heapRetainedEndMiB)} MiB`}; fds ${fdsStart} → ${fdsEnd}; WAL max ${f(walMax / 1024, 0)} KiB; claim p99 ${f(claimStart, 2)} → ${f(claimEnd, 2)} ms (${f(claimEnd / claimStart, 2)}×)`,
  );
  for (const [name, ok] of Object.entries(verdicts)) console.log(`  ${ok ? "PASS" : "FAIL"}  ${name}`);
}
process.exit(result.pass ? 0 : 1);
