/**
 * `lock: true` under concurrent starts: the lock and the run's row are written in one
 * transaction, so a start that comes while another is being inserted sees a lock naming a run that
 * exists, and is refused. (Taken first and inserted after, the lock named a run that did not exist
 * yet; a concurrent start judged such a lock stale, took it over, and both ran.)
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { project } from "./helpers/tasks.js";
import { attemptRows, cli, cliAsync, jobRow, newHome, until, TERMINAL } from "./helpers/supervisor.js";

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
