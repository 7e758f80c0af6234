#!/usr/bin/env node
/**
 * What one index costs the write path, with nothing but baton's own SQL: a fresh ledger per
 * variant of the schema, the same work in each, CPU time per job (process.cpuUsage, which the
 * machine's load disturbs far less than wall-clock rates), variants alternating round by round.
 *
 *   node bench/schema-indexes.mjs                    # 4,000 jobs, median of 7 rounds
 *   node bench/schema-indexes.mjs --jobs 2000 --rounds 3
 *
 * Work per variant: enqueue one by one (the job row, which carries its derived `enqueued` event
 * since migration 000011, one transaction each: sqlite, durability normal), enqueue the same number again in transactions of 1,000, then
 * drain all of them with the Worker's pattern at concurrency 8
 * (bench/floor-statements.mjs: the finished jobs' successes and the next claim, one transaction).
 * Variants: the schema as migrated; with the `enqueued` event stored as a row, as before
 * migration 000011 (D152); with jobs_claim_any put back (the schema before migration
 * 000010, D119); without events_at (D106's third step, not landed); without jobs_short_id,
 * jobs_workflow or jobs_state, one at a time (what each read index costs the write path, D143);
 * with jobs_workflow over every job, as before migration 000012 (D155); with jobs_state over
 * every job, as before migration 000013 (D158). `--only "- jobs_state,+ whole jobs_state"` runs
 * only those variants besides "as migrated".
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { floorStatements, NEXT_EVENT_ID } from "./floor-statements.mjs";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : process.argv[i + 1];
};
const JOBS = Number(arg("jobs", "4000"));
const ROUNDS = Number(arg("rounds", "7"));
/** `--only "a,b"`: run only these variants (and "as migrated", the base of every ratio). */
const ONLY = arg("only", undefined)?.split(",");
// Each variant: DDL run after the migrations. `storedEvent`: enqueue the way baton did before
// migration 000011 (D152): the job row without its enqueue columns and an `enqueued` event row.
const VARIANTS = {
  "as migrated": [],
  "+ stored enqueued event": Object.assign([], { storedEvent: true }),
  "+ jobs_claim_any": [
    "CREATE INDEX jobs_claim_any ON jobs (priority DESC, run_at, id) WHERE state IN ('queued','retrying')",
  ],
  "- events_at": ["DROP INDEX events_at"],
  // What each of the job's other read indexes costs an enqueue (D143); each serves a read.
  "- jobs_short_id": ["DROP INDEX jobs_short_id"],
  "- jobs_workflow": ["DROP INDEX jobs_workflow"],
  "- jobs_state": ["DROP INDEX jobs_state"],
  // jobs_workflow over every job, as before migration 000012 (D155: now only the jobs with a
  // project or a workflow; these benchmark jobs have neither).
  "+ whole jobs_workflow": [
    "DROP INDEX jobs_workflow",
    "CREATE INDEX jobs_workflow ON jobs (project, workflow, id)",
  ],
  // jobs_state over every job, as before migration 000013 (D158: now only the jobs that are not
  // queued or retrying).
  "+ whole jobs_state": ["DROP INDEX jobs_state", "CREATE INDEX jobs_state ON jobs (state, finished_at)"],
};
const sqlDir = join(dirname(fileURLToPath(import.meta.url)), "..", "sql", "sqlite");
/** The numbered SQLite migrations, in order (what `migrate` runs on a fresh file). */
const migrations = readdirSync(sqlDir)
  .filter((f) => /^\d{6}_.*\.sql$/.test(f))
  .sort()
  .map((f) => readFileSync(join(sqlDir, f), "utf8"));
const PAYLOAD = JSON.stringify({ i: 0, pad: "x".repeat(80) });
const loadavg = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
const cpuUs = () => {
  const c = process.cpuUsage();
  return c.user + c.system;
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function round(extra) {
  const dir = mkdtempSync(join(tmpdir(), "schema-indexes-"));
  const db = new Database(join(dir, "baton.db"));
  try {
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    for (const m of migrations) db.exec(m);
    for (const statement of extra) db.exec(statement);
    // baton's enqueue: the job row carries its `enqueued` event (src/store/sqlite/sqlite-store.ts).
    const derivedJob = db.prepare(
      `INSERT INTO jobs (id, type, payload, state, run_at, max_attempts, backoff, created_at, updated_at, enqueue_id, enqueue_actor, enqueue_state)
       VALUES (?, 'bench', ?, 'queued', ?, 1, '{"kind":"fixed","delayMs":0}', ?, ?, ${NEXT_EVENT_ID}, 'producer', 'queued')`,
    );
    const storedJob = db.prepare(
      `INSERT INTO jobs (id, type, payload, state, run_at, max_attempts, backoff, created_at, updated_at)
       VALUES (?, 'bench', ?, 'queued', ?, 1, '{"kind":"fixed","delayMs":0}', ?, ?)`,
    );
    const storedEvent = db.prepare(
      `INSERT INTO events (id, job_id, workflow, project, at, actor, kind, from_state, to_state, details) VALUES (${NEXT_EVENT_ID}, ?, NULL, NULL, ?, 'producer', 'enqueued', NULL, 'queued', NULL)`,
    );
    const job = extra.storedEvent === true ? storedJob : derivedJob;
    const event = extra.storedEvent === true ? storedEvent : { run() {} };
    const begin = db.prepare("BEGIN IMMEDIATE");
    const commit = db.prepare("COMMIT");
    let t0 = cpuUs();
    for (let i = 0; i < JOBS; i++) {
      const now = Date.now();
      const id = `01J${randomBytes(12).toString("hex").toUpperCase()}`;
      begin.run();
      job.run(id, PAYLOAD, now, now, now);
      event.run(id, now);
      commit.run();
    }
    const enqueue = (cpuUs() - t0) / JOBS;
    t0 = cpuUs();
    for (let i = 0; i < JOBS; i += 1000) {
      const now = Date.now();
      begin.run();
      for (let k = i; k < Math.min(JOBS, i + 1000); k++) {
        const id = `01J${randomBytes(12).toString("hex").toUpperCase()}`;
        job.run(id, PAYLOAD, now, now, now);
        event.run(id, now);
      }
      commit.run();
    }
    const batch = (cpuUs() - t0) / JOBS;
    const floor = floorStatements(db, "normal");
    t0 = cpuUs();
    let done = 0;
    let rows = floor.claim("worker", 8);
    while (rows.length > 0) {
      done += rows.length;
      rows = floor.succeedThenClaim("worker", rows, 8);
    }
    if (done !== 2 * JOBS) throw new Error(`drained ${done} of ${2 * JOBS} jobs`);
    return { enqueue, batch, process: (cpuUs() - t0) / done };
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(
  `schema indexes: ${JOBS.toLocaleString("en-US")} jobs, ${ROUNDS} rounds (variants alternating), CPU µs per job, median; load average ${loadavg()} before`,
);
const results = Object.fromEntries(
  Object.keys(VARIANTS).map((k) => [k, { enqueue: [], batch: [], process: [] }]),
);
if (ONLY !== undefined)
  for (const name of Object.keys(VARIANTS))
    if (name !== "as migrated" && !ONLY.includes(name)) {
      delete VARIANTS[name];
      delete results[name];
    }
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, extra] of Object.entries(VARIANTS)) {
    const measured = round(extra);
    for (const key of ["enqueue", "batch", "process"]) results[name][key].push(measured[key]);
  }
}
const base = results["as migrated"];
for (const [name, r] of Object.entries(results)) {
  const cell = (key) =>
    `${median(r[key]).toFixed(1).padStart(7)} (${(median(r[key]) / median(base[key])).toFixed(3)}×)`;
  console.log(
    `  ${name.padEnd(24)} enqueue one by one ${cell("enqueue")}   batches of 1,000 ${cell("batch")}   process c=8 ${cell("process")}`,
  );
}
console.log(`load average ${loadavg()} after`);
