#!/usr/bin/env node
/**
 * R-06 (RELIABILITY.md): a burst of 100,000 jobs enqueued while the dashboard API is polled.
 * Targets: daemon RSS < 250 MB, list API p95 < 200 ms, 0 dropped enqueues.
 *
 *   node bench/http.mjs                 100,000 jobs (or: npm run bench:http)
 *   node bench/http.mjs --quick         10,000 jobs
 *   node bench/http.mjs --jobs 16000 --batch 500 --producers 4 --home <dir> --json [--bin <baton.js>]
 *
 * Everything is a real process, as a user has it: `baton dashboard` starts the daemon and its HTTP
 * server; `--producers` processes run `baton enqueue -f <batch>` one batch after another, half of
 * them served by the daemon (the thin client hands the call to it), half in their own process
 * (BATON_DIRECT=1, so the daemon's SQLite file is written from outside too). Meanwhile this
 * process polls `GET /api/jobs` (the dashboard's list: newest 50 of every project, with the total)
 * and `GET /api/stats` back to back over HTTP, and keeps one `/api/stream` (SSE) open like an open
 * dashboard tab. The daemon's RSS is sampled from /proc every 100 ms; its VmHWM (peak resident)
 * is read at the end.
 *
 * Printed: RSS peak, list p50/p95/p99 and count, stats p95, dropped enqueues (jobs asked for that
 * are not in the ledger afterwards), enqueue rate, SSE events received. Build first (`npm run build`).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
// `--bin`: another build's bin/baton.js (e.g. a copy, while the working tree is being rebuilt).
const BIN = process.argv.includes("--bin") ? process.argv[process.argv.indexOf("--bin") + 1] : join(root, "bin", "baton.js");

function flag(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const quick = process.argv.includes("--quick");
const asJson = process.argv.includes("--json");
const JOBS = Number(flag("--jobs", quick ? "10000" : "100000"));
const BATCH = Number(flag("--batch", quick ? "500" : "1000"));
const PRODUCERS = Number(flag("--producers", "4"));
const givenHome = flag("--home", undefined);
const home = givenHome ?? mkdtempSync(join(tmpdir(), "bhttp-"));
const log = (text) => {
  if (!asJson) process.stdout.write(`${text}\n`);
};

function baton(args, env = {}) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: home,
      env: { ...process.env, BATON_HOME: home, NO_COLOR: "1", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => (stdout += c));
    child.stderr.on("data", (c) => (stderr += c));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

function get(url, token) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = request(url, { headers: { authorization: `Bearer ${token}` } }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode,
          body: JSON.parse(Buffer.concat(chunks).toString("utf8")),
          ms: performance.now() - started,
        }),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

function rssOf(pid, field = "VmRSS") {
  try {
    const line = readFileSync(`/proc/${pid}/status`, "utf8")
      .split("\n")
      .find((l) => l.startsWith(`${field}:`));
    return line === undefined ? 0 : Number(line.split(/\s+/)[1]) / 1024; // kB → MB
  } catch {
    return 0;
  }
}

function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** One producer: its share of the jobs, `baton enqueue -f` per batch, in order. */
async function producer(index, count, first) {
  const env = index % 2 === 1 ? { BATON_DIRECT: "1" } : {};
  let acknowledged = 0;
  const failures = [];
  for (let done = 0; done < count; done += BATCH) {
    const size = Math.min(BATCH, count - done);
    const file = join(home, `batch-${index}.ndjson`);
    const lines = [];
    for (let i = 0; i < size; i++) {
      const n = first + done + i;
      lines.push(JSON.stringify({ payload: { n, file: `src/file-${n}.ts` }, tags: [`p${index}`] }));
    }
    writeFileSync(file, `${lines.join("\n")}\n`);
    const result = await baton(["enqueue", "-f", file, "--workflow", "burst", "--json"], env);
    try {
      const answer = JSON.parse(result.stdout);
      if (answer.ok) acknowledged += answer.data.jobs.length;
      else failures.push(answer.error.code);
    } catch {
      failures.push(`exit ${result.code}: ${result.stderr.slice(0, 200)}`);
    }
  }
  return { acknowledged, failures };
}

async function main() {
  const started = await baton(["dashboard", "--no-open", "--json"]);
  if (started.code !== 0) throw new Error(`baton dashboard failed: ${started.stdout}${started.stderr}`);
  const link = JSON.parse(started.stdout).data;
  const token = new URL(link.url).searchParams.get("token");
  const base = link.base;
  const daemonPid = JSON.parse(readFileSync(join(home, "daemon.json"), "utf8")).pid;
  log(`R-06 burst: ${JOBS} jobs by ${PRODUCERS} producers in batches of ${BATCH}; daemon pid ${daemonPid}, ${base}`);

  let rssPeak = rssOf(daemonPid);
  const rssStart = rssPeak;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssOf(daemonPid))), 100);

  // One open dashboard tab: the live stream.
  let sseEvents = 0;
  const stream = request(`${base}api/stream`, { headers: { authorization: `Bearer ${token}` } }, (res) => {
    res.setEncoding("utf8");
    res.on("data", (chunk) => (sseEvents += chunk.split("\nevent: ledger\n").length - 1));
    res.on("error", () => undefined);
  });
  stream.on("error", () => undefined);
  stream.end();

  // The dashboard's polling, back to back, until the producers are done.
  const listMs = [];
  const statsMs = [];
  const pollErrors = [];
  let producing = true;
  const poller = (async () => {
    while (producing) {
      for (const [path, into] of [
        ["api/jobs?limit=50", listMs],
        ["api/stats", statsMs],
      ]) {
        try {
          const answer = await get(`${base}${path}`, token);
          if (answer.status === 200) into.push(answer.ms);
          else pollErrors.push(`${path}: ${answer.status} ${answer.body?.error?.code}`);
        } catch (error) {
          pollErrors.push(`${path}: ${error.message}`);
        }
      }
    }
  })();

  const t0 = performance.now();
  const share = Math.ceil(JOBS / PRODUCERS);
  const results = await Promise.all(
    Array.from({ length: PRODUCERS }, (_, i) => producer(i, Math.max(0, Math.min(share, JOBS - i * share)), i * share)),
  );
  const seconds = (performance.now() - t0) / 1000;
  producing = false;
  await poller;

  const total = (await get(`${base}api/jobs?workflow=burst&limit=1`, token)).body.data.total;
  clearInterval(sampler);
  rssPeak = Math.max(rssPeak, rssOf(daemonPid), rssOf(daemonPid, "VmHWM"));
  stream.destroy();

  const acknowledged = results.reduce((n, r) => n + r.acknowledged, 0);
  const failures = results.flatMap((r) => r.failures);
  const report = {
    jobs: JOBS,
    producers: PRODUCERS,
    batch: BATCH,
    seconds: Number(seconds.toFixed(1)),
    enqueuesPerSecond: Math.round(JOBS / seconds),
    inLedger: total,
    acknowledged,
    dropped: JOBS - total,
    failedBatches: failures,
    rssStartMb: Number(rssStart.toFixed(1)),
    rssPeakMb: Number(rssPeak.toFixed(1)),
    listCalls: listMs.length,
    listP50Ms: Number(percentile(listMs, 50).toFixed(1)),
    listP95Ms: Number(percentile(listMs, 95).toFixed(1)),
    listP99Ms: Number(percentile(listMs, 99).toFixed(1)),
    listMaxMs: Number(Math.max(...listMs).toFixed(1)),
    statsP95Ms: Number(percentile(statsMs, 95).toFixed(1)),
    pollErrors,
    sseEvents,
  };
  if (asJson) process.stdout.write(`${JSON.stringify(report)}\n`);
  else {
    const verdict = (ok) => (ok ? "ok" : "OVER TARGET");
    log(`enqueued ${report.inLedger}/${JOBS} in ${report.seconds} s (${report.enqueuesPerSecond}/s); dropped ${report.dropped} [${verdict(report.dropped === 0)}]`);
    log(`daemon RSS: ${report.rssStartMb} MB at start, peak ${report.rssPeakMb} MB (target < 250) [${verdict(report.rssPeakMb < 250)}]`);
    log(`GET /api/jobs x${report.listCalls}: p50 ${report.listP50Ms} ms, p95 ${report.listP95Ms} ms, p99 ${report.listP99Ms} ms, max ${report.listMaxMs} ms (target p95 < 200) [${verdict(report.listP95Ms < 200)}]`);
    log(`GET /api/stats p95 ${report.statsP95Ms} ms; SSE events received ${sseEvents}; poll errors ${pollErrors.length}; failed batches ${failures.length}`);
    for (const failure of [...new Set([...failures, ...pollErrors])].slice(0, 5)) log(`  error: ${failure}`);
  }
}

try {
  await main();
} finally {
  await baton(["daemon", "stop"]);
  if (givenHome === undefined) rmSync(home, { recursive: true, force: true });
  else if (existsSync(join(home, "batch-0.ndjson"))) {
    for (let i = 0; i < PRODUCERS; i++) rmSync(join(home, `batch-${i}.ndjson`), { force: true });
  }
}
