/**
 * Processes: start a command detached in its own process group, identify it by pid AND start
 * time (so a reused pid is never mistaken for the job), and signal its whole group.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { hostname } from "node:os";

/**
 * The wrapper the job's process group is led by. It runs the command with its output appended to
 * files it opens itself (output survives the daemon), then writes the exit code next to the logs
 * atomically. Arguments reach the command through "$@": nothing is interpolated into a shell string.
 * Its stdin is /dev/null unless a file is given (an agent's instructions).
 *
 * The exit code's file is made, with room for any code, before the command runs, and overwritten
 * in place (`1<>`, no truncation) afterwards: a command that fills the disk still leaves its exit
 * code behind, because overwriting bytes a file already has and renaming it need no new
 * space. Reading trims the padding.
 *
 * Its first act is to write its own pid (`pid`): a daemon killed after starting the wrapper and
 * before recording it in process.json leaves the next daemon a way to find it ({@link wrapperIn}).
 *
 * It leads the group a stop or timeout signals, so it catches SIGTERM and SIGINT (a no-op trap, run
 * after the command ends) and outlives them: the command's exit code is written on a stop too (D148).
 * A caught signal is reset to its default in the command, which receives it as usual; only SIGKILL
 * (a forced stop, the end of the grace) ends the wrapper with the command.
 */
const WRAPPER = [
  "dir=$1; input=$2; shift 2",
  "trap : TERM INT",
  '(umask 077; printf "%s" "$$" > "$dir/pid"; printf "    " > "$dir/exit.tmp") 2>/dev/null',
  '"$@" >>"$dir/stdout.log" 2>>"$dir/stderr.log" <"$input"',
  "code=$?",
  "umask 077",
  'printf "%s" "$code" 1<>"$dir/exit.tmp" && mv "$dir/exit.tmp" "$dir/exit"',
  'exit "$code"',
].join("\n");

export interface StartedProcess {
  pid: number;
  startTime: string;
  child: ChildProcess;
}

/** A process that could not be started; `reason` resolves to the system's error. */
export class NotStarted extends Error {
  constructor(
    message: string,
    readonly reason: Promise<Error>,
  ) {
    super(message);
  }
}

/** Start `argv` in `cwd` with `env`, detached, writing into `runDir`; stdin from `stdinFile` or /dev/null. */
export function startDetached(
  argv: readonly string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
  runDir: string,
  stdinFile = "/dev/null",
): StartedProcess {
  const child = spawn("/bin/sh", ["-c", WRAPPER, "baton-run", runDir, stdinFile, ...argv], {
    cwd,
    env,
    detached: true,
    stdio: "ignore",
  });
  child.unref();
  const pid = child.pid;
  if (pid === undefined) {
    // The reason (ENOENT of the cwd, E2BIG…) comes as an 'error' event: listened to here, or it
    // would be an uncaught exception that ends the daemon.
    const reason = new Promise<Error>((resolve) => child.once("error", resolve));
    throw new NotStarted(`could not start ${argv[0] ?? "command"}`, reason);
  }
  return { pid, startTime: processStartTime(pid) ?? "unknown", child };
}

/** A stable identity of a process's start: /proc's start tick on Linux, `ps` elsewhere. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[19]; // field 22 of stat: starttime, counted after the "(comm)" field
  } catch {
    if (process.platform === "linux") return undefined;
    try {
      const out = execFileSync("ps", ["-o", "lstart=", "-p", String(pid)], { encoding: "utf8" }).trim();
      return out === "" ? undefined : out;
    } catch {
      return undefined;
    }
  }
}

/** True when `pid` is alive and is still the process that started at `startTime`. */
export function isSameProcess(pid: number, startTime: string): boolean {
  const now = processStartTime(pid);
  if (now === undefined) return false;
  if (startTime !== "unknown" && now !== startTime) return false;
  // A zombie (exited, not yet reaped) is not running.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) return false;
  } catch {
    // not Linux: trust the start time
  }
  return true;
}

/** Signal every process of a group; false when the group is gone. Never a group below 2 (0 is the caller's own, 1 init's). */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  if (!Number.isInteger(pgid) || pgid < 2) return false;
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * True while any process of the group is alive. Zombies do not count: an orphan whose reaper never
 * reaps (a container's pid 1 often does not) stays a zombie and would make a group look alive forever.
 */
export function groupAlive(pgid: number): boolean {
  if (!signalGroup(pgid, 0)) return false;
  if (process.platform !== "linux") return true;
  let names: string[];
  try {
    names = readdirSync("/proc");
  } catch {
    return true;
  }
  const group = String(pgid);
  for (const name of names) {
    if (name.charCodeAt(0) > 57) continue; // not a pid
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ", 3);
      if (fields[2] === group && fields[0] !== "Z") return true;
    } catch {
      // exited meanwhile
    }
  }
  return false;
}

/**
 * The live wrapper running in the attempt folder `dir`, found by the pid it wrote there and checked
 * by its command line (`baton-run <dir>`), so a reused pid is never taken for it. Undefined when
 * it has ended or never started.
 */
export function wrapperIn(dir: string): { pid: number; startTime: string } | undefined {
  let pid: number;
  try {
    const text = readFileSync(`${dir}/pid`, "utf8").trim();
    if (!/^\d+$/.test(text)) return undefined;
    pid = Number(text);
  } catch {
    return undefined;
  }
  const startTime = processStartTime(pid);
  if (startTime === undefined || !isSameProcess(pid, startTime)) return undefined;
  let args: string[];
  try {
    args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  } catch {
    if (process.platform === "linux") return undefined;
    try {
      const line = execFileSync("ps", ["-o", "args=", "-p", String(pid)], { encoding: "utf8" });
      return line.includes(` baton-run ${dir} `) ? { pid, startTime } : undefined;
    } catch {
      return undefined;
    }
  }
  const at = args.indexOf("baton-run");
  return at >= 0 && args[at + 1] === dir ? { pid, startTime } : undefined;
}

/**
 * The pid of a live wrapper started in `dir` that has not written its pid file yet: a daemon killed
 * just after starting it leaves a wrapper the next daemon must not take for "never started" (it
 * would start the command a second time). Found by its arguments (`baton-run <dir>`) in /proc, or
 * `ps` elsewhere; undefined when there is none.
 */
export function wrapperStarting(dir: string): number | undefined {
  if (process.platform !== "linux") {
    try {
      const lines = execFileSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" }).split("\n");
      const line = lines.find((l) => l.includes(` baton-run ${dir} `));
      return line === undefined ? undefined : Number(line.trim().split(/\s+/)[0]);
    } catch {
      return undefined;
    }
  }
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((name) => /^\d+$/.test(name));
  } catch {
    return undefined;
  }
  for (const pid of pids) {
    let args: string[];
    try {
      args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    } catch {
      continue; // ended meanwhile, or not ours to read
    }
    const at = args.indexOf("baton-run");
    if (at >= 0 && args[at + 1] === dir && isSameProcess(Number(pid), "unknown")) return Number(pid);
  }
  return undefined;
}

/** This machine's name for daemon owners, affinity and the host registry: BATON_HOSTNAME, else os.hostname(). */
export function hostName(env: NodeJS.ProcessEnv = process.env): string {
  const name = env.BATON_HOSTNAME;
  return name !== undefined && name !== "" ? name : hostname();
}

/**
 * A lease owner named `host:pid:start time` (a daemon) is gone when it is on this host and that
 * process no longer runs. Owners of another host, or named otherwise, are never judged here.
 */
export function ownerGone(owner: string): boolean {
  const daemon = daemonOwner(owner);
  if (daemon === undefined || daemon.host !== hostName()) return false;
  return !isSameProcess(daemon.pid, daemon.start);
}

/** The parts of a daemon's owner name, `host:pid:start time`; undefined for any other owner. */
export function daemonOwner(owner: string): { host: string; pid: number; start: string } | undefined {
  const [host, pid, start] = owner.split(":");
  if (host === undefined || pid === undefined || start === undefined || !/^\d+$/.test(pid)) return undefined;
  return { host, pid: Number(pid), start };
}

/** True when `pid` now names a live process other than the one that started at `startTime`. */
export function pidReused(pid: number, startTime: string): boolean {
  const now = processStartTime(pid);
  return now !== undefined && startTime !== "unknown" && now !== startTime;
}
