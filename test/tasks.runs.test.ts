/**
 * Run history: `baton runs` tells runs apart (dry runs and forced runs are marked) and says how
 * each went: summary, exit code, duration.
 */
import { describe, expect, it } from "vitest";
import { project } from "./helpers/tasks.js";
import { cli, cliJson, newHome } from "./helpers/supervisor.js";

describe("baton runs", () => {
  it("shows summary, exit code, duration, and marks dry runs and forced runs", () => {
    const home = newHome();
    const dir = project(
      [
        "tasks:",
        "  job:",
        "    command: ['sh', '-c', 'echo \"did $BATON_INPUT_N\"; exit ${BATON_INPUT_CODE:-0}']",
        "    dry_run_command: [echo, would do it]",
        "    lock: true",
        "    inputs:",
        "      n: { default: one }",
        "      code: { default: '0' }",
      ].join("\n"),
    );
    const ok = cliJson(home, ["task", "run", "job"], { cwd: dir });
    expect(cli(home, ["task", "run", "job", "--dry-run"], { cwd: dir }).code).toBe(2);
    expect(cli(home, ["task", "run", "job", "--force", "--input", "n=two"], { cwd: dir }).code).toBe(0);
    expect(cli(home, ["task", "run", "job", "--input", "code=4"], { cwd: dir }).code).toBe(1);
    const runs = cliJson(home, ["runs", "job"], { cwd: dir }).runs as Record<string, unknown>[];
    expect(runs).toHaveLength(4);
    const [failed, forced, dry, first] = runs;
    expect(first).toMatchObject({
      id: ok.id,
      task: "job",
      summary: "did one",
      exitCode: 0,
      dryRun: false,
      forced: false,
    });
    expect(typeof first!.durationMs).toBe("number");
    expect(dry).toMatchObject({ summary: "would do it", exitCode: 0, dryRun: true, forced: false });
    expect(forced).toMatchObject({ summary: "did two", dryRun: false, forced: true });
    expect(failed).toMatchObject({ state: "failed", exitCode: 4, dryRun: false });
    // task list shows each task's last run.
    const listed = cliJson(home, ["task", "list"], { cwd: dir }).tasks as {
      lastRun?: { id: string; state: string };
    }[];
    expect(listed[0]!.lastRun).toMatchObject({ id: failed!.id, state: "failed" });
    const text = cli(home, ["runs", "job"], { cwd: dir }).stdout;
    expect(text).toContain("succeeded (dry run)");
    expect(text).toContain("succeeded (forced)");
  });

  it("a retried run took from its first attempt's start, waits between attempts included", () => {
    const home = newHome();
    const dir = project(
      [
        "tasks:",
        "  flaky:",
        "    command: [sh, -c, 'exit 3']",
        "    retry: { attempts: 3, backoff: fixed, base: 1s }",
      ].join("\n"),
    );
    expect(cli(home, ["task", "run", "flaky"], { cwd: dir }).code).toBe(1);
    const [run] = cliJson(home, ["runs", "flaky"], { cwd: dir }).runs as { durationMs: number }[];
    // Two waits of about 1 s (jitter 10%): the last attempt alone took a few milliseconds.
    expect(run!.durationMs).toBeGreaterThanOrEqual(1800);
  });

  it("lists only this project's runs when another project has a task of the same name", () => {
    const home = newHome();
    const yaml = [
      "tasks:",
      "  backup:",
      "    command: [echo, saved]",
      "    dry_run_command: [sh, -c, 'exit 3']",
    ].join("\n");
    const a = project(yaml);
    const b = project(yaml);
    const ran = cliJson(home, ["task", "run", "backup"], { cwd: a });
    // Before b's first run, b's task list shows no last run (a's run is a's).
    const before = cliJson(home, ["task", "list"], { cwd: b }).tasks as { lastRun?: unknown }[];
    expect(before[0]!.lastRun).toBeUndefined();
    expect(cliJson(home, ["runs", "backup"], { cwd: b }).runs).toEqual([]);
    expect(cliJson(home, ["runs"], { cwd: b }).runs).toEqual([]);
    expect(cli(home, ["task", "run", "backup", "--dry-run"], { cwd: b }).code).not.toBe(0);
    const inB = cliJson(home, ["runs", "backup"], { cwd: b }).runs as { id: string; dryRun: boolean }[];
    expect(inB).toHaveLength(1);
    expect(inB[0]!.dryRun).toBe(true);
    const inA = cliJson(home, ["runs", "backup"], { cwd: a }).runs as { id: string }[];
    expect(inA.map((r) => r.id)).toEqual([ran.id]);
    const listedA = cliJson(home, ["task", "list"], { cwd: a }).tasks as {
      lastRun?: { id: string; state: string };
    }[];
    expect(listedA[0]!.lastRun).toMatchObject({ id: ran.id, state: "succeeded" });
  });
});
