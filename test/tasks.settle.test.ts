/**
 * `baton task run` and `baton wait` return after a task run has settled: its hooks and
 * notifications have run and are recorded, and `task run --json` carries their results.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { project } from "./helpers/tasks.js";
import { cli, cliJson, newHome } from "./helpers/supervisor.js";

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
