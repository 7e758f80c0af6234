#!/usr/bin/env node
/**
 * Where a library worker's memory goes while it drains a backlog (issue 22's RSS row, D154): one
 * process fills a fresh SQLite ledger (durability normal), another drains it and prints its RSS
 * after importing baton and zod, after opening the ledger and at its peak, the largest size of V8's
 * young generation during the drain, and the CPU time per job.
 *
 *   npm run build && node bench/worker-memory.mjs                  # 10,000 jobs, concurrency 8
 *   node bench/worker-memory.mjs --concurrency 1 --local-queue 0   # the Worker's options
 *   node bench/worker-memory.mjs --floor                           # no Worker: the store's path alone
 *   node --trace-gc-nvp bench/worker-memory.mjs ...                # and each scavenge's survivors
 *
 * `--floor` drains through `engine.batch` in a plain loop (each transaction records the outcomes of
 * the jobs claimed by the one before and claims `--concurrency` more), as the Worker's group commit
 * does but with no handler, no local queue and nothing else in flight: what the ledger's claim and
 * finish path costs by itself.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import v8 from "node:v8";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : process.argv[i + 1];
};
const JOBS = Number(arg("jobs", "10000"));
const PAD = "x".repeat(80);
const mib = (bytes) => (bytes / 1048576).toFixed(1);
const newSpace = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === "new_space").space_size;

async function fill(path) {
  const { openBaton } = await import(join(root, "dist", "index.js"));
  const baton = await openBaton({ databasePath: path, durability: "normal" });
  for (let i = 0; i < JOBS; i += 1000)
    await baton.enqueue(
      Array.from({ length: Math.min(1000, JOBS - i) }, (_, k) => ({
        type: "noop",
        payload: { i: i + k, pad: PAD },
      })),
    );
  await baton.close();
}

async function drain(path) {
  const concurrency = Number(arg("concurrency", "8"));
  const localQueue = arg("local-queue", undefined);
  const { openBaton, defineHandler } = await import(join(root, "dist", "index.js"));
  const { z } = await import("zod");
  const imported = process.memoryUsage().rss;
  const baton = await openBaton({ databasePath: path, durability: "normal" });
  const opened = process.memoryUsage().rss;
  let done = 0;
  let maxNew = newSpace();
  const sample = setInterval(() => (maxNew = Math.max(maxNew, newSpace())), 5);
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  if (process.argv.includes("--floor")) {
    let inHand = [];
    for (;;) {
      const ops = inHand.map((c) => ({
        kind: "finish",
        jobId: c.job.id,
        outcome: "succeeded",
        options: { token: c.token, actor: "floor" },
      }));
      ops.push({ kind: "claim", options: { types: ["noop"], owner: "floor", limit: concurrency } });
      const results = await baton.engine.batch(ops);
      done += inHand.length;
      inHand = results.at(-1).claimed;
      if (inHand.length === 0) break;
      maxNew = Math.max(maxNew, newSpace());
    }
  } else {
    const noop = defineHandler("noop", z.object({ i: z.number() }).passthrough(), async () => {
      done++;
    });
    const worker = baton.worker({
      handlers: [noop],
      concurrency,
      ...(localQueue === undefined ? {} : { localQueue: Number(localQueue) }),
    });
    await worker.start();
    while (done < JOBS) await new Promise((r) => setTimeout(r, 2));
    await worker.stop();
  }
  const cpu = process.cpuUsage(c0);
  const ms = performance.now() - t0;
  clearInterval(sample);
  await baton.close();
  const what = process.argv.includes("--floor")
    ? `floor (engine.batch loop, claims of ${concurrency})`
    : `Worker, concurrency ${concurrency}${localQueue === undefined ? "" : `, localQueue ${localQueue}`}`;
  console.log(
    `${what}: ${done.toLocaleString("en-US")} jobs, ${Math.round((done * 1000) / ms).toLocaleString("en-US")}/s, ` +
      `CPU ${((cpu.user + cpu.system) / done).toFixed(1)} µs/job`,
  );
  console.log(
    `  RSS after importing baton and zod ${mib(imported)} MiB, after opening ${mib(opened)} MiB, ` +
      `peak ${(process.resourceUsage().maxRSS / 1024).toFixed(1)} MiB; young generation at most ${mib(maxNew)} MiB`,
  );
}

if (process.argv[2] === "--child-fill") await fill(process.argv[3]);
else if (process.argv[2] === "--child-drain") await drain(process.argv[3]);
else {
  const dir = mkdtempSync(join(tmpdir(), "worker-memory-"));
  try {
    const path = join(dir, "baton.db");
    const me = fileURLToPath(import.meta.url);
    const rest = process.argv.slice(2);
    const step = (phase) => {
      const r = spawnSync(process.execPath, [...process.execArgv, me, phase, path, ...rest], {
        stdio: "inherit",
      });
      if (r.status !== 0) throw new Error(`${phase} exited ${r.status ?? r.signal}`);
    };
    step("--child-fill");
    step("--child-drain");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
