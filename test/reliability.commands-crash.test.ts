/**
 * Background commands when processes die (RELIABILITY.md ): the daemon killed with
 * `kill -9` while 200 commands run, and a command's own process killed. Real daemons, real
 * processes, no mocks; every test ends with the process-leak guard of helpers/supervisor.ts.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  FIXTURES,
  alive,
  attemptRows,
  cli,
  cliJson,
  countProcessStarted,
  daemonPid,
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

const exitFile = (home: { dir: string }, id: string, attempt = 1): string =>
  join(home.dir, "runs", id, String(attempt), "exit");

async function killDaemon(home: ReturnType<typeof newHome>): Promise<void> {
  const pid = daemonPid(home)!;
  process.kill(pid, "SIGKILL");
  await until("the daemon to die", () => !alive(pid));
}

describe("R-07 the daemon is killed while commands run", () => {
  it(
    "R-07 kill -9 the daemon with 200 commands running: none lost or run twice, real exit codes of those that ended meanwhile, the rest re-attached, a reused pid not taken for the job",
    { timeout: 300_000 },
    async () => {
      const home = newHome({ BATON_MAX_RUNNING: "250", BATON_MAX_RUNNING_PER_PROJECT: "250" });
      const early = makeGate(join(home.dir, "early"));
      const late = makeGate(join(home.dir, "late"));
      const N = 200;
      const codeOf = (i: number): number => i % 7;
      const gateOf = (i: number): string => (i % 2 === 0 ? early : late);
      const ids = await runMany(
        home,
        Array.from({ length: N }, (_, i) => gatedCommand(gateOf(i), codeOf(i))),
      );
      const index = new Map(ids.map((id, i) => [id, i]));
      await until(
        "all 200 commands to run",
        () =>
          processRecords(home).length === N &&
          [...outcomes(home).values()].every((o) => o.state === "running"),
        120_000,
        200,
      );

      await killDaemon(home);
      // The commands outlive the daemon.
      const records = processRecords(home);
      for (const r of records) expect(groupMembers(r.pid).length, r.jobId).toBeGreaterThan(0);

      // One late job dies unseen, and its pid is "reused" by an unrelated process group leader.
      const victim = records.find((r) => index.get(r.jobId)! % 2 === 1)!;
      process.kill(-victim.pid, "SIGKILL");
      await until("the victim's group to go", () => groupMembers(victim.pid).length === 0);
      const decoy = spawn("sleep", ["300"], { detached: true, stdio: "ignore" });
      decoy.unref();
      try {
        const recordFile = join(home.dir, "runs", victim.jobId, "1", "process.json");
        const record = JSON.parse(readFileSync(recordFile, "utf8")) as { pid: number };
        writeFileSync(recordFile, JSON.stringify({ ...record, pid: decoy.pid }));

        // Half the commands end while no daemon runs; the wrapper keeps their exit codes.
        const earlyIds = ids.filter((_, i) => i % 2 === 0);
        await openGate(early, () => earlyIds.every((id) => existsSync(exitFile(home, id))), 60_000);
        expect([...outcomes(home).values()].every((o) => o.state === "running")).toBe(true);

        const started = cli(home, ["daemon", "start"]);
        expect(
          started,
          `${started.stderr}\n${readFileSync(join(home.dir, "daemon.log"), "utf8")}`,
        ).toMatchObject({
          code: 0,
        });
        await until(
          "the commands that ended meanwhile to be recorded",
          () => {
            const now = outcomes(home);
            return earlyIds.every((id) => TERMINAL.includes(now.get(id)!.state));
          },
          60_000,
          200,
        );
        const recorded = outcomes(home);
        for (const id of earlyIds) {
          const code = codeOf(index.get(id)!);
          expect(recorded.get(id), id).toEqual({
            state: code === 0 ? "succeeded" : "failed",
            outcome: code === 0 ? "succeeded" : "failed",
            code,
          });
        }
        // The victim is recorded as crashed (no exit code), and the decoy that holds its pid lives on.
        const victimOutcome = await until("the victim to be recorded", () => {
          const o = outcomes(home).get(victim.jobId)!;
          return TERMINAL.includes(o.state) ? o : undefined;
        });
        expect(victimOutcome).toMatchObject({ outcome: "crashed", code: null });
        expect(alive(decoy.pid!)).toBe(true);

        // The others were re-attached: still running, and the new daemon watches them.
        const lateIds = ids.filter((id, i) => i % 2 === 1 && id !== victim.jobId);
        for (const id of lateIds) expect(recorded.get(id)!.state).toBe("running");
        expect(cliJson(home, ["daemon", "status"]).runningJobs).toBe(lateIds.length);

        await openGate(late, () => lateIds.every((id) => existsSync(exitFile(home, id))), 60_000);
        await until(
          "the re-attached commands to be recorded",
          () => {
            const now = outcomes(home);
            return lateIds.every((id) => TERMINAL.includes(now.get(id)!.state));
          },
          60_000,
          200,
        );
        const final = outcomes(home);
        for (const id of lateIds) expect(final.get(id)!.code, id).toBe(codeOf(index.get(id)!));
        // 0 lost, 0 double runs: 200 jobs, one attempt and one process each, all finished.
        expect(final.size).toBe(N);
        expect([...final.values()].every((o) => TERMINAL.includes(o.state))).toBe(true);
        expect(attemptRows(home)).toHaveLength(N);
        expect(countProcessStarted(home)).toBe(N);
        // 0 orphans: every command's group is gone (the victim's pid is the decoy's now).
        for (const r of processRecords(home)) {
          if (r.jobId !== victim.jobId) expect(groupMembers(r.pid), r.jobId).toEqual([]);
        }
      } finally {
        decoy.kill("SIGKILL");
      }
    },
  );
});

describe("R-08 nothing is left running forever", () => {
  it("R-08 kill -9 one command's process: recorded as crashed, retried per policy, the others unaffected", async () => {
    const home = newHome();
    const marker = join(home.dir, "marker");
    const other = cliJson(home, ["run", "--name", "other", "--", "sh", join(FIXTURES, "hang.sh"), "120"]);
    const flaky = cliJson(home, [
      "run",
      "--name",
      "flaky",
      "--retries",
      "1",
      "--",
      "sh",
      join(FIXTURES, "retry-once.sh"),
      marker,
    ]);
    const once = cliJson(home, ["run", "--name", "once", "--", "sh", join(FIXTURES, "hang.sh"), "120"]);
    await until("three commands to run", () => processRecords(home).length === 3);
    await until("the fixtures to print", () =>
      [flaky.id, once.id].every((id: string) => cliJson(home, ["logs", id]).text !== ""),
    );
    const byJob = new Map(processRecords(home).map((r) => [r.jobId, r]));

    // The whole group, wrapper included: no exit code is written, the daemon sees its child vanish.
    process.kill(-byJob.get(flaky.id)!.pid, "SIGKILL");
    process.kill(-byJob.get(once.id)!.pid, "SIGKILL");
    await until(
      "the crashed attempt to be recorded",
      () => attemptRows(home, flaky.id)[0]!.ended_at !== null,
    );
    const [first] = attemptRows(home, flaky.id);
    expect(first).toMatchObject({ outcome: "crashed", exit_code: null });
    // Retried per its policy (--retries 1): the second attempt succeeds.
    expect(cli(home, ["wait", flaky.id]).code).toBe(0);
    expect(attemptRows(home, flaky.id).map((a) => a.outcome)).toEqual(["crashed", "succeeded"]);
    // Without retries: failed for good, and `wait` says so instead of hanging.
    expect(cli(home, ["wait", once.id, "--timeout", "30s"]).code).toBe(1);
    expect(jobRow(home, once.id).state).toBe("failed");
    expect(attemptRows(home, once.id)[0]!.outcome).toBe("crashed");
    // The other command never noticed.
    expect(jobRow(home, other.id).state).toBe("running");
    expect(groupMembers(byJob.get(other.id)!.pid).length).toBeGreaterThan(0);
    expect(cliJson(home, ["stop", other.id]).state).toBe("cancelled");
  });

  it("R-08 after a daemon crash: a command that died unseen, and an attempt claimed but never started, are resolved by the next daemon", async () => {
    const home = newHome();
    const [unseen, unstarted, survivor] = await runMany(home, [
      ["sh", join(FIXTURES, "hang.sh"), "120"],
      ["sh", join(FIXTURES, "hang.sh"), "120"],
      ["sh", join(FIXTURES, "hang.sh"), "120"],
    ]);
    await until("three commands to run", () => processRecords(home).length === 3);
    const byJob = new Map(processRecords(home).map((r) => [r.jobId, r]));
    await killDaemon(home);

    process.kill(-byJob.get(unseen!)!.pid, "SIGKILL");
    // As if the daemon had died between claiming the job and starting its process.
    process.kill(-byJob.get(unstarted!)!.pid, "SIGKILL");
    // What such a daemon leaves: no process.json, and no mark of the wrapper (pid, exit.tmp, exit).
    for (const name of ["process.json", "pid", "exit.tmp", "exit"])
      rmSync(join(home.dir, "runs", unstarted!, "1", name), { force: true });
    await until("both groups to go", () =>
      [unseen!, unstarted!].every((id) => groupMembers(byJob.get(id)!.pid).length === 0),
    );

    expect(cli(home, ["daemon", "start"]).code).toBe(0);
    // Long before any lease would expire (minutes). The one that never started goes back to the
    // queue without spending its attempt, and runs (it was recorded crashed, and failed, before).
    await until(
      "both to be recorded",
      () =>
        TERMINAL.includes(jobRow(home, unseen!).state) &&
        attemptRows(home, unstarted).length === 2 &&
        processRecords(home).some((r) => r.jobId === unstarted && r.attempt === 2),
    );
    expect(attemptRows(home, unseen)[0]).toMatchObject({ outcome: "crashed", exit_code: null });
    expect(attemptRows(home, unstarted).map((a) => a.outcome)).toEqual(["released", null]);
    expect(attemptRows(home, unstarted)[0]!.error).toContain("before the command started");
    expect(jobRow(home, unstarted!)).toMatchObject({ state: "running", attempts: 1 });
    expect(jobRow(home, survivor!).state).toBe("running");
    expect(cliJson(home, ["daemon", "status"]).runningJobs).toBe(2);
    expect(cliJson(home, ["stop", unstarted!]).state).toBe("cancelled");

    // A command the new daemon re-attached to (not its child) that dies is noticed too.
    process.kill(-byJob.get(survivor!)!.pid, "SIGKILL");
    expect(cli(home, ["wait", survivor!, "--timeout", "30s"]).code).toBe(1);
    expect(attemptRows(home, survivor)[0]).toMatchObject({ outcome: "crashed", exit_code: null });
  });
});
