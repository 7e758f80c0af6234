/**
 * Stranger finding (issue 16): a batch enqueue with a single task's field beside it. `enqueue_task
 * {type: "lint", tasks: [...]}` used to record every task as type `task`, silently dropping `type`
 * (and `priority`, `tags`… likewise); the CLI's `enqueue --file jobs.ndjson -t lint` did the same.
 * Now the combination is refused with INVALID_INPUT naming the field as the caller wrote it, and
 * nothing is written. `workflow` stays the one field a batch shares (documented in docs/mcp.md).
 */
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openBaton } from "../src/index.js";
import { envelope } from "./helpers/cli.js";
import { callOp, startTestServer } from "./helpers/http.js";
import { call, connectStdio, toolError } from "./helpers/mcp.js";
import type { Home } from "./helpers/supervisor.js";
import { cli, newHome, withDb } from "./helpers/supervisor.js";

/** [type, workflow] of every job, oldest first (none when the ledger was never opened). */
function jobRows(home: Home): [string, string | null][] {
  if (!existsSync(join(home.dir, "baton.db"))) return [];
  return withDb(home, (db) =>
    (
      db.prepare("SELECT type, workflow FROM jobs ORDER BY id").all() as {
        type: string;
        workflow: string | null;
      }[]
    ).map((r) => [r.type, r.workflow]),
  );
}

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()!().catch(() => undefined);
});

describe("a batch enqueue refuses a single task's field beside `tasks`", () => {
  it("MCP (SDK client over stdio): top-level type, priority or tags beside tasks is INVALID_INPUT naming it", async () => {
    const home = newHome();
    const mcp = await connectStdio(home.dir);
    closers.push(() => mcp.close());
    for (const [field, value] of [
      ["type", "lint"],
      ["priority", 5],
      ["tags", ["x"]],
    ] as const) {
      const refused = await call(mcp.client, "enqueue_task", {
        [field]: value,
        tasks: [{ payload: { file: "a.ts" } }, { payload: { file: "b.ts" } }],
      });
      expect(refused.isError, field).toBe(true);
      const error = toolError(refused);
      expect(error.code, field).toBe("INVALID_INPUT");
      expect(error.message, field).toContain(`${field}:`);
      expect(error.message, field).toContain(`put "${field}" on each task`);
    }
    expect(jobRows(home)).toHaveLength(0);
    // The documented shared field still applies to every item; a type given per item is kept.
    const ok = await call(mcp.client, "enqueue_task", {
      workflow: "lint-all",
      tasks: [{ type: "lint", payload: 1 }, { payload: 2 }],
    });
    expect(ok.isError).toBeFalsy();
    expect(jobRows(home)).toEqual([
      ["lint", "lint-all"],
      ["task", "lint-all"],
    ]);
  });

  it("HTTP API and baton.call: the same refusal, 400 with the field's path in details.issues", async () => {
    const server = await startTestServer();
    closers.push(() => server.close());
    const answer = await callOp(server.base, "enqueue_task", { type: "lint", tasks: [{ payload: 1 }] });
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe("INVALID_INPUT");
    expect(answer.body.error.details.issues).toEqual([
      { path: "type", message: "not allowed beside `tasks`; put it on each task" },
    ]);
    const baton = await openBaton({ home: newHome().dir });
    closers.push(() => baton.close());
    await expect(baton.call("enqueue_task", { name: "x", tasks: [{ payload: 1 }] })).rejects.toMatchObject({
      code: "INVALID_INPUT",
      message: expect.stringContaining('put "name" on each task'),
    });
  });

  it("CLI: a one-task flag with --file exits 2 naming the flag; nothing is enqueued; -w is still shared", () => {
    const home = newHome();
    const file = join(home.dir, "jobs.ndjson");
    writeFileSync(file, '{"payload":{"file":"a.ts"}}\n{"payload":{"file":"b.ts"}}\n');
    for (const [flags, named] of [
      [["-t", "lint"], "-t/--type"],
      [["-p", "3"], "-p/--priority"],
      [["--tag", "x"], "--tag"],
      [["-k", "once"], "-k/--key"],
    ] as const) {
      const result = cli(home, ["enqueue", "--file", file, ...flags, "--json"]);
      expect(result.code, named).toBe(2);
      const error = envelope(result).error!;
      expect(error.code, named).toBe("INVALID_INPUT");
      expect(error.message, named).toContain(`${named} applies to one task`);
    }
    expect(jobRows(home)).toHaveLength(0);
    const ok = cli(home, ["enqueue", "--file", file, "-w", "shared", "--json"]);
    expect(ok.code).toBe(0);
    expect(jobRows(home)).toEqual([
      ["task", "shared"],
      ["task", "shared"],
    ]);
  });
});
