/**
 * Issue 17 ("every answer is the truth"): a stop whose daemon is SIGKILLed after it signalled the
 * command and before it recorded the outcome. Before D148 the wrapper died with its process group
 * on the stop's SIGTERM, so no stopped command ever left its `exit` file (only `exit.tmp`), and
 * nothing said the process ended by a stop: the next daemon recorded the job crashed ("the process
 * ended without an exit code"), `wait` exited 1, and the stop, repeated under its request id after
 * its daemon died, answered "already finished (failed): nothing to stop".
 *
 * The window is made wide with the seam BATON_TEST_RECORD_DELAY_MS (the daemon holds the recording
 * of each attempt's end that long); everything else is real: a real daemon, real commands, real
 * signals and SIGKILL, a temp SQLite ledger.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  alive,
  attemptRows,
  cli,
  cliAsync,
  cliJson,
  daemonPid,
  jobRow,
  newHome,
  until,
} from "./helpers/supervisor.js";
import type { Home } from "./helpers/supervisor.js";
import { BIN } from "./helpers/cli.js";

const SEAM = { BATON_TEST_RECORD_DELAY_MS: "60000" };
const NO_SEAM = { BATON_TEST_RECORD_DELAY_MS: "0" };

const attempt = (home: Home, id: string, name: string): string => join(home.dir, "runs", id, "1", name);

/** Start a command that answers SIGTERM by writing term.log and exiting 143; resolves once its trap is set. */
async function startTrapping(
  home: Home,
  env: Record<string, string>,
): Promise<{ id: string; termLog: string }> {
  const termLog = join(home.dir, "term.log");
  const ready = join(home.dir, "ready");
  const script = `trap 'echo TERM >> ${termLog}; exit 143' TERM; : > ${ready}; sleep 40 & wait`;
  const { id } = cliJson(home, ["run", "--", "sh", "-c", script], { env });
  await until("the command to set its trap", () => existsSync(ready));
  await until("its process to be recorded", () => existsSync(attempt(home, id, "process.json")));
  return { id: id as string, termLog };
}

describe("issue 17: a stop whose daemon dies before it records the outcome", () => {
  it("is recorded cancelled by the next daemon, with the command's exit code, and the stop says it stopped it", async () => {
    const home = newHome();
    const { id, termLog } = await startTrapping(home, SEAM);
    const daemon = daemonPid(home)!;
    const wrapper = Number(readFileSync(attempt(home, id, "pid"), "utf8"));

    // Served by the held daemon; it signals the group, the command ends, and the daemon holds.
    const stopping = cliAsync(home, ["stop", id, "--json"], { env: NO_SEAM });
    await until("the command to get its SIGTERM", () => existsSync(termLog));
    await until("the wrapper to end", () => !alive(wrapper));
    expect(jobRow(home, id).state, "the outcome is not recorded yet").toBe("running");
    process.kill(daemon, "SIGKILL");
    await until("the daemon to die", () => !alive(daemon));

    // The exit code is written although the stop's signal reached the whole group.
    expect(existsSync(attempt(home, id, "exit")), "exit file written on a stop").toBe(true);
    expect(readFileSync(attempt(home, id, "exit"), "utf8").trim()).toBe("143");

    // The stop's call runs again under its request id (its daemon went away); a new daemon records the end.
    const stopped = await stopping;
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(JSON.parse(stopped.stdout).data).toMatchObject({ id, state: "cancelled", outcome: "cancelled" });

    expect(cli(home, ["wait", id, "--timeout", "30s"], { env: NO_SEAM }).code).toBe(130);
    expect(jobRow(home, id)).toMatchObject({ state: "cancelled" });
    expect(attemptRows(home, id).map((a) => a.outcome)).toEqual(["cancelled"]);
    expect(readFileSync(termLog, "utf8")).toBe("TERM\n");
  });

  it("a stop the CLI makes itself, its daemon killed while it holds the stop, is made again with a new daemon (stranger s17h F1)", async () => {
    const home = newHome();
    // The daemon holds each stop request it takes (BATON_TEST_STOP_DELAY_MS) before making it.
    const { id, termLog } = await startTrapping(home, { ...NO_SEAM, BATON_TEST_STOP_DELAY_MS: "60000" });
    const daemon = daemonPid(home)!;
    // BATON_DIRECT: this process runs stop_job and asks the daemon to stop the job (what a thin
    // client does once its own daemon went away, and the library's host); the daemons it starts
    // have no seam.
    const stopping = cliAsync(home, ["stop", id, "--json"], {
      env: { ...NO_SEAM, BATON_TEST_STOP_DELAY_MS: "0", BATON_DIRECT: "1" },
    });
    await new Promise((r) => setTimeout(r, 1500)); // the request is taken and held
    expect(existsSync(termLog), "not signalled yet").toBe(false);
    process.kill(daemon, "SIGKILL");
    await until("the daemon to die", () => !alive(daemon));

    // Was: STORE_UNAVAILABLE "the daemon went away", exit 5, no request id, the stop's fate unknown.
    const stopped = await stopping;
    expect(stopped.code, `${stopped.stdout}${stopped.stderr}`).toBe(0);
    expect(JSON.parse(stopped.stdout).data).toMatchObject({ id, state: "cancelled", outcome: "cancelled" });
    expect(cli(home, ["wait", id, "--timeout", "30s"], { env: NO_SEAM }).code).toBe(130);
    expect(readFileSync(termLog, "utf8")).toBe("TERM\n");
  });

  it("a forced stop (no exit code can be written) is recorded cancelled by the next daemon too", async () => {
    const home = newHome();
    const { id, termLog } = await startTrapping(home, SEAM);
    const daemon = daemonPid(home)!;
    const wrapper = Number(readFileSync(attempt(home, id, "pid"), "utf8"));

    const stopping = cliAsync(home, ["stop", id, "--force", "--json"], { env: NO_SEAM });
    await until("the SIGKILL to end the wrapper", () => !alive(wrapper));
    expect(jobRow(home, id).state, "the outcome is not recorded yet").toBe("running");
    process.kill(daemon, "SIGKILL");
    await until("the daemon to die", () => !alive(daemon));
    expect(existsSync(attempt(home, id, "exit")), "SIGKILL leaves no exit code").toBe(false);

    const stopped = await stopping;
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(JSON.parse(stopped.stdout).data).toMatchObject({ id, state: "cancelled", outcome: "cancelled" });
    expect(cli(home, ["wait", id, "--timeout", "30s"], { env: NO_SEAM }).code).toBe(130);
    expect(jobRow(home, id)).toMatchObject({ state: "cancelled" });
    expect(attemptRows(home, id).map((a) => [a.outcome, a.exit_code])).toEqual([["cancelled", null]]);
    expect(existsSync(termLog), "SIGKILL is not trapped").toBe(false);
  });

  it("a stop begun by a daemon that died, its caller gone too, is finished by the next daemon: SIGKILL after the grace", async () => {
    const home = newHome({ BATON_KILL_GRACE_MS: "2000" });
    const ready = join(home.dir, "ready");
    // The whole group ignores SIGTERM: only the SIGKILL after the grace ends it.
    const { id } = cliJson(home, ["run", "--", "sh", "-c", `trap '' TERM; : > ${ready}; sleep 40`]);
    await until("the command to start", () => existsSync(ready));
    const wrapper = Number(readFileSync(attempt(home, id, "pid"), "utf8"));
    const daemon = daemonPid(home)!;
    // A stop whose caller and daemon both die after its SIGTERM: nobody repeats it.
    const stopper = spawn(process.execPath, [BIN, "stop", id], {
      env: { ...process.env, ...home.env, BATON_HOME: home.dir },
      stdio: "ignore",
    });
    await until("the stop's signal", () => existsSync(attempt(home, id, "ending.json")));
    stopper.kill("SIGKILL");
    process.kill(daemon, "SIGKILL");
    await until("the daemon to die", () => !alive(daemon));
    expect(alive(wrapper), "the command outlived its daemon").toBe(true);

    const waited = cli(home, ["wait", id, "--timeout", "20s"]);
    expect(waited.code, waited.stderr).toBe(130);
    expect(jobRow(home, id)).toMatchObject({ state: "cancelled" });
    expect(alive(wrapper)).toBe(false);
  });

  it("a stop taken by a starting daemon before it re-attached to the job of a dead daemon signals it and keeps its exit code (stranger F2)", async () => {
    const home = newHome();
    const { id, termLog } = await startTrapping(home, NO_SEAM);
    const daemon = daemonPid(home)!;
    process.kill(daemon, "SIGKILL");
    await until("the daemon to die", () => !alive(daemon));

    // The stop starts a new daemon whose re-attach is held 2 s (BATON_TEST_REATTACH_DELAY_MS): it
    // takes the stop first. Was: it recorded the job cancelled at once, "its daemon (<the dead
    // one>) ends the process", and the attempt lost the command's exit code.
    const started = Date.now();
    const stopped = cliJson(home, ["stop", id], {
      env: { ...NO_SEAM, BATON_TEST_REATTACH_DELAY_MS: "2000" },
    });
    expect(stopped).toMatchObject({ state: "cancelled", outcome: "cancelled" });
    expect(readFileSync(termLog, "utf8")).toBe("TERM\n");
    expect(Date.now() - started, "ended within the held re-attach and the grace").toBeLessThan(15_000);
    expect(readFileSync(attempt(home, id, "exit"), "utf8").trim()).toBe("143");
    expect(attemptRows(home, id).map((a) => [a.outcome, a.exit_code])).toEqual([["cancelled", 143]]);
    expect(String(jobRow(home, id).error)).not.toContain("ends the process");
  });

  it("a plain stop leaves the command's exit file", async () => {
    const home = newHome();
    const { id, termLog } = await startTrapping(home, NO_SEAM);
    const stopped = cliJson(home, ["stop", id], { env: NO_SEAM });
    expect(stopped).toMatchObject({ state: "cancelled", outcome: "cancelled" });
    expect(readFileSync(termLog, "utf8")).toBe("TERM\n");
    expect(readFileSync(attempt(home, id, "exit"), "utf8").trim()).toBe("143");
    expect(existsSync(attempt(home, id, "exit.tmp"))).toBe(false);
    // wait exits 130 for a stopped job and says so, with the command's own code (stranger F5).
    const waited = cli(home, ["wait", id, "--timeout", "30s"], { env: NO_SEAM });
    expect(waited.code).toBe(130);
    expect(waited.stdout).toBe(`${id} (${id.slice(-6)})  cancelled  exit 130  (command exited 143)\n`);
    expect(JSON.parse(cli(home, ["wait", id, "--json"], { env: NO_SEAM }).stdout).data.exitCode).toBe(143);
  });
});
