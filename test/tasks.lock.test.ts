/**
 * `lock: true` under concurrent starts: the lock and the run's row are written in one
 * transaction, so a start that comes while another is being inserted sees a lock naming a run that
 * exists, and is refused. (Taken first and inserted after, the lock named a run that did not exist
 * yet; a concurrent start judged such a lock stale, took it over, and both ran.)
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runHook, type HookData } from "../src/tasks/hooks.js";
import { project } from "./helpers/tasks.js";
import { tempDir } from "./helpers/tmp.js";
import {
  alive,
  attemptRows,
  cli,
  cliAsync,
  daemonPid,
  groupMembers,
  jobRow,
  newHome,
  until,
  TERMINAL,
} from "./helpers/supervisor.js";
import type { Home } from "./helpers/supervisor.js";

const ROUNDS = 20;
const STARTS = 8;

describe("lock: true under concurrent starts", () => {
  it(`R-40 a lock: true task started ${STARTS}× at once, ${ROUNDS} rounds: exactly one run at a time`, async () => {
    const home = newHome();
    // The run marks itself as running with mkdir (atomic): a second run at the same time cannot
    // create the marker and leaves an overlap file behind.
    const dir = project(
      [
        "tasks:",
        "  lk:",
        "    command: 'mkdir running.d || touch overlap-$BATON_RUN_ID; sleep 0.3; rmdir running.d'",
        "    lock: true",
      ].join("\n"),
    );
    // The daemon is started once, so the starts race each other rather than the daemon's start.
    expect(cli(home, ["daemon", "start"]).code).toBe(0);
    const accepted: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const results = await Promise.all(
        Array.from({ length: STARTS }, () =>
          cliAsync(home, ["task", "run", "lk", "--async", "--json"], { cwd: dir }),
        ),
      );
      const ids: string[] = [];
      for (const r of results) {
        const out = JSON.parse(r.stdout) as { ok: boolean; data?: { id: string }; error?: { code: string } };
        if (out.ok) ids.push(out.data!.id);
        else expect({ code: r.code, error: out.error!.code }).toEqual({ code: 4, error: "TASK_LOCKED" });
      }
      expect(ids.length).toBeGreaterThanOrEqual(1);
      for (const id of ids)
        await until(`run ${id} to end`, () => TERMINAL.includes(jobRow(home, id).state), 60_000);
      accepted.push(...ids);
    }
    expect(readdirSync(dir).filter((f) => f.startsWith("overlap-"))).toEqual([]);
    expect(existsSync(join(dir, "running.d"))).toBe(false);
    // The ledger agrees: no two attempts of the task overlap in time.
    const spans = accepted
      .flatMap((id) => attemptRows(home, id))
      .map((a) => [a.started_at, a.ended_at ?? Number.MAX_SAFE_INTEGER] as const)
      .sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1]);
    for (const id of accepted) expect(jobRow(home, id).state).toBe("succeeded");
    cli(home, ["daemon", "stop"]);
  }, 600_000);
});

/** A `lock: true` task whose on_success hook runs until `release-hook` exists. */
const HELD_HOOK = [
  "tasks:",
  "  lk:",
  "    command: 'true'",
  "    lock: true",
  "    on_success: 'touch hook-started; while [ ! -e release-hook ]; do sleep 0.05; done; touch hook-done'",
].join("\n");

/** Start a daemon and a run of HELD_HOOK's task; resolves once the run's hook is running. */
async function runUntilHook(home: Home, dir: string): Promise<string> {
  expect(cli(home, ["daemon", "start"]).code).toBe(0);
  const first = JSON.parse(cli(home, ["task", "run", "lk", "--async", "--json"], { cwd: dir }).stdout).data
    .id as string;
  await until("the first run's hook to run", () => existsSync(join(dir, "hook-started")), 30_000);
  expect(jobRow(home, first).state).toBe("succeeded");
  return first;
}

/** A second run of the task is refused, naming `holder`. */
function expectLocked(home: Home, dir: string, holder: string): void {
  const second = cli(home, ["task", "run", "lk", "--async", "--json"], { cwd: dir });
  expect({ code: second.code, error: JSON.parse(second.stdout).error?.code }, second.stdout).toEqual({
    code: 4,
    error: "TASK_LOCKED",
  });
  expect(JSON.parse(second.stdout).error.message).toContain(holder);
}

describe("lock: true holds until the run's hooks are done", () => {
  it("a second start while the first run's on_success hook still runs is TASK_LOCKED; after the hook it runs", async () => {
    // Issue 17, stranger finding 7: the lock was judged free once the run's state was final,
    // before its hooks had run, so a second run overlapped the first one's hooks.
    const home = newHome();
    const dir = project(HELD_HOOK);
    const first = await runUntilHook(home, dir);
    expectLocked(home, dir, first);
    // The refusal and `wait` say what the holder is doing: finished, its hooks still going.
    const second = JSON.parse(cli(home, ["task", "run", "lk", "--json"], { cwd: dir }).stdout).error;
    expect(second.message).toContain(
      `task 'lk' is locked by run ${first}, which is succeeded: its hooks and notifications are still running`,
    );
    const gaveUp = cli(home, ["wait", first, "--timeout", "1s"]);
    expect(gaveUp.stderr).toContain(
      `${first} is succeeded; its hooks and notifications have not finished: gave up waiting`,
    );

    writeFileSync(join(dir, "release-hook"), "");
    expect(cli(home, ["wait", first, "--timeout", "30s"]).code).toBe(0); // answers after `settled`
    expect(existsSync(join(dir, "hook-done"))).toBe(true);
    const third = cli(home, ["task", "run", "lk", "--json"], { cwd: dir });
    expect(third.code, third.stdout + third.stderr).toBe(0);
    cli(home, ["daemon", "stop"]);
  }, 120_000);

  it("a run that is only queued holds the lock, and the refusal says it is queued, not running", async () => {
    // Issue 17 #4: TASK_LOCKED said "is already running (run …)" about a run still queued.
    const home = newHome();
    const dir = project(HELD_HOOK);
    expect(cli(home, ["daemon", "start"]).code).toBe(0);
    expect(cli(home, ["pause", "--all"]).code).toBe(0);
    const first = JSON.parse(cli(home, ["task", "run", "lk", "--async", "--json"], { cwd: dir }).stdout).data
      .id as string;
    expect(jobRow(home, first).state).toBe("queued");
    const second = cli(home, ["task", "run", "lk", "--async", "--json"], { cwd: dir });
    const error = JSON.parse(second.stdout).error as { code: string; message: string; details: unknown };
    expect(error.code).toBe("TASK_LOCKED");
    expect(error.message).not.toContain("already running");
    expect(error.message).toContain(`task 'lk' is locked by run ${first}, which is queued`);
    expect(error.details).toMatchObject({ run: first, state: "queued" });
    cli(home, ["daemon", "stop"]);
  }, 60_000);

  it("the daemon is SIGKILLed while the run's on_success hook runs: a second run is TASK_LOCKED until the hook ends", async () => {
    // Issue 17 (tester finding): the run's command group was recorded and checked, its hook's was
    // not, so after a daemon SIGKILL the lock was judged stale while the hook still ran, and a
    // second run started beside it.
    const home = newHome();
    const dir = project(HELD_HOOK);
    try {
      const first = await runUntilHook(home, dir);
      const daemon = daemonPid(home)!;
      process.kill(daemon, "SIGKILL");
      await until("the daemon to die", () => !alive(daemon));

      // A new daemon starts for this call; the hook of the first run still runs.
      expectLocked(home, dir, first);
      expect(existsSync(join(dir, "hook-done"))).toBe(false);

      // The hook ends by itself (its daemon is gone, nothing settles the run): the lock is free.
      writeFileSync(join(dir, "release-hook"), "");
      await until("the hook to end", () => existsSync(join(dir, "hook-done")), 30_000);
      await until(
        "the lock to be free",
        () => cli(home, ["task", "run", "lk", "--json"], { cwd: dir }).code === 0,
        30_000,
        200,
      );
    } finally {
      writeFileSync(join(dir, "release-hook"), "");
      cli(home, ["daemon", "stop"]);
    }
  }, 120_000);
});

describe("a hook's process group", () => {
  it("is recorded in the attempt folder (hook.json) and, timed out, is ended whole", async () => {
    const dir = tempDir();
    const child = join(dir, "child.pid");
    const data: HookData = {
      runId: "r1",
      task: "t",
      status: "succeeded",
      exitCode: 0,
      summary: undefined,
      result: null,
      logPath: join(dir, "output.log"),
    };
    const started = Date.now();
    const [outcome] = await runHook("on_success", `sleep 30 >/dev/null 2>&1 & echo $! > ${child}; wait`, {
      cwd: dir,
      env: process.env,
      data,
      logFile: join(dir, "hooks.log"),
      timeoutMs: 300,
    });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(outcome).toMatchObject({ when: "on_success", exitCode: null, error: "killed by SIGKILL" });
    const record = JSON.parse(readFileSync(join(dir, "hook.json"), "utf8")) as {
      pid: number;
      startTime: string;
    };
    expect(record.startTime).toMatch(/^\d+$/);
    // The hook led its own group, and the background child went with it.
    const background = Number(readFileSync(child, "utf8").trim());
    await until("the hook's background child to end", () => !alive(background), 5_000);
    expect(groupMembers(record.pid)).toEqual([]);
  });
});
