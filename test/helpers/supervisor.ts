/**
 * Helpers for the background-command tests (test/supervisor.*.test.ts): a temp BATON_HOME per test,
 * the CLI bound to it, reads of its ledger, and a guard that fails a test which leaves a process
 * behind.
 *
 * Every process a test starts carries `BATON_HOME=<its home>` in its environment (the CLI passes it
 * to the daemon, the daemon hands the caller's environment to each command), so the guard finds
 * leftovers by scanning /proc/<pid>/environ, plus the process groups named in
 * `<home>/runs/<job>/<attempt>/process.json` and the daemon in `<home>/daemon.json`.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach } from "vitest";
import { daemonInfoPath, ledgerKey, socketPath } from "../../src/ops/ipc.js";
import { baton, batonAsync, envelope } from "./cli.js";
import type { CliResult } from "./cli.js";

export const FIXTURES = join(import.meta.dirname, "..", "fixtures");

export interface Home {
  dir: string;
  /** Extra environment for every CLI call (and so for the daemon it starts). */
  env: Record<string, string>;
}

const homes: Home[] = [];

/** A fresh BATON_HOME (short path, so the daemon socket lives inside it), checked and removed after the test. */
export function newHome(env: Record<string, string> = {}): Home {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), "bsv-")));
  const home = { dir, env };
  homes.push(home);
  return home;
}

export function cli(
  home: Home,
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): CliResult {
  return baton(args, {
    home: home.dir,
    env: { ...home.env, ...options.env },
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });
}

export function cliAsync(
  home: Home,
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<CliResult> {
  return batonAsync(args, {
    home: home.dir,
    env: { ...home.env, ...options.env },
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });
}

/** Run `baton <args> --json` and return `data`, failing with the whole output when it is not ok. */
export function cliJson(
  home: Home,
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): any {
  // Options after `--` belong to the command: put --json before it.
  const dash = args.indexOf("--");
  const withJson = dash < 0 ? [...args, "--json"] : [...args.slice(0, dash), "--json", ...args.slice(dash)];
  const result = cli(home, withJson, options);
  let parsed: ReturnType<typeof envelope>;
  try {
    parsed = envelope(result);
  } catch {
    throw new Error(
      `baton ${args.join(" ")}: not JSON (exit ${result.code}): ${result.stdout}${result.stderr}`,
    );
  }
  if (!parsed.ok)
    throw new Error(`baton ${args.join(" ")}: ${JSON.stringify(parsed.error)} (exit ${result.code})`);
  return parsed.data;
}

/** Poll `check` until it returns a value other than undefined/false; throw after `timeoutMs`. */
export async function until<T>(
  what: string,
  check: () => T | undefined | false,
  timeoutMs = 20_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// --- the ledger, read directly (a test may read the file; the product never does) ---------------

export interface JobRow {
  id: string;
  type: string;
  name: string | null;
  state: string;
  attempts: number;
  max_attempts: number;
  error: string | null;
}

export interface AttemptRow {
  job_id: string;
  n: number;
  started_at: number;
  ended_at: number | null;
  outcome: string | null;
  exit_code: number | null;
  error: string | null;
}

export interface EventRow {
  id: number;
  job_id: string | null;
  at: number;
  actor: string;
  kind: string;
  from_state: string | null;
  to_state: string | null;
  details: string | null;
}

/** Run `fn` over a read-only connection to the home's database. */
export function withDb<T>(home: Home, fn: (db: Database.Database) => T): T {
  const db = new Database(join(home.dir, "baton.db"), { readonly: true, fileMustExist: true });
  db.pragma("busy_timeout = 5000");
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

export function jobRows(home: Home): JobRow[] {
  return withDb(home, (db) => db.prepare("SELECT * FROM jobs ORDER BY id").all() as JobRow[]);
}

export function jobRow(home: Home, id: string): JobRow {
  const row = withDb(
    home,
    (db) => db.prepare("SELECT * FROM jobs WHERE id = ?").get(id) as JobRow | undefined,
  );
  if (row === undefined) throw new Error(`no job ${id}`);
  return row;
}

export function attemptRows(home: Home, id?: string): AttemptRow[] {
  return withDb(home, (db) =>
    id === undefined
      ? (db.prepare("SELECT * FROM attempts ORDER BY job_id, n").all() as AttemptRow[])
      : (db.prepare("SELECT * FROM attempts WHERE job_id = ? ORDER BY n").all(id) as AttemptRow[]),
  );
}

export function eventRows(home: Home, kind?: string): EventRow[] {
  return withDb(home, (db) =>
    kind === undefined
      ? (db.prepare("SELECT * FROM history ORDER BY id").all() as EventRow[])
      : (db.prepare("SELECT * FROM history WHERE kind = ? ORDER BY id").all(kind) as EventRow[]),
  );
}

export function countProcessStarted(home: Home): number {
  if (!existsSync(join(home.dir, "baton.db"))) return 0;
  return withDb(
    home,
    (db) =>
      (db.prepare("SELECT count(*) AS n FROM events WHERE kind = 'process_started'").get() as { n: number })
        .n,
  );
}

export const TERMINAL = ["succeeded", "failed", "timed_out", "cancelled", "skipped"];

// --- processes ------------------------------------------------------------------------------

interface ProcInfo {
  pid: number;
  ppid: number;
  pgid: number;
  state: string;
}

function procInfo(pid: number): ProcInfo | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { pid, state: f[0] ?? "?", ppid: Number(f[1]), pgid: Number(f[2]) };
  } catch {
    return undefined;
  }
}

function allPids(): number[] {
  return readdirSync("/proc")
    .filter((n) => /^\d+$/.test(n))
    .map(Number);
}

/** Live (not zombie) processes of a process group. */
export function groupMembers(pgid: number): number[] {
  return allPids().filter((pid) => {
    const info = procInfo(pid);
    return info !== undefined && info.pgid === pgid && info.state !== "Z";
  });
}

/** Live (not zombie) direct children of `pid`. */
export function childrenOf(pid: number): number[] {
  return allPids().filter((p) => {
    const info = procInfo(p);
    return info !== undefined && info.ppid === pid && info.state !== "Z";
  });
}

export function alive(pid: number): boolean {
  const info = procInfo(pid);
  return info !== undefined && info.state !== "Z";
}

/** Live processes whose environment names this home (daemon, wrappers, commands, their children). */
export function processesOf(home: Home): number[] {
  const needle = Buffer.from(`\0BATON_HOME=${home.dir}\0`);
  const first = Buffer.from(`BATON_HOME=${home.dir}\0`);
  const found: number[] = [];
  for (const pid of allPids()) {
    if (pid === process.pid) continue;
    let environ: Buffer;
    try {
      environ = readFileSync(`/proc/${pid}/environ`);
    } catch {
      continue;
    }
    if ((environ.includes(needle) || environ.subarray(0, first.length).equals(first)) && alive(pid))
      found.push(pid);
  }
  return found;
}

/** Process records the supervisor wrote for every attempt of this home. */
export function processRecords(
  home: Home,
): { jobId: string; attempt: number; pid: number; startTime: string }[] {
  const runs = join(home.dir, "runs");
  if (!existsSync(runs)) return [];
  const out: { jobId: string; attempt: number; pid: number; startTime: string }[] = [];
  for (const jobId of readdirSync(runs)) {
    let attempts: string[];
    try {
      attempts = readdirSync(join(runs, jobId));
    } catch {
      continue;
    }
    for (const attempt of attempts) {
      try {
        const record = JSON.parse(readFileSync(join(runs, jobId, attempt, "process.json"), "utf8")) as {
          pid: number;
          startTime: string;
        };
        out.push({ jobId, attempt: Number(attempt), pid: record.pid, startTime: record.startTime });
      } catch {
        // no process.json (not started, or not an attempt dir)
      }
    }
  }
  return out;
}

export function daemonPid(home: Home): number | undefined {
  try {
    return (
      JSON.parse(readFileSync(daemonInfoPath(home.dir, ledgerKey(home.env)), "utf8")) as { pid: number }
    ).pid;
  } catch {
    return undefined;
  }
}

/** `daemon run` processes of this home. */
export function daemonProcesses(home: Home): number[] {
  return processesOf(home).filter((pid) => {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      return argv.includes("daemon") && argv.includes("run");
    } catch {
      return false;
    }
  });
}

/** Everything this home still has running: command groups, daemon, anything with its BATON_HOME. */
export function survivors(home: Home): number[] {
  const pids = new Set(processesOf(home));
  for (const record of processRecords(home)) for (const pid of groupMembers(record.pid)) pids.add(pid);
  const daemon = daemonPid(home);
  if (daemon !== undefined && alive(daemon)) pids.add(daemon);
  return [...pids].sort((a, b) => a - b);
}

function describe(pid: number): string {
  try {
    return `${pid} ${readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim()}`;
  } catch {
    return String(pid);
  }
}

/** SIGKILL every process group and process this home started. */
export function killEverything(home: Home): void {
  for (const record of processRecords(home)) {
    try {
      process.kill(-record.pid, "SIGKILL");
    } catch {
      // gone
    }
  }
  for (const pid of survivors(home)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }
}

/** Stop the home's daemon (politely, then by force). Commands it left running are not touched. */
export function stopDaemon(home: Home): void {
  const ledger = ledgerKey(home.env); // a PostgreSQL home's daemon has its ledger in its names (D49)
  if (existsSync(daemonInfoPath(home.dir, ledger)) || existsSync(socketPath(home.dir, ledger))) {
    spawnSync(
      process.execPath,
      [join(import.meta.dirname, "..", "..", "bin", "baton.js"), "daemon", "stop"],
      {
        env: { ...process.env, ...home.env, BATON_HOME: home.dir },
        cwd: home.dir,
        stdio: "ignore",
        timeout: 30_000,
      },
    );
  }
  for (const pid of daemonProcesses(home)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }
}

/** mkfifo: a gate a command blocks on (`read x < fifo`) until {@link openGate}. */
export function makeGate(path: string): string {
  const made = spawnSync("mkfifo", [path]);
  if (made.status !== 0) throw new Error(`mkfifo ${path} failed: ${String(made.stderr)}`);
  return path;
}

/** The `argv` of a command that blocks on a gate, then exits with `code`. */
export function gatedCommand(gate: string, code: number): string[] {
  return ["sh", "-c", 'read x < "$1"; exit "$2"', "gated", gate, String(code)];
}

/**
 * Open the gate: every command blocked on it reads EOF and exits. Readers that arrive late are let
 * through by opening again, until `done()` says everyone passed.
 */
export async function openGate(gate: string, done: () => boolean, timeoutMs = 30_000): Promise<void> {
  const { openSync, closeSync, constants } = await import("node:fs");
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`gate ${gate}: not everyone passed within ${timeoutMs} ms`);
    try {
      closeSync(openSync(gate, constants.O_WRONLY | constants.O_NONBLOCK));
    } catch {
      // ENXIO: nobody is waiting right now
    }
    await sleep(50);
  }
}

/**
 * The guard: after each test, stop the daemons of the homes it made, give commands a moment to end,
 * and fail the test if any process it started is still alive (after killing it, so nothing leaks
 * into the next test). Then remove the homes.
 */
afterEach(async () => {
  const leaks: string[] = [];
  while (homes.length > 0) {
    const home = homes.pop()!;
    try {
      stopDaemon(home);
      const deadline = Date.now() + 3000;
      let left = survivors(home);
      while (left.length > 0 && Date.now() < deadline) {
        await sleep(100);
        left = survivors(home);
      }
      if (left.length > 0) {
        leaks.push(
          `${home.dir}: ${left.length} process(es) left: ${left.slice(0, 10).map(describe).join("; ")}`,
        );
        killEverything(home);
      }
    } finally {
      rmSync(home.dir, { recursive: true, force: true });
    }
  }
  if (leaks.length > 0) throw new Error(`processes leaked by the test:\n${leaks.join("\n")}`);
});

/** Start `baton run --json -- <argv>` for each entry, `parallel` at a time; the job ids in order. */
export async function runMany(
  home: Home,
  commands: readonly (readonly string[])[],
  parallel = 6,
): Promise<string[]> {
  const ids: string[] = new Array<string>(commands.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < commands.length) {
      const i = next++;
      const result = await cliAsync(home, ["run", "--json", "--", ...commands[i]!]);
      let id: unknown;
      try {
        id = envelope(result).data?.id;
      } catch {
        id = undefined;
      }
      if (typeof id !== "string")
        throw new Error(
          `run ${commands[i]!.join(" ")}: exit ${result.code}: ${result.stdout}${result.stderr}`,
        );
      ids[i] = id;
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return ids;
}

/** The state and the latest attempt's outcome and exit code of every job, by id. */
export function outcomes(
  home: Home,
): Map<string, { state: string; outcome: string | null; code: number | null }> {
  const attempts = new Map(attemptRows(home).map((a) => [a.job_id, a]));
  return new Map(
    jobRows(home).map((j) => [
      j.id,
      {
        state: j.state,
        outcome: attempts.get(j.id)?.outcome ?? null,
        code: attempts.get(j.id)?.exit_code ?? null,
      },
    ]),
  );
}
