/**
 * D135: a daemon that holds its socket but does not answer (stopped with SIGSTOP, hung) must not
 * hang its callers. Every `--json` call prints one envelope within a bounded time: reads run
 * direct, changes are refused with DAEMON_UNRESPONSIVE (their outcome is learnt by repeating the
 * request id), and `daemon status`, `health` and `doctor` name the daemon and how to recover.
 * A real daemon, really stopped (SIGSTOP) and resumed (SIGCONT).
 */
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { BIN } from "./helpers/cli.js";
import {
  alive,
  cliJson,
  daemonPid,
  jobRow,
  jobRows,
  newHome,
  sleep,
  stopDaemon,
} from "./helpers/supervisor.js";
import type { Home } from "./helpers/supervisor.js";

/** One call, ended after 30 s (a hang before D135): its exit code and its stdout as one envelope. */
function call(home: Home, args: string[]): { code: number | null; envelope: any; stdout: string } {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    env: { ...process.env, ...home.env, BATON_HOME: home.dir },
    cwd: home.dir,
    encoding: "utf8",
    timeout: 30_000,
  });
  const lines = result.stdout.split("\n").filter((l) => l.trim() !== "");
  let envelope: unknown;
  try {
    envelope = lines.length === 1 ? JSON.parse(lines[0]!) : undefined;
  } catch {
    envelope = undefined;
  }
  return { code: result.status, envelope, stdout: result.stdout + result.stderr };
}

/**
 * {@link call}, without blocking this process (a test freezes the daemon while it runs), timed:
 * `ms` is how long it took to answer.
 */
function callAsync(
  home: Home,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; envelope: any; stdout: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, ...home.env, ...env, BATON_HOME: home.dir },
      cwd: home.dir,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const killer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => {
      clearTimeout(killer);
      const lines = stdout.split("\n").filter((l) => l.trim() !== "");
      let envelope: unknown;
      try {
        envelope = lines.length === 1 ? JSON.parse(lines[0]!) : undefined;
      } catch {
        envelope = undefined;
      }
      resolve({ code, envelope, stdout: stdout + stderr, ms: Date.now() - started });
    });
  });
}

const homes: Home[] = [];
/** Daemons a test stopped (SIGSTOP): resumed before their homes are cleaned, whatever the test did. */
const frozen: number[] = [];
afterEach(() => {
  for (const pid of frozen.splice(0)) {
    try {
      process.kill(pid, "SIGCONT");
    } catch {
      // gone already
    }
  }
  for (const home of homes.splice(0)) stopDaemon(home);
});

/** A home whose daemon answers within 1.5 s (D135), started, running `sleep 30` as `id`. */
function homeRunning(): { home: Home; pid: number; id: string } {
  const home = newHome({ BATON_DAEMON_ANSWER_MS: String(WINDOW_MS) });
  homes.push(home);
  cliJson(home, ["daemon", "start"]);
  const run = cliJson(home, ["run", "--", "sleep", "30"]);
  const id = (run.id ?? run.job?.id) as string;
  for (let i = 0; i < 100 && jobRow(home, id).state !== "running"; i++) spawnSync("sleep", ["0.1"]);
  expect(jobRow(home, id).state).toBe("running");
  return { home, pid: daemonPid(home)!, id };
}

function freeze(pid: number): void {
  frozen.push(pid);
  process.kill(pid, "SIGSTOP");
}

function thaw(pid: number): void {
  process.kill(pid, "SIGCONT");
  frozen.splice(frozen.indexOf(pid), 1);
}

const WINDOW_MS = 1500;
/**
 * How long a call may take against a frozen daemon: the thin client's window, then the CLI's own
 * (D138), and starting node and the CLI twice on a loaded machine. A hang (before D138) is 30 s.
 */
const ANSWERED_WITHIN_MS = 2 * WINDOW_MS + 9_000;

describe("D135 a frozen daemon", () => {
  it("D135 with the daemon stopped (SIGSTOP), every call answers one envelope: reads direct, changes DAEMON_UNRESPONSIVE, `daemon status`, `status` and `doctor` name it; the change is not made behind the caller's back", async () => {
    const home = newHome({ BATON_DAEMON_ANSWER_MS: "1500" });
    homes.push(home);
    cliJson(home, ["daemon", "start"]);
    const pid = daemonPid(home)!;
    expect(alive(pid)).toBe(true);
    cliJson(home, ["enqueue", "-n", "before", "{}"]); // served by the daemon
    process.kill(pid, "SIGSTOP");
    let requestId: string;
    try {
      const enqueue = call(home, ["enqueue", '{"long":1}', "-n", "stlong", "--json"]);
      expect(enqueue.code, enqueue.stdout).toBe(5);
      expect(enqueue.envelope?.ok).toBe(false);
      expect(enqueue.envelope.error.code).toBe("DAEMON_UNRESPONSIVE");
      expect(enqueue.envelope.error.details.pid).toBe(pid);
      requestId = enqueue.envelope.error.details.requestId as string;
      expect(enqueue.envelope.error.message).toContain(`--request-id ${requestId}`);
      expect(enqueue.envelope.error.message).toContain(`kill -CONT ${pid}`);

      const list = call(home, ["list", "--json"]);
      expect(list.code, list.stdout).toBe(0);
      expect((list.envelope.data.jobs as { name: string }[]).map((j) => j.name)).toEqual(["before"]);

      const health = call(home, ["health", "--json"]);
      expect(health.code, health.stdout).toBe(0);
      expect(health.envelope.data.ok).toBe(true);

      const overview = call(home, ["status", "--json"]);
      expect(overview.code, overview.stdout).toBe(0);
      expect(overview.envelope.data.daemon).toMatchObject({ running: true, responding: false, pid });
      expect(overview.envelope.data.daemon.problem).toContain(`kill -CONT ${pid}`);
      // In words too: not "daemon: running (pid …)" (stranger s17f).
      const overviewText = call(home, ["status"]);
      expect(overviewText.stdout).toContain("daemon: NOT ANSWERING");
      expect(overviewText.stdout).not.toContain("daemon: running");
      // `daemon start` does not call an unanswering daemon "running".
      const start = call(home, ["daemon", "start", "--json"]);
      expect(start.code, start.stdout).toBe(5);
      expect(start.envelope.error.code).toBe("DAEMON_UNRESPONSIVE");

      const status = call(home, ["daemon", "status", "--json"]);
      expect(status.code, status.stdout).toBe(1);
      expect(status.envelope.data).toMatchObject({ running: true, responding: false, pid });

      const doctor = call(home, ["doctor", "--json"]);
      expect(doctor.envelope?.ok, doctor.stdout).toBe(true);
      expect(doctor.envelope.data.ok).toBe(false);
      const check = (doctor.envelope.data.checks as { name: string; ok: boolean; fix?: string }[]).find(
        (c) => c.name === "daemon",
      );
      expect(check).toMatchObject({ ok: false });
      expect(check!.fix).toContain(`kill -CONT ${pid}`);
    } finally {
      process.kill(pid, "SIGCONT");
    }
    // Resumed, the daemon does not serve the call its caller gave up on; the retry under the same
    // request id makes it, once.
    cliJson(home, ["health"]);
    const retried = cliJson(home, ["--request-id", requestId, "enqueue", '{"long":1}', "-n", "stlong"]);
    const again = cliJson(home, ["--request-id", requestId, "enqueue", '{"long":1}', "-n", "stlong"]);
    expect(again.id ?? again.job?.id).toBe(retried.id ?? retried.job?.id);
    const names = (cliJson(home, ["list", "--all"]).jobs as { name: string }[]).map((j) => j.name);
    expect(names.filter((n) => n === "stlong")).toHaveLength(1);
  });

  it("D135 `daemon stop` refused by a stopped daemon (DAEMON_UNRESPONSIVE) is not carried out when it resumes: the refusal is true", async () => {
    const home = newHome({ BATON_DAEMON_ANSWER_MS: "1000" });
    homes.push(home);
    cliJson(home, ["daemon", "start"]);
    const pid = daemonPid(home)!;
    process.kill(pid, "SIGSTOP");
    try {
      const stop = call(home, ["daemon", "stop", "--json"]);
      expect(stop.code, stop.stdout).toBe(5);
      expect(stop.envelope.error.code).toBe("DAEMON_UNRESPONSIVE");
      expect(stop.envelope.error.message).toContain(`kill -CONT ${pid}`);
    } finally {
      process.kill(pid, "SIGCONT");
    }
    // Resumed, it finds the request past its deadline: it keeps running (a daemon that obeyed it
    // logs "shutting down" and exits within moments; give it 3 s to show it did not).
    for (let i = 0; i < 30; i++) {
      await sleep(100);
      expect(alive(pid)).toBe(true);
      expect(readFileSync(join(home.dir, "daemon.log"), "utf8")).not.toContain("shutting down");
    }
    const status = call(home, ["daemon", "status", "--json"]);
    expect(status.code, status.stdout).toBe(0);
    expect(status.envelope.data).toMatchObject({ running: true, pid });
    // Asked again, in time, it stops.
    expect(cliJson(home, ["daemon", "stop"])).toMatchObject({ stopped: true });
    expect(alive(pid)).toBe(false);
  });

  it("D135 a served call longer than the answer window (`wait` on a 3 s command) is kept alive, not given up", () => {
    const home = newHome({ BATON_DAEMON_ANSWER_MS: "1000" });
    homes.push(home);
    cliJson(home, ["daemon", "start"]);
    const run = cliJson(home, ["run", "--", "sleep", "3"]);
    const id = (run.id ?? run.job?.id) as string;
    const waited = call(home, ["wait", id, "--json"]);
    expect(waited.code, waited.stdout).toBe(0);
    expect(waited.envelope.ok).toBe(true);
  });
});

describe("D138 the CLI's own daemon requests are bounded too", () => {
  it("D138 `wait` on a daemon stopped before the call answers DAEMON_UNRESPONSIVE (exit 5) within the window, naming the job, which goes on when the daemon resumes", async () => {
    const { home, pid, id } = homeRunning();
    freeze(pid);
    const waited = await callAsync(home, ["wait", id, "--json"]);
    thaw(pid);
    expect(waited.code, waited.stdout).toBe(5);
    expect(waited.ms).toBeLessThan(ANSWERED_WITHIN_MS);
    expect(waited.envelope.ok).toBe(false);
    expect(waited.envelope.error.code).toBe("DAEMON_UNRESPONSIVE");
    expect(waited.envelope.error.details).toMatchObject({ pid, jobId: id });
    expect(waited.envelope.error.message).toContain(id);
    expect(waited.envelope.error.message).toContain(`kill -CONT ${pid}`);
    // Resumed, it still runs the job.
    expect(jobRow(home, id).state).toBe("running");
    cliJson(home, ["stop", id]);
  });

  it("D138 `run --wait` on a stopped daemon answers DAEMON_UNRESPONSIVE (exit 5): the job is queued, said with its id, and runs once when the daemon resumes", async () => {
    const home = newHome({ BATON_DAEMON_ANSWER_MS: String(WINDOW_MS) });
    homes.push(home);
    cliJson(home, ["daemon", "start"]);
    const pid = daemonPid(home)!;
    freeze(pid);
    const run = await callAsync(home, ["run", "--wait", "--json", "--", "true"]);
    thaw(pid);
    expect(run.code, run.stdout).toBe(5);
    expect(run.ms).toBeLessThan(ANSWERED_WITHIN_MS);
    expect(run.envelope.ok).toBe(false);
    expect(run.envelope.error.code).toBe("DAEMON_UNRESPONSIVE");
    const jobId = run.envelope.error.details.jobIds?.[0] as string;
    expect(jobRows(home).map((j) => j.id)).toEqual([jobId]);
    expect(run.envelope.error.message).toContain(`${jobId} is queued`);
    expect(run.envelope.error.message).toContain(`baton wait ${jobId}`);
    // As said: resumed, the daemon runs it.
    const waited = cliJson(home, ["wait", jobId]);
    expect(waited).toMatchObject({ finished: true, state: "succeeded" });
    expect(jobRows(home)).toHaveLength(1);
  });

  it("D138 `stop` on a stopped daemon answers DAEMON_UNRESPONSIVE (exit 5) saying the stop was not sent, and the daemon resumed after the deadline does not stop the job", async () => {
    const { home, pid, id } = homeRunning();
    freeze(pid);
    // BATON_DIRECT: the CLI's own request (as the library's), not refused by the thin client first.
    const stop = await callAsync(home, ["stop", id, "--json"], { BATON_DIRECT: "1" });
    thaw(pid);
    expect(stop.code, stop.stdout).toBe(5);
    expect(stop.ms).toBeLessThan(ANSWERED_WITHIN_MS);
    expect(stop.envelope.ok).toBe(false);
    expect(stop.envelope.error.code).toBe("DAEMON_UNRESPONSIVE");
    expect(stop.envelope.error.details).toMatchObject({ pid, jobId: id });
    expect(stop.envelope.error.message).toContain(`was not stopped`);
    // The refusal holds: resumed past the deadline, the daemon does not stop it.
    for (let i = 0; i < 20; i++) {
      await sleep(100);
      expect(jobRow(home, id).state).toBe("running");
    }
    expect(readFileSync(join(home.dir, "daemon.log"), "utf8")).toContain("past its deadline");
    cliJson(home, ["stop", id]);
    expect(jobRow(home, id).state).toBe("cancelled");
  });

  it("D138 `wait` on a daemon stopped mid-wait (its keep-alives stop) answers DAEMON_UNRESPONSIVE (exit 5) within the window", async () => {
    const { home, pid, id } = homeRunning();
    const waiting = callAsync(home, ["wait", id, "--json"]);
    // Longer than the window: the call is kept alive by the daemon's acknowledgements until then.
    await sleep(WINDOW_MS + 2_000);
    freeze(pid);
    const frozenAt = Date.now();
    const waited = await waiting;
    const answeredAfter = Date.now() - frozenAt;
    thaw(pid);
    expect(waited.code, waited.stdout).toBe(5);
    expect(answeredAfter).toBeLessThan(ANSWERED_WITHIN_MS);
    expect(waited.envelope.error.code).toBe("DAEMON_UNRESPONSIVE");
    expect(waited.envelope.error.details).toMatchObject({ pid, jobId: id });
    cliJson(home, ["stop", id]);
  });

  it("D149 `run --wait` on a daemon stopped after its job started names the job in details.jobIds, as when it queued it", async () => {
    const home = newHome({ BATON_DAEMON_ANSWER_MS: String(WINDOW_MS) });
    homes.push(home);
    cliJson(home, ["daemon", "start"]);
    const pid = daemonPid(home)!;
    const running = callAsync(home, ["run", "--wait", "--json", "--", "sleep", "30"]);
    for (let i = 0; i < 200 && jobRows(home)[0]?.state !== "running"; i++) await sleep(100);
    const id = jobRows(home)[0]!.id;
    expect(jobRow(home, id).state).toBe("running");
    freeze(pid);
    const run = await running;
    thaw(pid);
    expect(run.code, run.stdout).toBe(5);
    expect(run.envelope.error.code).toBe("DAEMON_UNRESPONSIVE");
    expect(run.envelope.error.details).toMatchObject({ pid, jobIds: [id] });
    cliJson(home, ["stop", id]);
  });
});

describe("D149 a change forwarded by the thin client to a stopped daemon", () => {
  it("D149 `stop` through the thin client answers 'may or may not' with its request id; the resumed daemon logs and ignores the late call, and the replay stops the job once", async () => {
    const { home, pid, id } = homeRunning();
    freeze(pid);
    const stop = await callAsync(home, ["stop", id, "--json"]);
    thaw(pid);
    expect(stop.code, stop.stdout).toBe(5);
    expect(stop.ms).toBeLessThan(ANSWERED_WITHIN_MS);
    const error = stop.envelope.error as { code: string; message: string; details: Record<string, unknown> };
    expect(error.code).toBe("DAEMON_UNRESPONSIVE");
    // The thin client handed the whole call over: it cannot know whether it was applied.
    expect(error.message).toContain("may or may not");
    expect(error.details.sent).toBeUndefined();
    const requestId = error.details.requestId as string;
    expect(requestId).toMatch(/^cli-/);
    // Resumed past the deadline, the daemon ignores the call, and says so in its log.
    for (let i = 0; i < 20 && !readFileSync(join(home.dir, "daemon.log"), "utf8").includes(requestId); i++)
      await sleep(100);
    expect(readFileSync(join(home.dir, "daemon.log"), "utf8")).toContain(
      `served call 'baton stop' (request id ${requestId}) ignored: it arrived past its deadline`,
    );
    expect(jobRow(home, id).state).toBe("running");
    // As the message says: the replay under its request id makes the change once.
    cliJson(home, ["--request-id", requestId, "stop", id]);
    expect(jobRow(home, id).state).toBe("cancelled");
  });
});
