/**
 * a read-only operation has no side effects. `validate_config` once registered the schedules
 * of the baton.yaml it read, so the read-only token (or `baton config validate` run by root in a
 * folder another user wrote) made the daemon run that file's command as root every minute. Every
 * read-only operation of the catalogue is called here against a project whose baton.yaml holds a
 * scheduled command, and the ledger's jobs, events and schedules must stay exactly as they were;
 * then validate_config through the HTTP API with the read-only token, MCP over HTTP and the CLI.
 */
import { existsSync } from "node:fs";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openBaton } from "../src/index.js";
import { operations } from "../src/ops/catalogue.js";
import { call, connectStdio } from "./helpers/mcp.js";
import { callOp } from "./helpers/http.js";
import { project } from "./helpers/tasks.js";
import type { Home } from "./helpers/supervisor.js";
import { cliJson, newHome, withDb } from "./helpers/supervisor.js";

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()!().catch(() => undefined);
});

/** A project whose scheduled command would leave a canary if it ever ran. */
function evilProject(canary: string): string {
  return project(
    `tasks:\n  hi:\n    command: [touch, ${JSON.stringify(canary)}]\n    schedule: "* * * * *"\n`,
  );
}

/** Everything a side effect would show in: jobs, events and schedules, row for row. */
function ledger(home: Home) {
  return withDb(home, (db) => ({
    jobs: db.prepare("SELECT * FROM jobs ORDER BY id").all(),
    events: db.prepare("SELECT * FROM events ORDER BY id").all(),
    schedules: db.prepare("SELECT * FROM schedules ORDER BY key").all(),
  }));
}

describe("R-36 read-only operations change nothing", () => {
  it("R-36 every read-only operation leaves jobs, events and schedules as they were", async () => {
    const home = newHome();
    const canary = join(home.dir, "canary");
    const dir = evilProject(canary);
    const baton = await openBaton({ home: home.dir, durability: "normal" });
    closers.push(() => baton.close());
    const job = (await baton.call("enqueue_task", { type: "mine", payload: {} }, { cwd: dir })) as {
      id: string;
    };
    const before = ledger(home);
    const pool: Record<string, unknown> = {
      cwd: dir,
      id: job.id,
      task: "hi",
      timeoutSeconds: 0,
      waitSeconds: 0,
    };
    const called: string[] = [];
    for (const op of operations.filter((o) => o.readOnly)) {
      const shape = (op.input as unknown as { shape?: Record<string, unknown> }).shape ?? {};
      const input = Object.fromEntries(Object.keys(shape).flatMap((k) => (k in pool ? [[k, pool[k]]] : [])));
      try {
        await baton.call(op.name, input, { cwd: dir });
        called.push(op.name);
      } catch (error) {
        called.push(`${op.name}!${(error as { code?: string }).code ?? String(error)}`);
      }
    }
    expect(called).toContain("validate_config");
    expect(called).toContain("list_schedules"); // D108: it registered the project's schedules
    expect(ledger(home)).toEqual(before);
    expect(before.schedules).toEqual([]);
    expect(existsSync(canary)).toBe(false);
  });

  it("R-36 validate_config registers nothing through the HTTP API (read-only token), MCP (stdio) and the CLI", async () => {
    const home = newHome();
    const canary = join(home.dir, "canary");
    const dir = evilProject(canary);
    const dash = cliJson(home, ["dashboard", "--no-open"]);
    const base = String(dash.base).replace(/\/$/, "");
    const readOnly = cliJson(home, ["token", "show", "--read-only"]).token as string;
    const before = ledger(home);

    const viaHttp = await callOp(
      base,
      "validate_config",
      { cwd: dir },
      { authorization: `Bearer ${readOnly}` },
    );
    expect(viaHttp.status).toBe(200);
    expect(viaHttp.body.data.tasks).toEqual(["hi"]);

    // validate_config is in the full tool set, which the daemon's /mcp does not serve: stdio.
    const mcp = await connectStdio(home.dir, ["--tools", "full"], dir);
    closers.push(() => mcp.close());
    const viaMcp = await call(mcp.client, "validate_config", { cwd: dir });
    expect(viaMcp.isError ?? false).toBe(false);

    expect(cliJson(home, ["config", "validate"], { cwd: dir }).tasks).toEqual(["hi"]);

    expect(ledger(home)).toEqual(before);
    expect(before.schedules).toEqual([]);
    expect(existsSync(canary)).toBe(false);
  });

  it("red team L3: the read-only token calling run_command over MCP is told why (still -32602), and nothing runs", async () => {
    const home = newHome();
    const canary = join(home.dir, "canary");
    const dash = cliJson(home, ["dashboard", "--no-open"]) as { mcp: string };
    const readOnly = cliJson(home, ["token", "show", "--read-only"]).token as string;
    const client = new Client({ name: "read-only-host", version: "1.0.0" });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(dash.mcp), {
        requestInit: { headers: { authorization: `Bearer ${readOnly}` } },
      }),
    );
    closers.push(() => client.close());
    const before = ledger(home);
    const refused = await client
      .callTool({ name: "run_command", arguments: { argv: ["touch", canary] } })
      .then(
        () => undefined,
        (e: unknown) => e as { code: number; message: string },
      );
    expect(refused?.code).toBe(-32602);
    expect(refused?.message).toContain("not available with this token");
    expect(refused?.message).toContain("read-only");
    // A tool no token has keeps the SDK's answer.
    const unknown = await client.callTool({ name: "no_such_tool", arguments: {} }).then(
      () => undefined,
      (e: unknown) => e as { message: string },
    );
    expect(unknown?.message).toContain("not found");
    expect(ledger(home)).toEqual(before);
    expect(existsSync(canary)).toBe(false);
  });
});
