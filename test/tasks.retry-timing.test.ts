/**
 * Retries start when they are due. A task whose runs fail is retried after `base` (0.9 s here);
 * the daemon claims each retry within 100 ms of its due time (the median over five retries, so
 * one slow claim on a loaded machine does not decide). The daemon used to sleep until its next
 * idle tick (up to 5 s), so retries due in 0.9 s started 2 to 3 s late.
 */
import { describe, expect, it } from "vitest";
import { project } from "./helpers/tasks.js";
import { cli, cliJson, newHome } from "./helpers/supervisor.js";

describe("retries start on time", () => {
  it("each retry is claimed within 100 ms of its due time (median of five)", () => {
    const home = newHome();
    const dir = project(
      "tasks:\n  flaky:\n    command: 'exit 1'\n    retry: { attempts: 6, backoff: fixed, base: 900ms }\n",
    );
    expect(cli(home, ["daemon", "start"]).code).toBe(0);
    const run = cli(home, ["task", "run", "flaky", "--json"], { cwd: dir });
    expect(run.code).toBe(1);
    const id = JSON.parse(run.stdout).data.id as string;
    const events = cliJson(home, ["events", id]).events as {
      kind: string;
      at: string;
      details?: { retryAt?: number };
    }[];
    const lateness: number[] = [];
    events.forEach((e, i) => {
      if (e.kind !== "retry_scheduled") return;
      const claimed = events.slice(i + 1).find((n) => n.kind === "claimed")!;
      lateness.push(Date.parse(claimed.at) - e.details!.retryAt!);
    });
    expect(lateness).toHaveLength(5);
    const sorted = [...lateness].sort((a, b) => a - b);
    const median = sorted[2]!;
    console.log(`retry claim lateness (ms): ${lateness.join(", ")}; median ${median}`);
    // Never early: a retry is not claimed before it is due.
    expect(sorted[0]).toBeGreaterThanOrEqual(0);
    expect(median).toBeLessThanOrEqual(100);
    cli(home, ["daemon", "stop"]);
  }, 120_000);
});
