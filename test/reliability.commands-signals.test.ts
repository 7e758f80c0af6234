/**
 * Signals to the daemon and to commands (RELIABILITY.md ): a graceful shutdown on
 * SIGTERM with 200 commands running, and timeouts that end a command's whole process group.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BIN } from "./helpers/cli.js";
import {
  FIXTURES,
  alive,
  attemptRows,
  cli,
  cliJson,
  eventRows,
  gatedCommand,
  groupMembers,
  jobRow,
  makeGate,
  newHome,
  openGate,
  outcomes,
  processRecords,
  runMany,
  TERMINAL,
  until,
} from "./helpers/supervisor.js";
import type { Home } from "./helpers/supervisor.js";

/** `baton daemon run` in the foreground, as a child of the test: its exit code and log are ours. */
function foregroundDaemon(home: Home): { exited: Promise<number | null>; log: () => string } {
  let log = "";
  const child = spawn(process.execPath, [BIN, "daemon", "run"], {
    cwd: home.dir,
    env: { ...process.env, ...home.env, BATON_HOME: home.dir },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout.on("data", (d: Buffer) => (log += d.toString()));
  child.stderr.on("data", (d: Buffer) => (log += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { exited, log: () => log };
}

describe("R-15 SIGTERM to the daemon", () => {
  it(
    "R-15 SIGTERM with 200 commands running: no new claims, commands finishing within the grace are recorded, the rest keep running for the next daemon, exit 0",
    { timeout: 300_000 },
    async () => {
      const home = newHome({
        BATON_MAX_RUNNING: "200",
        BATON_MAX_RUNNING_PER_PROJECT: "200",
        BATON_SHUTDOWN_GRACE_MS: "20000",
      });
      const daemon = foregroundDaemon(home);
      await until("the daemon to listen", () => daemon.log().includes("listening"));
      const daemonPid = cliJson(home, ["daemon", "status"]).pid as number;

      const early = makeGate(join(home.dir, "early"));
      const late = makeGate(join(home.dir, "late"));
      const codeOf = (i: number): number => i % 5;
      const ids = await runMany(
        home,
        Array.from({ length: 200 }, (_, i) => gatedCommand(i % 2 === 0 ? early : late, codeOf(i))),
      );
      await until("200 commands to run", () => processRecords(home).length === 200, 120_000, 200);
      // Every run slot is taken: these wait in the queue.
      const queued = await runMany(home, [["true"], ["true"], ["true"]]);
      for (const id of queued) expect(jobRow(home, id).state).toBe("queued");

      process.kill(daemonPid, "SIGTERM");
      // Half the commands end during the grace period and free their slots.
      const earlyIds = ids.filter((_, i) => i % 2 === 0);
      const lateIds = ids.filter((_, i) => i % 2 === 1);
      await openGate(
        early,
        () => earlyIds.every((id) => existsSync(join(home.dir, "runs", id, "1", "exit"))),
        60_000,
      );
      expect(await daemon.exited).toBe(0);
      expect(daemon.log()).toContain("shutting down (SIGTERM)");
      expect(daemon.log()).toContain("100 command(s) left running");

      const after = outcomes(home);
      for (const id of earlyIds) {
        const code = codeOf(ids.indexOf(id));
        expect(after.get(id), id).toMatchObject({ state: code === 0 ? "succeeded" : "failed", code });
      }
      // No claims once SIGTERM arrived, though slots were free: the queued jobs never started.
      for (const id of queued) expect(jobRow(home, id).state).toBe("queued");
      expect(eventRows(home, "process_started")).toHaveLength(200);
      // The rest keep running, still recorded as running, for the next daemon.
      const byJob = new Map(processRecords(home).map((r) => [r.jobId, r]));
      for (const id of lateIds) {
        expect(after.get(id)!.state).toBe("running");
        expect(groupMembers(byJob.get(id)!.pid).length).toBeGreaterThan(0);
      }
      expect(existsSync(join(home.dir, "daemon.sock"))).toBe(false);

      // The next daemon re-attaches to them, and starts the queued jobs.
      expect(cli(home, ["daemon", "start"]).code).toBe(0);
      for (const id of queued) expect(cli(home, ["wait", id]).code).toBe(0);
      await openGate(
        late,
        () => lateIds.every((id) => existsSync(join(home.dir, "runs", id, "1", "exit"))),
        60_000,
      );
      await until(
        "every command to be recorded",
        () => [...outcomes(home).values()].every((o) => TERMINAL.includes(o.state)),
        60_000,
        200,
      );
      const final = outcomes(home);
      for (const id of lateIds) expect(final.get(id)!.code).toBe(codeOf(ids.indexOf(id)));
      expect(attemptRows(home)).toHaveLength(203);
    },
  );
});

describe("R-16 timeouts end the whole process group", () => {
  it("R-16 --timeout 2s on a command with a grandchild: the whole group is gone, recorded as timed_out (exit 124), not as a stop", async () => {
    const home = newHome();
    const pidFile = join(home.dir, "pids");
    const { id } = cliJson(home, [
      "run",
      "--timeout",
      "2s",
      "--",
      "sh",
      join(FIXTURES, "grandchild.sh"),
      pidFile,
      "60",
    ]);
    await until("the grandchild to start", () => existsSync(pidFile));
    const pids = readFileSync(pidFile, "utf8").trim().split(" ").map(Number);
    expect(pids).toHaveLength(3);
    for (const pid of pids) expect(alive(pid)).toBe(true);

    expect(cli(home, ["wait", id]).code).toBe(124);
    for (const pid of pids) expect(alive(pid), `pid ${pid}`).toBe(false);
    const [record] = processRecords(home);
    expect(groupMembers(record!.pid)).toEqual([]);
    expect(jobRow(home, id).state).toBe("timed_out");
    const [attempt] = attemptRows(home, id);
    expect(attempt!.outcome).toBe("timed_out");
    expect(attempt!.error).toContain("timed out after 2000 ms");
    expect(cliJson(home, ["status", id]).job.state).toBe("timed_out");
  });

  it("R-16 --idle-timeout: no output for 1 s ends the group; SIGKILL after the grace when SIGTERM is ignored", async () => {
    const home = newHome({ BATON_KILL_GRACE_MS: "500" });
    const idle = cliJson(home, ["run", "--idle-timeout", "1s", "--", "sh", join(FIXTURES, "hang.sh"), "60"]);
    // Ignores SIGTERM: only the SIGKILL after the grace ends it.
    const stubborn = cliJson(home, ["run", "--timeout", "1s", "--", "sh", join(FIXTURES, "ignore-term.sh")]);
    // Output keeps an idle timeout away: this one outlives its 1 s idle timeout.
    const chatty = cliJson(home, [
      "run",
      "--idle-timeout",
      "1s",
      "--",
      "sh",
      "-c",
      "for i in 1 2 3 4 5 6 7 8 9 10; do echo tick $i; sleep 0.2; done",
    ]);

    expect(cli(home, ["wait", idle.id]).code).toBe(124);
    expect(attemptRows(home, idle.id)[0]).toMatchObject({ outcome: "timed_out" });
    expect(attemptRows(home, idle.id)[0]!.error).toContain("idle timeout");
    expect(cli(home, ["wait", stubborn.id]).code).toBe(124);
    expect(jobRow(home, stubborn.id).state).toBe("timed_out");
    expect(cli(home, ["wait", chatty.id]).code).toBe(0);
    for (const r of processRecords(home)) expect(groupMembers(r.pid)).toEqual([]);

    // A user stop is a different outcome.
    const stopped = cliJson(home, ["run", "--timeout", "1m", "--", "sh", join(FIXTURES, "hang.sh"), "60"]);
    await until("it to start", () => processRecords(home).length === 4);
    expect(cliJson(home, ["stop", stopped.id]).state).toBe("cancelled");
    expect(cli(home, ["wait", stopped.id]).code).toBe(130);
    const states = cliJson(home, ["list", "--all"]).jobs.map((j: { id: string; state: string }) => [
      j.id,
      j.state,
    ]);
    expect(Object.fromEntries(states)).toEqual({
      [idle.id]: "timed_out",
      [stubborn.id]: "timed_out",
      [chatty.id]: "succeeded",
      [stopped.id]: "cancelled",
    });
  });
});
