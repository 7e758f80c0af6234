/**
 * Issue 17 (stranger finding 1): the daemon is SIGKILLed after a command's process started and
 * before the daemon wrote the command's process.json. The next daemon must tell apart a command
 * that ran and ended (its exit file says how: record that code), one still running (adopt it and
 * record its real end) and one that never started. Before the fix the first two were recorded as
 * crashed, "the daemon that claimed it died before the command started", and the still running one
 * was left running unwatched.
 *
 * The window is made wide with the seam BATON_TEST_LAUNCH_DELAY_MS (the daemon holds each launch
 * that long after the process started); everything else is real: a real daemon, real commands,
 * real SIGKILL, a temp SQLite ledger.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  alive,
  attemptRows,
  cli,
  cliJson,
  countProcessStarted,
  daemonPid,
  groupMembers,
  jobRow,
  newHome,
  until,
} from "./helpers/supervisor.js";
import type { Home } from "./helpers/supervisor.js";

const SEAM = { BATON_TEST_LAUNCH_DELAY_MS: "60000" };
const NO_SEAM = { BATON_TEST_LAUNCH_DELAY_MS: "0" };

const attempt = (home: Home, id: string, name: string): string => join(home.dir, "runs", id, "1", name);

/** The pid of the wrapper (group leader) running in this attempt folder, found in /proc. */
function wrapperOf(dir: string): number {
  const needle = `\0baton-run\0${dir.replace(/\/$/, "")}\0`;
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, "utf8").includes(needle)) return Number(name);
    } catch {
      // gone meanwhile
    }
  }
  throw new Error(`no wrapper runs in ${dir}`);
}

async function killDaemon(home: Home): Promise<void> {
  const pid = daemonPid(home)!;
  process.kill(pid, "SIGKILL");
  await until("the daemon to die", () => !alive(pid));
}

/** Start a command under a daemon held in its launch window; the command's process is running. */
async function startHeld(home: Home, script: string): Promise<string> {
  const { id } = cliJson(home, ["run", "--", "sh", "-c", script], { env: SEAM });
  await until(
    "the command's process to start",
    () => existsSync(attempt(home, id, "exit.tmp")) || existsSync(attempt(home, id, "exit")),
  );
  expect(existsSync(attempt(home, id, "process.json")), "still in the launch window").toBe(false);
  return id as string;
}

describe("issue 17: the daemon dies between starting a command and recording its process", () => {
  it("a command that ran and exited 0 meanwhile is recorded succeeded with exit code 0", async () => {
    const home = newHome();
    const marker = join(home.dir, "marker");
    const id = await startHeld(home, `echo ran >> ${marker}; exit 0`);
    await until("the command to end", () => existsSync(attempt(home, id, "exit")));
    await killDaemon(home);

    expect(cli(home, ["wait", id, "--timeout", "30s"], { env: NO_SEAM }).code).toBe(0);
    expect(jobRow(home, id)).toMatchObject({ state: "succeeded", error: null });
    expect(attemptRows(home, id).map((a) => [a.outcome, a.exit_code])).toEqual([["succeeded", 0]]);
    expect(readFileSync(marker, "utf8")).toBe("ran\n"); // ran once, not again
    expect(cliJson(home, ["logs", id], { env: NO_SEAM }).text).toBe("");
  });

  it("a command that exited 3 meanwhile is recorded failed with exit code 3", async () => {
    const home = newHome();
    const id = await startHeld(home, "echo some output; exit 3");
    await until("the command to end", () => existsSync(attempt(home, id, "exit")));
    await killDaemon(home);

    expect(cli(home, ["wait", id, "--timeout", "30s"], { env: NO_SEAM }).code).toBe(3);
    expect(jobRow(home, id)).toMatchObject({ state: "failed", error: "exit code 3" });
    expect(attemptRows(home, id).map((a) => [a.outcome, a.exit_code])).toEqual([["failed", 3]]);
    expect(cliJson(home, ["logs", id], { env: NO_SEAM }).text).toBe("some output\n");
  });

  it("a command still running is adopted by the next daemon and recorded when it really ends", async () => {
    const home = newHome();
    const gate = join(home.dir, "gate");
    const marker = join(home.dir, "marker");
    const id = await startHeld(
      home,
      `while [ ! -e ${gate} ]; do sleep 0.05; done; echo ran >> ${marker}; exit 4`,
    );
    await killDaemon(home);
    const wrapper = wrapperOf(attempt(home, id, ""));
    expect(groupMembers(wrapper).length, "the command outlives the daemon").toBeGreaterThan(0);

    expect(cli(home, ["daemon", "start"], { env: NO_SEAM }).code).toBe(0);
    // Adopted, not dead-lettered: still running, and the new daemon watches it.
    expect(jobRow(home, id).state).toBe("running");
    expect(cliJson(home, ["daemon", "status"], { env: NO_SEAM }).runningJobs).toBe(1);
    expect(existsSync(attempt(home, id, "process.json"))).toBe(true);

    writeFileSync(gate, "");
    expect(cli(home, ["wait", id, "--timeout", "30s"], { env: NO_SEAM }).code).toBe(4);
    expect(jobRow(home, id)).toMatchObject({ state: "failed", error: "exit code 4" });
    expect(attemptRows(home, id).map((a) => [a.outcome, a.exit_code])).toEqual([["failed", 4]]);
    expect(readFileSync(marker, "utf8")).toBe("ran\n");
    expect(countProcessStarted(home)).toBe(1); // recorded by the daemon that adopted it
    expect(groupMembers(wrapper)).toEqual([]);
  });
});
