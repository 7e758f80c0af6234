#!/usr/bin/env node
/**
 * Enqueue on SQLite, CPU time per job: baton (durability normal) against plainjob 0.0.14
 * (synchronous NORMAL), each in a process of its own, contenders alternating round by round.
 * CPU time (process.cpuUsage) moves far less with the machine's load than a wall-clock rate, and
 * the figures are taken after a warm-up, so they say what a call costs, not how fast a fresh
 * process starts (bench/peers.mjs gives the rates, start included).
 *
 *   npm run build && node bench/enqueue-cpu.mjs            # 4,000 jobs one by one, 16,000 in batches, 5 rounds
 *   node bench/enqueue-cpu.mjs --jobs 2000 --rounds 3
 *
 * Work per round and contender: a fresh file; 1,000 jobs one by one to warm up (not counted);
 * `jobs` more one by one; then 4 × `jobs` in batches of 1,000. ~100-byte payloads, as in peers.mjs.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : process.argv[i + 1];
};
const PAD = "x".repeat(80);
const loadavg = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
const cpuUs = () => {
  const c = process.cpuUsage();
  return c.user + c.system;
};
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function open(system, dir) {
  if (system === "baton") {
    const { openBaton } = await import(join(root, "dist", "index.js"));
    const baton = await openBaton({ databasePath: join(dir, "baton.db"), durability: "normal" });
    return {
      one: (i) => baton.enqueue({ type: "noop", payload: { i, t: 0, pad: PAD } }),
      many: (from, n) =>
        baton.enqueue(
          Array.from({ length: n }, (_, k) => ({ type: "noop", payload: { i: from + k, pad: PAD } })),
        ),
      close: () => baton.close(),
    };
  }
  const { better, defineQueue } = await import("plainjob");
  const { default: Database } = await import("better-sqlite3");
  const db = new Database(join(dir, "plainjob.db"));
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  const silent = { info() {}, warn() {}, error() {}, debug() {} };
  const queue = defineQueue({ connection: better(db), logger: silent });
  return {
    one: async (i) => queue.add("noop", { i, t: 0, pad: PAD }),
    many: async (from, n) =>
      queue.addMany(
        "noop",
        Array.from({ length: n }, (_, k) => ({ i: from + k, pad: PAD })),
      ),
    close: async () => {
      queue.close();
      db.close();
    },
  };
}

async function child(system, jobs) {
  const dir = mkdtempSync(join(tmpdir(), `enqueue-cpu-${system}-`));
  try {
    const q = await open(system, dir);
    for (let i = 0; i < 1000; i++) await q.one(-1 - i);
    let t0 = cpuUs();
    for (let i = 0; i < jobs; i++) await q.one(i);
    const one = (cpuUs() - t0) / jobs;
    t0 = cpuUs();
    for (let i = 0; i < 4 * jobs; i += 1000) await q.many(i, Math.min(1000, 4 * jobs - i));
    const batch = (cpuUs() - t0) / (4 * jobs);
    await q.close();
    process.stdout.write(JSON.stringify({ one, batch }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function parent() {
  const jobs = Number(arg("jobs", "4000"));
  const rounds = Number(arg("rounds", "5"));
  const systems = ["baton", "plainjob"];
  console.log(
    `enqueue CPU per job (SQLite, baton durability normal): ${jobs.toLocaleString("en-US")} one by one and ` +
      `${(4 * jobs).toLocaleString("en-US")} in batches of 1,000 after a warm-up, ${rounds} rounds, contenders ` +
      `alternating; node ${process.version}; load average ${loadavg()} before`,
  );
  const all = Object.fromEntries(systems.map((s) => [s, { one: [], batch: [] }]));
  for (let r = 0; r < rounds; r++) {
    for (const system of systems) {
      const p = spawnSync(
        process.execPath,
        [fileURLToPath(import.meta.url), "--child", system, String(jobs)],
        {
          encoding: "utf8",
          stdio: ["ignore", "pipe", "inherit"],
        },
      );
      if (p.status !== 0) throw new Error(`${system} exited ${p.status}`);
      const m = JSON.parse(p.stdout);
      all[system].one.push(m.one);
      all[system].batch.push(m.batch);
    }
  }
  for (const system of systems) {
    const r = all[system];
    const cell = (key) =>
      `${median(r[key]).toFixed(1).padStart(6)} µs (${r[key].map((x) => x.toFixed(1)).join(", ")})`;
    console.log(`  ${system.padEnd(10)} one by one ${cell("one")}   batches of 1,000 ${cell("batch")}`);
  }
  // As jobs/s, the ratio of the rates is the inverse ratio of the CPU times.
  const ratio = (key) => median(all.plainjob[key]) / median(all.baton[key]);
  console.log(
    `  baton/plainjob as rates: one by one ${ratio("one").toFixed(2)}×   batches ${ratio("batch").toFixed(2)}×`,
  );
  console.log(`load average ${loadavg()} after`);
}

const at = process.argv.indexOf("--child");
if (at >= 0) await child(process.argv[at + 1], Number(process.argv[at + 2]));
else parent();
