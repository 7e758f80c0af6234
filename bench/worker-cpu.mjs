#!/usr/bin/env node
/**
 * CPU per job of a SQLite worker draining a backlog of no-op jobs, at concurrency 1 and 8 (or
 * `--concurrency 1,8,16`), in ONE process, the levels alternating drain by drain (D159): a shared,
 * loaded machine slows every drain alike, so the medians compare the levels, not the moments.
 * Each drain reports the process's CPU (all threads, `process.cpuUsage`), the main thread's own
 * (`/proc/self/task/<tid>/stat`, Linux), and both as a share of the drain's wall time. The first
 * drains run in a cold process (the JIT still compiling; what a `bench/peers.mjs` worker child
 * pays), the later ones warm: both are printed.
 *
 *   npm run build && node bench/worker-cpu.mjs                  # 3,000 jobs, 12 drains per level
 *   node bench/worker-cpu.mjs --jobs 10000 --rounds 4 --concurrency 1,8
 *   node bench/worker-cpu.mjs --concurrency 8 --durability normal,full   # the levels are every
 *       concurrency at every durability, alternating the same way; the rates' ratio full/normal
 *       is printed per concurrency (the peers benchmark's "durability full" target)
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : process.argv[i + 1];
};
const jobs = Number(arg("jobs", "3000"));
const rounds = Number(arg("rounds", "12"));
const concurrencies = arg("concurrency", "1,8").split(",").map(Number);
const durabilities = arg("durability", "normal").split(",");
for (const d of durabilities)
  if (!["normal", "full"].includes(d)) throw new Error(`--durability: normal or full, not ${d}`);
/** Every concurrency at every durability: "8" alone when only normal is asked for. */
const levels = durabilities.flatMap((durability) =>
  concurrencies.map((concurrency) => ({
    concurrency,
    durability,
    label: durabilities.length > 1 ? `${concurrency}, ${durability}` : `${concurrency}`,
  })),
);
const { openBaton, defineHandler } = await import(join(root, "dist", "index.js"));
const PAD = "x".repeat(80);
const loadavg = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** CPU ms of this process's main thread (its task id is its pid), or undefined off Linux. */
function mainThreadMs() {
  try {
    if (!readdirSync("/proc/self/task").includes(String(process.pid))) return undefined;
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) * 10; // utime + stime, in 10 ms ticks
  } catch {
    return undefined;
  }
}

async function drain({ concurrency, durability }) {
  const dir = mkdtempSync(join(tmpdir(), "baton-worker-cpu-"));
  try {
    const baton = await openBaton({ databasePath: join(dir, "baton.db"), durability });
    for (let i = 0; i < jobs; i += 1000)
      await baton.enqueue(
        Array.from({ length: Math.min(1000, jobs - i) }, (_, k) => ({
          type: "noop",
          payload: { i: i + k, pad: PAD },
        })),
      );
    let done = 0;
    let start;
    let finished;
    const all = new Promise((resolve) => (finished = resolve));
    const noop = defineHandler("noop", z.object({ i: z.number() }).passthrough(), async () => {
      if (done === 0) start = { cpu: process.cpuUsage(), main: mainThreadMs(), at: performance.now() };
      if (++done === jobs)
        finished({ cpu: process.cpuUsage(start.cpu), main: mainThreadMs(), at: performance.now() });
    });
    const worker = baton.worker({ handlers: [noop], concurrency });
    await worker.start();
    const end = await all;
    await worker.stop();
    await baton.close();
    const wall = end.at - start.at;
    const cpuMs = (end.cpu.user + end.cpu.system) / 1000;
    const mainMs = start.main === undefined ? undefined : end.main - start.main;
    return {
      cpuUs: (cpuMs * 1000) / jobs,
      mainUs: mainMs === undefined ? undefined : (mainMs * 1000) / jobs,
      busy: cpuMs / wall,
      mainBusy: mainMs === undefined ? undefined : mainMs / wall,
      rate: ((jobs - 1) * 1000) / wall,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(
  `worker CPU: ${jobs.toLocaleString("en-US")} no-op jobs a drain, concurrency ${levels.map((l) => l.label).join(" / ")} alternating, ` +
    `${rounds} drains each, one process; node ${process.version}; load average ${loadavg()} before`,
);
const results = new Map(levels.map((l) => [l, []]));
for (let round = 0; round < rounds; round++) {
  const order = round % 2 ? [...levels].reverse() : levels;
  for (const c of order) results.get(c).push(await drain(c));
}
const fmt = (x, d = 0) => (x === undefined ? "-" : x.toFixed(d));
const half = Math.floor(rounds / 2);
for (const [level, rs] of results) {
  const pick = (key, from, to) =>
    median(
      rs
        .slice(from, to)
        .map((r) => r[key])
        .filter((x) => x !== undefined),
    );
  console.log(`  concurrency ${level.label}:`);
  console.log(`    CPU µs/job (all threads)   ${rs.map((r) => fmt(r.cpuUs)).join(", ")}`);
  console.log(`    CPU µs/job (main thread)   ${rs.map((r) => fmt(r.mainUs)).join(", ")}`);
  console.log(
    `    busy share (all / main)    ${rs.map((r) => `${fmt(r.busy, 2)}/${fmt(r.mainBusy, 2)}`).join(", ")}`,
  );
  console.log(
    `    medians, first ${half} drains (cold): ${fmt(pick("cpuUs", 0, half), 1)} µs all, ${fmt(pick("mainUs", 0, half), 1)} main;` +
      ` last ${rounds - half} (warm): ${fmt(pick("cpuUs", half), 1)} all, ${fmt(pick("mainUs", half), 1)} main; ` +
      `rate median ${fmt(pick("rate", 0), 0)}/s`,
  );
}
if (durabilities.includes("full") && durabilities.includes("normal"))
  for (const c of concurrencies) {
    const rates = (d) => results.get(levels.find((l) => l.concurrency === c && l.durability === d));
    const full = rates("full").map((r) => r.rate);
    const normal = rates("normal").map((r) => r.rate);
    // Drain by drain (neighbours in time), then the medians' ratio.
    const pairs = full.map((f, i) => (f / normal[i]).toFixed(2));
    console.log(
      `  concurrency ${c}: full/normal rate ${(median(full) / median(normal)).toFixed(2)}× (medians ${median(full).toFixed(0)} / ${median(normal).toFixed(0)}/s; drain by drain ${pairs.join(", ")})`,
    );
  }
console.log(`load average ${loadavg()} after`);
