/**
 * Issue 17 (stranger s17h F3, F4): a job stopped, or its daemon killed, between its claim and the
 * start of its command.
 *
 * - A stop taken by the daemon launching the job was recorded `cancelled` in the ledger at once
 *   ("its daemon (<itself>) ends the process") while the launch went on: the command started after
 *   its job was cancelled, and was killed a second later by the liveness check; a stop landing just
 *   after the process started lost the command's exit code the same way.
 * - A job whose daemon died after claiming it and before starting the command was recorded
 *   crashed, "the daemon that claimed it died before the command started": `failed` (dead-lettered
 *   with no retries left) for a command that never ran, and a stop made meanwhile answered
 *   "already finished (failed): nothing to stop".
 *
 * The windows are made wide with seams (BATON_TEST_PRESTART_DELAY_MS holds each launch after its
 * claim, BATON_TEST_LAUNCH_DELAY_MS after its process started); everything else is real: real
 * daemons, real commands and signals, SIGKILL, a temp SQLite ledger.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { wrapperStarting } from "../src/supervisor/process.js";
import {
  alive,
  attemptRows,
  cli,
  cliAsync,
  cliJson,
  daemonPid,
  jobRow,
  newHome,
  sleep,
  until,
} from "./helpers/supervisor.js";
import type { Home } from "./helpers/supervisor.js";

const attempt = (dir: string, id: string, n: number, name: string): string =>
  join(dir, "runs", id, String(n), name);

/**
 * A command that answers SIGTERM by writing term.log and exiting 143, started by a daemon that
 * holds it 3 s before tracking it (BATON_TEST_LAUNCH_DELAY_MS); resolves once its trap is set.
 */
async function startUntracked(): Promise<{ home: Home; id: string; termLog: string }> {
  const home = newHome({ BATON_TEST_LAUNCH_DELAY_MS: "3000" });
  const termLog = join(home.dir, "term.log");
  const ready = join(home.dir, "ready");
  const script = `trap 'echo TERM >> ${termLog}; exit 143' TERM; : > ${ready}; sleep 40 & wait`;
  const { id } = cliJson(home, ["run", "--", "sh", "-c", script]);
  await until("the command to set its trap", () => existsSync(ready));
  return { home, id: id as string, termLog };
}

describe("issue 17: a stop, or a daemon's death, between a job's claim and its command's start", () => {
  it("a stop taken while the daemon launches the job ends it before its command starts", async () => {
    const home = newHome({ BATON_TEST_PRESTART_DELAY_MS: "3000" });
    const started = join(home.dir, "started");
    const { id } = cliJson(home, ["run", "--", "sh", "-c", `: > ${started}; sleep 30`]);
    await until("the job to be claimed", () => jobRow(home, id).state === "running");

    const stopped = cliJson(home, ["stop", id]);
    expect(stopped).toMatchObject({ id, state: "cancelled", outcome: "cancelled" });
    await sleep(4000); // past the held launch
    // Was: the command started 3 s after its job was recorded cancelled.
    expect(existsSync(started), "the command never started").toBe(false);
    expect(existsSync(attempt(home.dir, id, 1, "pid")), "no wrapper was started").toBe(false);
    expect(jobRow(home, id)).toMatchObject({ state: "cancelled" });
    expect(attemptRows(home, id).map((a) => [a.outcome, a.exit_code])).toEqual([["cancelled", null]]);
    expect(JSON.parse(readFileSync(attempt(home.dir, id, 1, "ending.json"), "utf8"))).toMatchObject({
      ending: "stop",
      force: false,
    });
    expect(cli(home, ["wait", id, "--timeout", "10s"]).code).toBe(130);
  });

  it("a stop landing just after the process started waits for it and keeps the command's exit code", async () => {
    const { home, id, termLog } = await startUntracked();
    expect(existsSync(attempt(home.dir, id, 1, "process.json")), "not tracked yet").toBe(false);

    const stopped = cliJson(home, ["stop", id]);
    expect(stopped).toMatchObject({ id, state: "cancelled", outcome: "cancelled" });
    expect(readFileSync(termLog, "utf8")).toBe("TERM\n");
    // Was: recorded cancelled before the process was tracked, the exit code lost.
    expect(attemptRows(home, id).map((a) => [a.outcome, a.exit_code])).toEqual([["cancelled", 143]]);
    expect(String(jobRow(home, id).error)).not.toContain("ends the process");
  });

  it("a forced stop landing just after the process started kills it without a SIGTERM", async () => {
    const { home, id, termLog } = await startUntracked();

    const stopped = cliJson(home, ["stop", id, "--force"]);
    expect(stopped).toMatchObject({ id, state: "cancelled", outcome: "cancelled" });
    expect(existsSync(termLog), "SIGKILL only").toBe(false);
    expect(attemptRows(home, id).map((a) => a.outcome)).toEqual(["cancelled"]);
    expect(JSON.parse(readFileSync(attempt(home.dir, id, 1, "ending.json"), "utf8"))).toMatchObject({
      ending: "stop",
      force: true,
    });
    const wrapper = Number(readFileSync(attempt(home.dir, id, 1, "pid"), "utf8"));
    expect(alive(wrapper)).toBe(false);
  });

  it("a stop of a job whose daemon died holding its claim is recorded cancelled, not crashed (F3)", async () => {
    const home = newHome({ BATON_TEST_PRESTART_DELAY_MS: "20000" });
    const { id } = cliJson(home, ["run", "--", "sleep", "30"]);
    await until("the job to be claimed", () => jobRow(home, id).state === "running");
    const daemon = daemonPid(home)!;
    process.kill(daemon, "SIGKILL");
    await until("the daemon to die", () => !alive(daemon));

    // The stop starts a new daemon whose own re-attach is held 8 s: the stop reaches the job first
    // (2 s was not always enough on a loaded CI machine).
    const stopped = cli(home, ["stop", id, "--json"], {
      env: { BATON_TEST_PRESTART_DELAY_MS: "0", BATON_TEST_REATTACH_DELAY_MS: "8000" },
    });
    // Was: outcome "already_finished", the job failed: "the daemon that claimed it died before the
    // command started" (dead-lettered: a command that never ran, meant stopped).
    expect(stopped.code, `${stopped.stdout}${stopped.stderr}`).toBe(0);
    expect(JSON.parse(stopped.stdout).data, stopped.stdout).toMatchObject({
      id,
      state: "cancelled",
      outcome: "cancelled",
    });
    expect(attemptRows(home, id).map((a) => [a.outcome, a.exit_code])).toEqual([["cancelled", null]]);
    expect(existsSync(attempt(home.dir, id, 1, "pid")), "never started").toBe(false);
    expect(cli(home, ["wait", id, "--timeout", "10s"]).code).toBe(130);
  });

  it("a job whose daemon died before starting its command runs once, its attempt not spent (F3)", async () => {
    const home = newHome({ BATON_TEST_PRESTART_DELAY_MS: "20000" });
    const ran = join(home.dir, "ran.log");
    const { id } = cliJson(home, ["run", "--", "sh", "-c", `echo ran >> ${ran}`]);
    await until("the job to be claimed", () => jobRow(home, id).state === "running");
    const daemon = daemonPid(home)!;
    process.kill(daemon, "SIGKILL");
    await until("the daemon to die", () => !alive(daemon));

    // The next daemon gives the claim back and runs it. Was: failed, exit 1.
    const next = cli(home, ["daemon", "start"], { env: { BATON_TEST_PRESTART_DELAY_MS: "0" } });
    expect(next.code, next.stderr).toBe(0);
    const waited = cli(home, ["wait", id, "--timeout", "30s"], {
      env: { BATON_TEST_PRESTART_DELAY_MS: "0" },
    });
    expect(waited.code, `${waited.stdout}${waited.stderr}`).toBe(0);
    expect(jobRow(home, id)).toMatchObject({ state: "succeeded", attempts: 1 });
    expect(attemptRows(home, id).map((a) => a.outcome)).toEqual(["released", "succeeded"]);
    expect(readFileSync(ran, "utf8")).toBe("ran\n");
  });

  it("wrapperStarting finds a wrapper of a folder before its pid file, and only of that folder", async () => {
    const home = newHome();
    const dir = join(home.dir, "runs", "job", "1");
    mkdirSync(dir, { recursive: true });
    // What startDetached runs: `sh -c <wrapper> baton-run <dir> <stdin> argv…`, here one that has
    // not written its pid file.
    const child = spawn("/bin/sh", ["-c", "sleep 20", "baton-run", dir, "/dev/null", "true"], {
      stdio: "ignore",
    });
    try {
      await until("the shell to start", () => wrapperStarting(dir) !== undefined);
      expect(wrapperStarting(dir)).toBe(child.pid);
      expect(wrapperStarting(`${dir}0`)).toBeUndefined();
      expect(wrapperStarting(join(home.dir, "runs", "job", "2"))).toBeUndefined();
    } finally {
      child.kill("SIGKILL");
    }
    await until("the shell to end", () => wrapperStarting(dir) === undefined);
  });
});

describe("issue 17 (F4): every --json outcome says the command's code and the code the call exits with alike", () => {
  it("run --wait, run -f and wait give exitCode (the command's) and exitsWith (this call's)", () => {
    const home = newHome();
    const script = "trap 'exit 7' TERM; sleep 10 & wait";
    const waited = cli(home, ["run", "--timeout", "1s", "--wait", "--json", "--", "sh", "-c", script]);
    expect(waited.code).toBe(124);
    const data = JSON.parse(waited.stdout).data;
    // Was: exitCode 124 here (baton's), 7 from `wait --json` (the command's).
    expect(data).toMatchObject({ state: "timed_out", exitCode: 7, exitsWith: 124 });
    const again = cli(home, ["wait", data.id, "--json"]);
    expect(again.code).toBe(124);
    expect(JSON.parse(again.stdout).data).toMatchObject({ state: "timed_out", exitCode: 7, exitsWith: 124 });

    const followed = cli(home, ["run", "--timeout", "1s", "-f", "--json", "--", "sh", "-c", script]);
    expect(followed.code).toBe(124);
    const last = JSON.parse(followed.stdout.trim().split("\n").pop()!);
    expect(last.data).toMatchObject({ state: "timed_out", exitCode: 7, exitsWith: 124 });

    const plain = cli(home, ["run", "--wait", "--json", "--", "sh", "-c", "exit 3"]);
    expect(plain.code).toBe(3);
    expect(JSON.parse(plain.stdout).data).toMatchObject({ state: "failed", exitCode: 3, exitsWith: 3 });
  });
});

describe("issue 17 (stranger s17i): a stop racing a claim, and a stop after the command ended", () => {
  it("F1: a stop that read the job queued does not force a cancel over a claim made meanwhile: the daemon stops it", async () => {
    const home = newHome({ BATON_MAX_RUNNING: "1" });
    const blocker = cliJson(home, ["run", "--", "sleep", "60"]);
    await until("the blocker to run", () => jobRow(home, blocker.id as string).state === "running");
    const termLog = join(home.dir, "term.log");
    const script = `trap 'echo TERM >> ${termLog}; exit 143' TERM; sleep 40 & wait`;
    const { id } = cliJson(home, ["run", "--", "sh", "-c", script]);
    expect(jobRow(home, id).state).toBe("queued");

    // The stop runs in this process (BATON_DIRECT) and holds 3 s between its read and its cancel.
    const stopping = cliAsync(home, ["stop", id, "--json"], {
      env: { BATON_DIRECT: "1", BATON_TEST_STOP_READ_DELAY_MS: "3000" },
    });
    await sleep(800);
    cliJson(home, ["stop", blocker.id as string]); // frees the slot: the daemon claims and starts the job
    await until("the job to be started", () => existsSync(attempt(home.dir, id, 1, "process.json")));
    const stopped = await stopping;
    expect(stopped.code, `${stopped.stdout}${stopped.stderr}`).toBe(0);
    expect(JSON.parse(stopped.stdout).data).toMatchObject({ id, state: "cancelled", outcome: "cancelled" });
    // Was: cancelled by the CLI over the daemon's claim (no signal of the stop, no exit code).
    expect(readFileSync(termLog, "utf8")).toBe("TERM\n");
    expect(attemptRows(home, id).map((a) => [a.outcome, a.exit_code])).toEqual([["cancelled", 143]]);
    expect(existsSync(attempt(home.dir, id, 1, "ending.json"))).toBe(true);
  });

  it("F2: a stop of a command that already exited on its own, not yet recorded, answers already finished with its code", async () => {
    // The daemon holds the recording of each end 4 s (BATON_TEST_RECORD_DELAY_MS).
    const home = newHome({ BATON_TEST_RECORD_DELAY_MS: "4000" });
    const { id } = cliJson(home, ["run", "--", "sh", "-c", "exit 42"]);
    await until("the command to exit", () => existsSync(attempt(home.dir, id, 1, "exit")));
    expect(jobRow(home, id).state).toBe("running");
    const stopped = cli(home, ["stop", id, "--json"]);
    expect(stopped.code, stopped.stderr).toBe(0);
    // Was: outcome cancelled, the job cancelled (exit 130) for a command that had failed with 42.
    expect(JSON.parse(stopped.stdout).data).toMatchObject({
      id,
      state: "failed",
      outcome: "already_finished",
    });
    expect(attemptRows(home, id).map((a) => [a.outcome, a.exit_code])).toEqual([["failed", 42]]);
    expect(existsSync(attempt(home.dir, id, 1, "ending.json"))).toBe(false);
    expect(cli(home, ["wait", id]).code).toBe(42);
  });

  it("F5: wait --json that gives up says to wait again in the CLI's words too, not only the MCP tool's", () => {
    const home = newHome();
    const { id } = cliJson(home, ["run", "--", "sleep", "20"]);
    const gaveUp = cli(home, ["wait", id, "--timeout", "1s", "--json"]);
    expect(gaveUp.code).toBe(75);
    // Was: "still running; call wait_job again".
    expect(JSON.parse(gaveUp.stdout).data.message).toMatch(/wait again \(baton wait, wait_job\)/);
    cliJson(home, ["stop", id]);
  });

  it("a stop of a queued job whose daemon died between its cancel and its answer answers cancelled when repeated", async () => {
    const home = newHome({ BATON_MAX_RUNNING: "1" });
    // The daemon holds each answer 60 s after its work committed (BATON_TEST_ANSWER_DELAY_MS).
    expect(cli(home, ["daemon", "start"], { env: { BATON_TEST_ANSWER_DELAY_MS: "60000" } }).code).toBe(0);
    const daemon = daemonPid(home)!;
    const direct = { env: { BATON_DIRECT: "1" } };
    const blocker = cliJson(home, ["run", "--", "sleep", "60"], direct);
    await until("the blocker to run", () => jobRow(home, blocker.id as string).state === "running");
    const { id } = cliJson(home, ["run", "--", "true"], direct);
    expect(jobRow(home, id).state).toBe("queued");

    const stopping = cliAsync(home, ["stop", id, "--json"], { env: { BATON_TEST_ANSWER_DELAY_MS: "0" } });
    await until("the cancel to commit", () => jobRow(home, id).state === "cancelled");
    process.kill(daemon, "SIGKILL");
    const stopped = await stopping;
    expect(stopped.code, `${stopped.stdout}${stopped.stderr}`).toBe(0);
    // Was: outcome "already_finished" ("had already finished (cancelled): nothing to stop").
    expect(JSON.parse(stopped.stdout).data).toMatchObject({ id, state: "cancelled", outcome: "cancelled" });
    // A second stop under a new id did not do it: already finished.
    expect(cliJson(home, ["stop", id])).toMatchObject({ outcome: "already_finished" });
    cliJson(home, ["stop", blocker.id as string]);
  });
});
