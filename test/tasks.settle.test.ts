/**
 * `baton task run` and `baton wait` return after a task run has settled: its hooks and
 * notifications have run and are recorded, and `task run --json` carries their results.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { project } from "./helpers/tasks.js";
import type { CliResult } from "./helpers/cli.js";
import type { Home } from "./helpers/supervisor.js";
import { alive, cli, cliAsync, cliJson, daemonPid, eventRows, newHome, until } from "./helpers/supervisor.js";

const YAML = [
  "tasks:",
  "  slowhook:",
  "    command: [echo, done]",
  "    on_complete:",
  "      - 'sleep 3; echo \"$BATON_STATUS\" > hook-ran.txt'",
  "      - 'exit 3'",
  "    notify:",
  "      on: [complete]",
  "      webhook: { url_env: HOOK_URL_UNSET_FOR_TEST }",
].join("\n");

describe("task run and wait return after the run settled", () => {
  it("task run waits for hooks and notifications and prints their results with --json", () => {
    const home = newHome();
    const dir = project(YAML);
    const r = cli(home, ["task", "run", "slowhook", "--json"], { cwd: dir });
    // The hook that sleeps has finished when task run returns.
    expect(readFileSync(join(dir, "hook-ran.txt"), "utf8").trim()).toBe("succeeded");
    expect(r.code).toBe(0);
    const data = JSON.parse(r.stdout).data;
    expect(data.state).toBe("succeeded");
    expect(data.hooks.map((h: { when: string; exitCode: number }) => [h.when, h.exitCode])).toEqual([
      ["on_complete", 0],
      ["on_complete", 3],
    ]);
    expect(data.notifications).toHaveLength(1);
    expect(data.notifications[0]).toMatchObject({ channel: "webhook", ok: false });
    expect(data.notifications[0].error).toContain("HOOK_URL_UNSET_FOR_TEST");
    // Without --json a failing hook and an undelivered notification are named on stderr.
    const text = cli(home, ["task", "run", "slowhook"], { cwd: dir });
    expect(text.stderr).toContain("hook on_complete: exit 3");
    expect(text.stderr).toContain("notification webhook:");
  });

  it("wait returns after the hooks of an --async run", () => {
    const home = newHome();
    const dir = project(YAML);
    const started = cliJson(home, ["task", "run", "slowhook", "--async"], { cwd: dir });
    expect(existsSync(join(dir, "hook-ran.txt"))).toBe(false);
    const waited = cliJson(home, ["wait", started.id]);
    expect(waited.finished).toBe(true);
    expect(readFileSync(join(dir, "hook-ran.txt"), "utf8").trim()).toBe("succeeded");
  });
});

/** A `lock: true` task whose on_success hook sleeps 3 s; on_complete comes after it. */
const STRANDED = [
  "tasks:",
  "  st:",
  "    command: 'true'",
  "    lock: true",
  "    on_success: 'touch hook-started; sleep 3; touch hook-done'",
  "    on_complete: 'touch complete-ran'",
].join("\n");

/**
 * Start `task run st --json` with a daemon, `also` (more waiters) once its on_success hook runs,
 * then SIGKILL the daemon. Resolves to the waiting calls; the caller stops the next daemon.
 */
async function killDuringHook(
  home: Home,
  dir: string,
  also: (runId: string) => Promise<CliResult>[] = () => [],
): Promise<{ runId: string; waiting: Promise<CliResult>; others: Promise<CliResult>[] }> {
  expect(cli(home, ["daemon", "start"]).code).toBe(0);
  const waiting = cliAsync(home, ["task", "run", "st", "--json"], { cwd: dir });
  await until("the on_success hook to run", () => existsSync(join(dir, "hook-started")), 30_000);
  const runId = eventRows(home, "completed")[0]!.job_id!;
  const others = also(runId);
  const daemon = daemonPid(home)!;
  process.kill(daemon, "SIGKILL");
  await until("the daemon to die", () => !alive(daemon));
  return { runId, waiting, others };
}

/** What `promise` resolves to within `ms`, else undefined. */
function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  return Promise.race([
    promise,
    new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), ms)),
  ]);
}

describe("a run whose daemon is SIGKILLed while its hooks run", () => {
  it("is settled by the next daemon once the hook ends: the hooks left are named, not run; the lock is freed; task run returns", async () => {
    // Issues 17/18: its events stopped at `completed`, no daemon ever settled it, so the lock
    // stayed held (until the hook ended) and a waiting `task run` waited for ever.
    const home = newHome();
    const dir = project(STRANDED);
    try {
      const { waiting } = await killDuringHook(home, dir);
      // Any call starts a daemon again; the run is settled once the hook has ended by itself.
      expect(cli(home, ["daemon", "start"]).code).toBe(0);
      const answer = await within(waiting, 30_000);
      expect(answer, "the waiting task run returned").toBeDefined();
      expect(existsSync(join(dir, "hook-done"))).toBe(true);
      expect(answer!.code, answer!.stdout + answer!.stderr).toBe(0);
      const id = JSON.parse(answer!.stdout).data.id as string;

      const events = eventRows(home).filter((e) => e.job_id === id);
      expect(events.at(-1)!.kind).toBe("settled");
      const interrupted = events.find((e) => e.kind === "settle_interrupted");
      expect(interrupted, events.map((e) => e.kind).join(",")).toBeDefined();
      const details = JSON.parse(interrupted!.details!) as { hooks: string[]; error: string };
      expect(details.hooks).toEqual(["on_success[0]", "on_complete[0]"]);
      expect(details.error).toContain("on_complete[0]");
      expect(events.filter((e) => e.kind === "hook")).toEqual([]);
      // Not run again: on_complete never ran, on_success ran once.
      expect(existsSync(join(dir, "complete-ran"))).toBe(false);

      const second = cli(home, ["task", "run", "st", "--json"], { cwd: dir });
      expect(second.code, second.stdout + second.stderr).toBe(0);
      expect(existsSync(join(dir, "complete-ran"))).toBe(true);
    } finally {
      cli(home, ["daemon", "stop"]);
    }
  }, 120_000);

  it("is settled for its waiters alone, with no other baton call: task run answers with the interrupted hooks", async () => {
    // The tester's steps (issue 17): nothing but the waiters (`task run`, `events -f`) calls baton after
    // the kill. It waited out the 5-minute grace (the test above started a daemon itself), then
    // answered `hooks: []`.
    const home = newHome();
    const dir = project(STRANDED);
    try {
      // A second waiter on the same run (`events -f`, which no daemon serves): both find the
      // daemon gone; one daemon settles the run, once.
      const { waiting, others } = await killDuringHook(home, dir, (runId) => [
        cliAsync(home, ["events", runId, "-f"]),
      ]);
      const [answer, other] = (await within(Promise.all([waiting, ...others]), 60_000)) ?? [];
      expect(answer, "the waiting task run answered well before the 5-minute grace").toBeDefined();
      expect(other!.code, other!.stderr).toBe(0);
      expect(other!.stdout).toContain("settle_interrupted");
      expect(answer!.code, answer!.stdout + answer!.stderr).toBe(0);
      const data = JSON.parse(answer!.stdout).data as {
        id: string;
        state: string;
        hooks: {
          when: string;
          index: number;
          exitCode: number | null;
          interrupted?: boolean;
          error?: string;
        }[];
      };
      expect(data.state).toBe("succeeded");
      // The answer names what the dead daemon left without an outcome, as the ledger does.
      expect(data.hooks.map((h) => [h.when, h.index, h.exitCode, h.interrupted])).toEqual([
        ["on_success", 0, null, true],
        ["on_complete", 0, null, true],
      ]);
      expect(data.hooks[0]!.error).toContain("daemon");
      expect(existsSync(join(dir, "hook-done"))).toBe(true);
      expect(existsSync(join(dir, "complete-ran"))).toBe(false);
      const events = eventRows(home).filter((e) => e.job_id === data.id);
      expect(events.filter((e) => e.kind === "settle_interrupted")).toHaveLength(1);
      expect(events.at(-1)!.kind).toBe("settled");
    } finally {
      cli(home, ["daemon", "stop"]);
    }
  }, 120_000);
});
