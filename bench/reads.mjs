#!/usr/bin/env node
/**
 * Read benchmark (issue 22): p50 / p95 of the reads the product relies on, on a seeded ledger of
 * 100,000 jobs with history, so a change to the write path (schema, indexes, history) can be
 * checked for what it costs the reads.
 *
 *   node bench/reads.mjs                      (npm run bench:reads)     100,000 jobs, SQLite
 *   node bench/reads.mjs --jobs 10000 --ci    (npm run bench:reads:ci)  short variant: exits 1 if
 *                                             any p95 is over its ceiling (a stall detector, not a
 *                                             speed target)
 *   BATON_BENCH_DATABASE_URL=postgres://… node bench/reads.mjs --postgres   the same on a fresh
 *                                             schema of that database (dropped afterwards)
 *
 * The ledger: `jobs` jobs over 10 projects and 200 workflows (tags, names, ~100-byte payloads),
 * enqueued in batches of 1,000; then 60 % claimed and succeeded (with evidence), 10 % claimed and
 * failed for good, 2 % claimed and left running; the rest queued. Every call goes through the
 * operation catalogue's `invoke`, as the CLI, MCP and HTTP front-ends do; "dashboard list" is what
 * `GET /api/jobs` calls. Export writes the whole ledger as NDJSON to a counting sink.
 *
 * The sources are bundled on the fly with esbuild (no build needed).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadSources as loadBundle } from "./sources.mjs";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : process.argv[i + 1];
};
const JOBS = Number(arg("jobs", "100000"));
const CI = process.argv.includes("--ci");
const POSTGRES = process.argv.includes("--postgres");
const SAMPLES = Number(arg("samples", CI ? "20" : "60"));
/** `--ci`: any p95 above this (ms) fails the run. Generous: a stall, not a regression of 10 %. */
const CEILING_MS = Number(arg("ceiling", "250"));
const PROJECTS = 10;
const WORKFLOWS = 200;

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];

function loadSources() {
  return loadBundle("reads", [
    'export { openEngine } from "./src/open.ts";',
    'export { getOperation } from "./src/ops/catalogue.ts";',
    'export { invoke } from "./src/ops/invoke.ts";',
    'export { exportLedger } from "./src/store/transfer/transfer.ts";',
    'export { sqliteRows, postgresRows } from "./src/store/transfer/rows.ts";',
  ]);
}

const project = (i) => `/bench/project-${i % PROJECTS}`;

async function seed(engine) {
  const t0 = performance.now();
  const ids = [];
  for (let i = 0; i < JOBS; i += 1000) {
    const n = Math.min(1000, JOBS - i);
    // One batch per project, so each job's project is its own (a batch shares its context).
    const specs = Array.from({ length: n }, (_, k) => {
      const j = i + k;
      return {
        type: j % 3 === 0 ? "review" : "edit_file",
        name: `step-${j}`,
        workflow: `wf-${j % WORKFLOWS}`,
        tags: [`t${j % 7}`, j % 11 === 0 ? "urgent" : "routine"],
        payload: { file: `src/module${j}.ts`, note: "x".repeat(60) },
        priority: j % 5,
        project: project(j),
      };
    });
    const outcomes = await engine.enqueue(specs, { actor: "bench" });
    ids.push(...outcomes.map((o) => o.job.id));
  }
  // History: claim in batches of 500 and record outcomes in one transaction per batch.
  const target = {
    succeed: Math.floor(JOBS * 0.6),
    fail: Math.floor(JOBS * 0.1),
    run: Math.floor(JOBS * 0.02),
  };
  let succeeded = 0;
  let failed = 0;
  let running = 0;
  const total = target.succeed + target.fail + target.run;
  while (succeeded + failed + running < total) {
    const limit = Math.min(500, total - succeeded - failed - running);
    const claimed = await engine.claim({ owner: "seed", limit, leaseMs: 3_600_000 });
    if (claimed.length === 0) break;
    const ops = [];
    for (const c of claimed) {
      if (succeeded < target.succeed) {
        succeeded++;
        ops.push({
          kind: "finish",
          jobId: c.job.id,
          outcome: "succeeded",
          options: { token: c.token, actor: "seed", evidence: { tests: "passed", n: succeeded } },
        });
      } else if (failed < target.fail) {
        failed++;
        ops.push({
          kind: "finish",
          jobId: c.job.id,
          outcome: "failed",
          options: { token: c.token, actor: "seed", error: "compile error", noRetry: true },
        });
      } else running++;
    }
    if (ops.length > 0) await engine.batch(ops);
  }
  return { ids, seconds: (performance.now() - t0) / 1000, succeeded, failed, running };
}

async function main() {
  const { openEngine, getOperation, invoke, exportLedger, sqliteRows, postgresRows } = await loadSources();
  const home = mkdtempSync(join(tmpdir(), "baton-bench-reads-"));
  let cleanup = async () => undefined;
  let opened;
  let rowsOf;
  if (POSTGRES) {
    const url = process.env.BATON_BENCH_DATABASE_URL;
    if (url === undefined) throw new Error("--postgres needs BATON_BENCH_DATABASE_URL");
    const schema = `baton_reads_${process.pid}`;
    opened = await openEngine({ databaseUrl: url, databaseSchema: schema, actor: "bench" });
    rowsOf = () => postgresRows(url, schema);
    cleanup = async () => {
      const pg = await import("pg");
      const client = new pg.default.Client({ connectionString: url });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    };
  } else {
    const databasePath = join(home, "baton.db");
    opened = await openEngine({ databasePath, durability: "normal", actor: "bench" });
    rowsOf = () => sqliteRows(databasePath);
  }
  const { engine, store } = opened;
  const load = readLoad;
  try {
    const before = load();
    const seeded = await seed(engine);
    console.log(
      `read benchmark: ${JOBS.toLocaleString("en-US")} jobs on ${store.kind} (${seeded.succeeded} succeeded, ` +
        `${seeded.failed} failed, ${seeded.running} running, the rest queued; seeded in ${seeded.seconds.toFixed(1)} s), ` +
        `${SAMPLES} samples per read after 3 of warm-up; node ${process.version}; load average ${before}`,
    );
    const ctxFor = (i) => ({ engine, cwd: project(i), actor: "bench", location: store.location });
    const pick = (n) => seeded.ids[(n * 7919 + 13) % seeded.ids.length];
    const reads = [
      ["resume (project)", (n) => invoke(getOperation("resume_session"), {}, ctxFor(n))],
      [
        "resume (workflow)",
        (n) =>
          invoke(getOperation("resume_session"), { workflow: `wf-${n % WORKFLOWS}` }, ctxFor(n % WORKFLOWS)),
      ],
      ["audit (project, 100 events)", (n) => invoke(getOperation("audit_log"), { limit: 100 }, ctxFor(n))],
      [
        "audit (workflow)",
        (n) => invoke(getOperation("audit_log"), { workflow: `wf-${n % WORKFLOWS}` }, ctxFor(n % WORKFLOWS)),
      ],
      [
        "audit summary (project, 7d)",
        (n) => invoke(getOperation("audit_log"), { summary: true, since: "7d" }, ctxFor(n)),
      ],
      ["explain", (n) => invoke(getOperation("explain_task"), { id: pick(n) }, ctxFor(0))],
      [
        "check_task (dashboard job page)",
        (n) => invoke(getOperation("check_task"), { id: pick(n), events: 500 }, ctxFor(0)),
      ],
      ["list: project, live", (n) => invoke(getOperation("list_tasks"), { state: "live" }, ctxFor(n))],
      ["list: project, failed", (n) => invoke(getOperation("list_tasks"), { state: "failed" }, ctxFor(n))],
      [
        "list: workflow",
        (n) => invoke(getOperation("list_tasks"), { workflow: `wf-${n % WORKFLOWS}` }, ctxFor(n % WORKFLOWS)),
      ],
      ["list: tag", (n) => invoke(getOperation("list_tasks"), { tag: "urgent" }, ctxFor(n))],
      [
        "list: type + since 1h",
        (n) => invoke(getOperation("list_tasks"), { type: "review", since: "1h" }, ctxFor(n)),
      ],
      [
        "list: text search",
        (n) => invoke(getOperation("list_tasks"), { text: `module${n * 37}.ts` }, ctxFor(n)),
      ],
      // GET /api/jobs (src/http/api.ts): list_tasks over every project, 50 a page.
      [
        "dashboard list (all projects)",
        () => invoke(getOperation("list_tasks"), { all: true, limit: 50 }, ctxFor(0)),
      ],
      [
        "dashboard list (all, running)",
        () => invoke(getOperation("list_tasks"), { all: true, state: "running", limit: 50 }, ctxFor(0)),
      ],
    ];
    const results = [];
    const line = (name, sorted, unit = "ms") =>
      `  ${name.padEnd(34)} p50 ${percentile(sorted, 0.5).toFixed(2).padStart(8)} ${unit}  p95 ${percentile(sorted, 0.95).toFixed(2).padStart(8)} ${unit}  (n=${sorted.length})`;
    for (const [name, fn] of reads) {
      for (let i = 0; i < 3; i++) await fn(i);
      const times = [];
      for (let i = 0; i < SAMPLES; i++) {
        const t0 = performance.now();
        await fn(i + 3);
        times.push(performance.now() - t0);
      }
      times.sort((a, b) => a - b);
      results.push({ name, p50: percentile(times, 0.5), p95: percentile(times, 0.95) });
      console.log(line(name, times));
    }
    // Export: the whole ledger, a few times (each reads every row).
    const exports = [];
    let bytes = 0;
    for (let i = 0; i < (CI ? 2 : 3); i++) {
      const rows = await rowsOf();
      bytes = 0;
      const t0 = performance.now();
      await exportLedger(rows, (text) => {
        bytes += text.length;
      });
      exports.push(performance.now() - t0);
      await rows.close?.();
    }
    exports.sort((a, b) => a - b);
    results.push({
      name: "export (whole ledger)",
      p50: percentile(exports, 0.5),
      p95: percentile(exports, 0.95),
    });
    console.log(`${line("export (whole ledger)", exports)}  ${(bytes / 1e6).toFixed(1)} MB`);
    console.log(`load average after: ${load()}`);
    if (CI) {
      const slow = results.filter((r) => r.name !== "export (whole ledger)" && r.p95 > CEILING_MS);
      for (const r of slow) console.log(`  FAIL ${r.name}: p95 ${r.p95.toFixed(1)} ms > ${CEILING_MS} ms`);
      if (slow.length > 0) process.exitCode = 1;
      else console.log(`  PASS every read's p95 ≤ ${CEILING_MS} ms`);
    }
  } finally {
    await store.close();
    await cleanup();
    rmSync(home, { recursive: true, force: true });
  }
}

function readLoad() {
  try {
    return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  } catch {
    return "?";
  }
}

await main();
