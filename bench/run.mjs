// baton's SQLite benchmark: baton vs raw better-sqlite3 doing the minimal equivalent, and vs
// plainjob 0.0.14 (its own defaults), side by side in one run. Prints absolute numbers and ratios.
//
//   npm run bench                     # durability "full" (baton's default)
//   npm run bench -- --durability normal
//   npm run bench -- --quick          # small counts (CI smoke)
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { drainInProcesses, fill, median, openBatonDb, payload, plainjobQueue, rawDb } from "./sqlite-setup.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const durability = args.includes("--durability") ? args[args.indexOf("--durability") + 1] : "full";
const quick = args.includes("--quick");
// Rows whose contenders take turns report medians: enqueue one by one of ROUNDS runs, claim +
// complete of up to 3.
const ROUNDS = quick ? 1 : 5;
const N = {
  single: quick ? 300 : 2000,
  batch: quick ? 5000 : 50_000,
  process: quick ? 1000 : 8000,
  backlog: quick ? 10_000 : 100_000,
  cli: quick ? 5 : 40,
};
const dir = mkdtempSync(join(tmpdir(), "baton-bench-"));

const fmt = (n) => (n >= 100 ? Math.round(n).toLocaleString("en-US") : n.toFixed(2));
const rows = [];
function report(name, unit, baton, raw, plainjob) {
  rows.push({ name, unit, baton, raw, plainjob });
  const r = raw === undefined ? "" : `  baton/raw ${(baton / raw).toFixed(2)}×`;
  const p = plainjob === undefined ? "" : `  baton/plainjob ${(baton / plainjob).toFixed(2)}×`;
  console.log(`${name.padEnd(34)} baton ${fmt(baton)} ${unit}${raw === undefined ? "" : `, raw ${fmt(raw)}`}${plainjob === undefined ? "" : `, plainjob ${fmt(plainjob)}`}${r}${p}`);
}

let counter = 0;
const fresh = (name) => join(dir, `${name}-${counter++}.db`);

// --- enqueue one by one ---------------------------------------------------------------------
// One fsync per job makes this the noisiest row: the three take turns, ROUNDS times, on fresh
// files, and each reports its median.
{
  const rates = { baton: [], raw: [], plainjob: [] };
  for (let round = 0; round < ROUNDS; round++) {
    const db = rawDb(fresh("raw"), durability);
    const insert = db.prepare("INSERT INTO raw_jobs (type, payload, state, run_at) VALUES (?, ?, 'queued', ?)");
    let t = performance.now();
    for (let i = 0; i < N.single; i++) insert.run("bench", JSON.stringify(payload), Date.now());
    rates.raw.push(N.single / ((performance.now() - t) / 1000));
    db.close();

    const baton = await openBatonDb(fresh("baton"), durability);
    t = performance.now();
    for (let i = 0; i < N.single; i++) await baton.enqueue({ type: "bench", payload });
    rates.baton.push(N.single / ((performance.now() - t) / 1000));
    await baton.close();

    const q = await plainjobQueue(fresh("plainjob"));
    t = performance.now();
    for (let i = 0; i < N.single; i++) q.add("bench", payload);
    rates.plainjob.push(N.single / ((performance.now() - t) / 1000));
    q.close();
  }
  report("enqueue one-by-one", "jobs/s", median(rates.baton), median(rates.raw), median(rates.plainjob));
}

// --- enqueue batched ------------------------------------------------------------------------
{
  const size = 1000;
  const db = rawDb(fresh("raw"), durability);
  const insert = db.prepare("INSERT INTO raw_jobs (type, payload, state, run_at) VALUES (?, ?, 'queued', ?)");
  const many = db.transaction((n) => {
    for (let i = 0; i < n; i++) insert.run("bench", JSON.stringify(payload), Date.now());
  });
  let t = performance.now();
  for (let i = 0; i < N.batch; i += size) many(size);
  const raw = N.batch / ((performance.now() - t) / 1000);
  db.close();

  const baton = await openBatonDb(fresh("baton"), durability);
  const specs = Array.from({ length: size }, () => ({ type: "bench", payload }));
  t = performance.now();
  for (let i = 0; i < N.batch; i += size) await baton.enqueue(specs);
  const b = N.batch / ((performance.now() - t) / 1000);
  await baton.close();

  const q = await plainjobQueue(fresh("plainjob"));
  const items = Array.from({ length: size }, () => ({ data: payload }));
  t = performance.now();
  for (let i = 0; i < N.batch; i += size) q.addMany("bench", items);
  const p = N.batch / ((performance.now() - t) / 1000);
  q.close();
  report(`enqueue batched (${size}/tx)`, "jobs/s", b, raw, p);
}

// --- claim + complete at concurrency 1 and 8 (8 = eight OS processes on one file) -------------
const processWith = (kind, concurrency) => drainInProcesses(kind, fresh(kind), concurrency, N.process, durability);

async function processRounds(concurrency) {
  const rates = { baton: [], raw: [], plainjob: [] };
  for (let round = 0; round < Math.min(ROUNDS, 3); round++) {
    for (const kind of ["baton", "raw", "plainjob"]) rates[kind].push(await processWith(kind, concurrency));
  }
  return { baton: median(rates.baton), raw: median(rates.raw), plainjob: median(rates.plainjob) };
}

const c1 = await processRounds(1);
report("claim+complete, concurrency 1", "jobs/s", c1.baton, c1.raw, c1.plainjob);
const c8 = await processRounds(8);
report("claim+complete, concurrency 8", "jobs/s", c8.baton, c8.raw, c8.plainjob);
console.log(`${"  baton c=8 / c=1".padEnd(34)} ${(c8.baton / c1.baton).toFixed(2)}× (must be ≥ 1.00)`);

// --- claim latency vs backlog ---------------------------------------------------------------
async function claimP50(pending) {
  const path = fresh("backlog");
  await fill("baton", path, pending, durability);
  const baton = await openBatonDb(path, durability);
  const samples = [];
  for (let i = 0; i < 200; i++) {
    const t = performance.now();
    const [c] = await baton.claim({ types: ["bench"], owner: "bench" });
    samples.push(performance.now() - t);
    await baton.complete(c.job.id, { token: c.token });
  }
  await baton.close();
  return median(samples);
}
const small = await claimP50(300);
const large = await claimP50(N.backlog);
console.log(
  `${"claim p50 vs backlog".padEnd(34)} ${small.toFixed(3)} ms at 300 pending, ${large.toFixed(3)} ms at ${N.backlog.toLocaleString("en-US")} pending: ${(large / small).toFixed(2)}× (must be ≤ 1.30)`,
);
rows.push({ name: "claim p50 ratio (large/small backlog)", unit: "×", baton: large / small });

// --- CLI one-shot ---------------------------------------------------------------------------
// Agents call the CLI hundreds of times. Measured both ways: served by a running daemon (the thin
// client in bin/baton.js) and loading the whole CLI in the process (BATON_DIRECT=1).
{
  const home = join(dir, "cli-home");
  const env = { ...process.env, BATON_HOME: home, BATON_DURABILITY: durability };
  const bin = join(root, "bin", "baton.js");
  execFileSync(process.execPath, [bin, "daemon", "start"], { env, stdio: "ignore" });
  const time = (argv, extra = {}) => {
    const t = performance.now();
    const r = spawnSync(process.execPath, argv, { env: { ...env, ...extra }, stdio: "ignore" });
    if (r.status !== 0) throw new Error(`${argv.join(" ")} exited ${r.status}`);
    return performance.now() - t;
  };
  const nodeOnly = [];
  const served = [];
  const direct = [];
  for (let i = 0; i < N.cli; i++) {
    nodeOnly.push(time(["-e", "0"]));
    served.push(time([bin, "enqueue", '{"n":1}']));
    direct.push(time([bin, "enqueue", '{"n":1}'], { BATON_DIRECT: "1" }));
  }
  execFileSync(process.execPath, [bin, "daemon", "stop"], { env, stdio: "ignore" });
  const a = median(nodeOnly);
  const b = median(served);
  const c = median(direct);
  // The overhead is the median of paired differences (each call minus the `node -e 0` run just
  // before it), which follows the machine's drift during the run better than a difference of medians.
  const overServed = median(served.map((t, i) => t - nodeOnly[i]));
  const overDirect = median(direct.map((t, i) => t - nodeOnly[i]));
  console.log(`${"CLI one-shot enqueue (daemon up)".padEnd(34)} baton ${b.toFixed(1)} ms, node -e 0 ${a.toFixed(1)} ms: +${overServed.toFixed(1)} ms (target ≤ +10 ms)`);
  console.log(`${"CLI one-shot enqueue (no daemon)".padEnd(34)} baton ${c.toFixed(1)} ms: +${overDirect.toFixed(1)} ms`);
  rows.push({ name: "CLI enqueue minus node -e 0 (daemon up)", unit: "ms", baton: overServed });
  rows.push({ name: "CLI enqueue minus node -e 0 (no daemon)", unit: "ms", baton: overDirect });
}

rmSync(dir, { recursive: true, force: true });
console.log(`\ndurability=${durability}; machine: ${(await import("node:os")).cpus().length} cores; node ${process.version}`);
if (args.includes("--json")) console.log(JSON.stringify(rows));
