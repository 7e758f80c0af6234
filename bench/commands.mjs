// Background commands benchmark (issue 3): the daemon's latencies and memory, each median printed
// next to its target. Uses the built CLI (npm run build) and a throwaway BATON_HOME.
//
//   npm run bench:commands             # 30 samples per latency, 200 commands for the RSS figure
//   npm run bench:commands -- --quick  # 8 samples, 50 commands (CI smoke)
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const BIN = join(root, "bin", "baton.js");
const quick = process.argv.includes("--quick");
const SAMPLES = quick ? 8 : 30;
const RUNNING = quick ? 50 : 200;
const home = mkdtempSync(join(tmpdir(), "bbc-"));
const env = {
  ...process.env,
  BATON_HOME: home,
  BATON_MAX_RUNNING: String(RUNNING + 50),
  BATON_MAX_RUNNING_PER_PROJECT: String(RUNNING + 50),
  NO_COLOR: "1",
};

const nowMs = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((s.length - 1) * p))];
};
const fmt = (n) => (n >= 100 ? Math.round(n).toString() : n.toFixed(1));
const rows = [];
function report(name, values, unit, target) {
  const p50 = pct(values, 0.5);
  const ok = target === undefined ? "" : p50 <= target ? "  ok" : "  MISSED";
  const spread = values.length > 1 ? `  (p90 ${fmt(pct(values, 0.9))}, n=${values.length})` : "";
  const line = `${name.padEnd(48)} ${fmt(p50).padStart(7)} ${unit}${target === undefined ? "" : `   target ≤ ${target} ${unit}`}${ok}${spread}`;
  rows.push(line);
  console.log(line);
}

function cli(args) {
  const r = spawnSync(process.execPath, [BIN, ...args], { env, cwd: home, encoding: "utf8" });
  if (r.status !== 0 && !args.includes("wait"))
    throw new Error(`baton ${args.join(" ")}: ${r.stdout}${r.stderr}`);
  return r;
}
function cliAsync(args) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env,
      cwd: home,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.on("exit", (code) => resolve({ code, out, at: nowMs() }));
  });
}
const runJson = (argv) => JSON.parse(cli(["run", "--json", "--", ...argv]).stdout).data.id;
const db = () => new Database(join(home, "baton.db"), { readonly: true, fileMustExist: true });
const rssMb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]) / 1024;
async function until(check, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error("benchmark step timed out");
    await sleep(5);
  }
}

try {
  cli(["daemon", "start"]);
  const daemonPid = JSON.parse(readFileSync(join(home, "daemon.json"), "utf8")).pid;
  console.log(
    `baton background commands — ${quick ? "quick" : "full"} run, home ${home}, daemon pid ${daemonPid}\n`,
  );
  // Warm up: the daemon's code paths, SQLite pages, the CLI's disk cache.
  for (let i = 0; i < 3; i++) cli(["run", "--wait", "--", "true"]);

  // 1. `run -- true` to process started. The ledger times it (job created → process_started
  //    event, the daemon's share); the whole CLI call (a new node process each time) is shown too.
  const toStart = [];
  const cliCall = [];
  for (let i = 0; i < SAMPLES; i++) {
    const t0 = nowMs();
    const id = runJson(["true"]);
    cliCall.push(nowMs() - t0);
    const started = await until(() => {
      const d = db();
      try {
        const job = d.prepare("SELECT created_at FROM jobs WHERE id = ?").get(id);
        const ev = d.prepare("SELECT at FROM events WHERE job_id = ? AND kind = 'process_started'").get(id);
        return ev === undefined ? undefined : ev.at - job.created_at;
      } finally {
        d.close();
      }
    });
    toStart.push(started);
    cli(["wait", id]);
  }
  report("run -- true: enqueued → process started", toStart, "ms", 20);
  report("run -- true: whole CLI call (node start incl.)", cliCall, "ms");

  // 2. Job end → `wait` returning. The command stamps its end (ns) just before exiting; `baton
  //    wait` is already waiting; measured to the moment the wait process has exited.
  const endToWait = [];
  for (let i = 0; i < SAMPLES; i++) {
    const stamp = join(home, `end-${i}`);
    const gate = join(home, `gate-${i}`);
    const id = runJson([
      "sh",
      "-c",
      'while [ ! -e "$1" ]; do sleep 0.01; done; date +%s%N > "$2"',
      "w",
      gate,
      stamp,
    ]);
    const waiting = cliAsync(["wait", id]);
    await sleep(400); // the wait client is connected and parked in the daemon
    spawnSync("touch", [gate]);
    const { at, code, out } = await waiting;
    if (code !== 0 || !existsSync(stamp))
      throw new Error(`wait ${id} returned ${code} before the job ended: ${out}`);
    const ended = Number(BigInt(readFileSync(stamp, "utf8").trim()) / 1000n) / 1000;
    endToWait.push(at - ended);
  }
  report("job end → wait returning (process exit incl.)", endToWait, "ms", 10);

  // 3. Daemon RSS idle, then with RUNNING commands running.
  await sleep(500);
  report("daemon RSS, 0 commands running", [rssMb(daemonPid)], "MB", 60);
  const ids = [];
  const queue = Array.from({ length: RUNNING }, (_, i) => i);
  await Promise.all(
    Array.from({ length: 6 }, async () => {
      while (queue.length > 0) {
        queue.pop();
        const r = await cliAsync(["run", "--json", "--", "sleep", "600"]);
        ids.push(JSON.parse(r.out).data.id);
      }
    }),
  );
  const pids = await until(() => {
    const d = db();
    try {
      const rows = d.prepare("SELECT job_id, details FROM events WHERE kind = 'process_started'").all();
      const byJob = new Map(rows.map((r) => [r.job_id, JSON.parse(r.details).pid]));
      return ids.every((id) => byJob.has(id)) ? ids.map((id) => byJob.get(id)) : undefined;
    } finally {
      d.close();
    }
  }, 120_000);
  await sleep(1500); // a heartbeat and a few liveness checks
  report(
    `daemon RSS, ${RUNNING} commands running`,
    [rssMb(daemonPid)],
    "MB",
    RUNNING === 200 ? 120 : undefined,
  );

  // 4. A job's process dies (kill -9 of its group) → its attempt recorded. First as the daemon's
  //    own children, then (after a daemon restart) as re-attached processes it only watches.
  async function killAndTime(victims) {
    const killedAt = new Map();
    for (const [id, pid] of victims) {
      killedAt.set(id, nowMs());
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    const ended = await until(() => {
      const d = db();
      try {
        const rows = victims.map(([id]) =>
          d.prepare("SELECT ended_at FROM attempts WHERE job_id = ? AND n = 1").get(id),
        );
        return rows.every((r) => r?.ended_at != null) ? rows.map((r) => r.ended_at) : undefined;
      } finally {
        d.close();
      }
    });
    return victims.map(([id], i) => ended[i] - killedAt.get(id));
  }
  const pairs = ids.map((id, i) => [id, pids[i]]);
  const half = Math.floor(pairs.length / 2);
  const own = [];
  for (const pair of pairs.slice(0, Math.min(SAMPLES, half))) own.push(...(await killAndTime([pair])));
  report("process killed → recorded (daemon's child)", own, "ms", 1000);
  cli(["daemon", "restart"]);
  await sleep(1000);
  const reattached = [];
  for (const pair of pairs.slice(half, half + SAMPLES)) reattached.push(...(await killAndTime([pair])));
  report("process killed → recorded (re-attached)", reattached, "ms", 1000);
} finally {
  spawnSync(process.execPath, [BIN, "daemon", "stop"], { env, stdio: "ignore" });
  // Every command this benchmark started leads its own group: end them all.
  const runs = join(home, "runs");
  if (existsSync(runs)) {
    for (const line of spawnSync("sh", ["-c", `cat "${runs}"/*/*/process.json 2>/dev/null`], {
      encoding: "utf8",
    })
      .stdout.split("}")
      .filter((s) => s.includes("pid"))) {
      try {
        process.kill(-JSON.parse(`${line}}`).pid, "SIGKILL");
      } catch {
        // gone
      }
    }
  }
  rmSync(home, { recursive: true, force: true });
}
