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
});
