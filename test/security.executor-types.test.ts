/**
 * checkpoint operations never create or finish jobs that an executor runs. `enqueue_task`
 * (one task or a batch), `complete_task`, `fail_task` and `claim_task` refuse `command`,
 * `task:<name>` and `agent:<name>` jobs on every front-end — the library's `baton.call`, the CLI,
 * MCP over stdio, MCP over HTTP and the HTTP API — with `RESERVED_TYPE`, whose message names the
 * operation made for them. The daemon runs throughout, and every refused job would write a canary
 * file if it ever ran: the canary never appears, while a command started the proper way does run.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { afterEach, describe, expect, it } from "vitest";
import { openBaton } from "../src/index.js";
import {
  checkCheckpointType,
  foldType,
  RESERVED_TYPES,
  reservationOrLookalikeOf,
  reservedTypeOwner,
} from "../src/core/executors.js";
import { call, connectStdio, toolError } from "./helpers/mcp.js";
import { callOp } from "./helpers/http.js";
import type { Home } from "./helpers/supervisor.js";
import { cli, cliJson, jobRows, newHome, sleep, withDb } from "./helpers/supervisor.js";

function payloads(home: Home): { type: string; payload: string }[] {
  return withDb(
    home,
    (db) => db.prepare("SELECT type, payload FROM jobs").all() as { type: string; payload: string }[],
  );
}

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()!().catch(() => undefined);
});

/** Payloads that would touch the canary if any executor ran them. */
function attackPayload(canary: string, cwd: string) {
  return { argv: ["sh", "-c", `echo pwned > '${canary}'`], cwd };
}

const EXECUTOR_TYPES = ["command", "task:backup", "agent:claude"];

/**
 * Stranger finding 8 (D87): types that read as an executor type. Each is refused by every
 * checkpoint front-end, as RESERVED_TYPE (naming the operation) or, for a character outside the
 * job type charset, INVALID_INPUT.
 */
const LOOKALIKES: [label: string, type: string, code: "RESERVED_TYPE" | "INVALID_INPUT"][] = [
  ["capitalised", "Command", "RESERVED_TYPE"],
  ["upper-case prefix", "TASK:backup", "RESERVED_TYPE"],
  ["capitalised agent", "Agent:claude", "RESERVED_TYPE"],
  ["full-width", "\uff43\uff4f\uff4d\uff4d\uff41\uff4e\uff44", "RESERVED_TYPE"],
  ["full-width colon", "agent\uff1aclaude", "RESERVED_TYPE"],
  ["zero-width joiner", "com\u200dmand", "RESERVED_TYPE"],
  ["zero-width space in the prefix", "task\u200b:backup", "RESERVED_TYPE"],
  ["soft hyphen", "com\u00admand", "RESERVED_TYPE"],
  ["variation selector", "command\ufe0f", "RESERVED_TYPE"],
  ["Cyrillic es", "\u0441ommand", "INVALID_INPUT"],
  ["Cyrillic a in the agent prefix", "\u0430gent:claude", "INVALID_INPUT"],
  ["Greek omicron after task:", "task:backup\u03bf", "RESERVED_TYPE"],
  ["Cyrillic in task:", "t\u0430sk:backup", "INVALID_INPUT"],
  ["trailing space", "command ", "INVALID_INPUT"],
];

/** The daemon has had its chance: a proper `baton run --wait` goes through the same supervisor. */
function proveDaemonRuns(home: Home): void {
  const ran = cliJson(home, ["run", "--wait", "--", "sh", "-c", "echo fine"]);
  expect(ran).toBeDefined();
  expect(readFileSync(join(home.dir, "runs", ran.id, "1", "output.log"), "utf8")).toContain("fine");
}

async function expectNothingRan(home: Home, canary: string): Promise<void> {
  proveDaemonRuns(home);
  await sleep(300);
  expect(existsSync(canary)).toBe(false);
  // Nothing of an executor type but the proper `run` exists.
  const executorJobs = payloads(home).filter((j) => reservedTypeOwner(j.type) !== undefined);
  expect(executorJobs.map((j) => (JSON.parse(j.payload) as { argv: string[] }).argv)).toEqual([
    ["sh", "-c", "echo fine"],
  ]);
}

describe("R-37 executor types belong to their own operations", () => {
  it("R-37 the reserved set is derived from one place and names the owning operation", () => {
    expect(reservedTypeOwner("command")).toBe("run_command");
    expect(reservedTypeOwner("task:backup")).toBe("run_task");
    expect(reservedTypeOwner("agent:claude")).toBe("agent_submit");
    // Byte for byte, as the claim compares (SQLite's claim uses a BINARY range, PostgreSQL =).
    expect(reservedTypeOwner("TASK:backup")).toBeUndefined();
    expect(reservedTypeOwner("send_email")).toBeUndefined();
    expect(reservedTypeOwner("task")).toBeUndefined();
    expect(RESERVED_TYPES.length).toBeGreaterThan(0);
  });

  it("D87 look-alikes read as the executor type they imitate; handler types keep working", () => {
    for (const [label, type, code] of LOOKALIKES) {
      let thrown: { code?: string; message?: string } | undefined;
      try {
        checkCheckpointType(type, "enqueue_task");
      } catch (error) {
        thrown = error as { code: string; message: string };
      }
      expect(thrown?.code, label).toBe(code);
      // The message shows what was sent, escaped, so the look-alike is visible.
      if (!/^[\x20-\x7e]*$/.test(type)) expect(thrown?.message, label).toMatch(/\\u\{[0-9a-f]+\}/);
    }
    expect(reservationOrLookalikeOf("Command")?.create).toBe("run_command");
    // Stranger finding 10: the article fits the noun ("an agent job", not "a agent job").
    expect(() => checkCheckpointType("agent:claude", "enqueue_task")).toThrow(
      /: an agent job runs a process/,
    );
    expect(() => checkCheckpointType("command", "enqueue_task")).toThrow(/: a background command runs/);
    expect(foldType("\uff34\uff21\uff33\uff2b\uff1ax")).toBe("task:x");
    // What library users name their handlers stays accepted.
    for (const type of [
      "task",
      "send_email",
      "emails.send",
      "image/resize",
      "review:file",
      "user@host",
      "c++",
      "Report-2",
    ])
      expect(() => checkCheckpointType(type, "enqueue_task"), type).not.toThrow();
    // The claim itself stays byte for byte: a look-alike never was an executor type.
    expect(reservedTypeOwner("Command")).toBeUndefined();
  });

  it("R-37 library baton.call refuses; library users' own handler types are unaffected", async () => {
    const home = newHome();
    const canary = join(home.dir, "canary-lib");
    cliJson(home, ["daemon", "start"]);
    const baton = await openBaton({ home: home.dir, durability: "normal" });
    closers.push(() => baton.close());
    for (const type of EXECUTOR_TYPES) {
      await expect(
        baton.call("enqueue_task", { type, payload: attackPayload(canary, home.dir) }),
      ).rejects.toMatchObject({ code: "RESERVED_TYPE" });
      await expect(
        baton.call("enqueue_task", {
          tasks: [{ payload: { fine: 1 } }, { type, payload: attackPayload(canary, home.dir) }],
        }),
      ).rejects.toMatchObject({
        code: "RESERVED_TYPE",
        message: expect.stringContaining(reservedTypeOwner(type)!),
      });
      await expect(baton.call("claim_task", { types: [type], owner: "agent" })).rejects.toMatchObject({
        code: "RESERVED_TYPE",
      });
    }
    for (const [label, type, code] of LOOKALIKES) {
      await expect(
        baton.call("enqueue_task", { type, payload: attackPayload(canary, home.dir) }),
        label,
      ).rejects.toMatchObject({ code });
      await expect(
        baton.call("enqueue_task", { tasks: [{ payload: { fine: 1 } }, { type, payload: {} }] }),
        label,
      ).rejects.toMatchObject({ code });
    }
    // A batch with one reserved item wrote nothing at all.
    expect(jobRows(home)).toEqual([]);
    // Their own handler types still go through the catalogue.
    const ok = (await baton.call("enqueue_task", { type: "send_email", payload: { to: "a@b.c" } })) as {
      jobs: { id: string }[];
    };
    expect(ok.jobs).toHaveLength(1);
    await baton.close();
    await expectNothingRan(home, canary);
  });

  it("R-37 complete_task and fail_task refuse executor-run jobs (CLI)", async () => {
    const home = newHome();
    // A command job that cannot run yet: every project's commands are paused.
    cliJson(home, ["pause", "command", "--scope", "type"]);
    const job = cliJson(home, ["run", "--", "sh", "-c", "sleep 30"]);
    for (const args of [
      ["complete", job.id, "--evidence", "done"],
      ["fail", job.id, "gave up", "--no-retry"],
    ]) {
      const result = cli(home, [...args, "--json"]);
      const env = JSON.parse(result.stdout);
      expect(env.ok).toBe(false);
      expect(env.error.code).toBe("RESERVED_TYPE");
      expect(env.error.message).toContain("stop_job");
      expect(result.code).toBe(2);
    }
    expect(jobRows(home).find((j) => j.id === job.id)?.state).toBe("queued");
    cliJson(home, ["stop", job.id]);
  });

  it("R-37 CLI enqueue refuses (one, and a batch file), exit 2, nothing written", async () => {
    const home = newHome();
    const canary = join(home.dir, "canary-cli");
    cliJson(home, ["daemon", "start"]);
    for (const type of EXECUTOR_TYPES) {
      const one = cli(home, [
        "enqueue",
        "-t",
        type,
        JSON.stringify(attackPayload(canary, home.dir)),
        "--json",
      ]);
      expect(JSON.parse(one.stdout).error.code).toBe("RESERVED_TYPE");
      expect(one.code).toBe(2);
    }
    for (const [label, type, code] of LOOKALIKES) {
      const one = cli(home, [
        "enqueue",
        "-t",
        type,
        JSON.stringify(attackPayload(canary, home.dir)),
        "--json",
      ]);
      expect(JSON.parse(one.stdout).error.code, label).toBe(code);
      expect(one.code, label).toBe(2);
    }
    const file = join(home.dir, "jobs.json");
    writeFileSync(
      file,
      JSON.stringify([{ payload: { a: 1 } }, { type: "command", payload: attackPayload(canary, home.dir) }]),
    );
    const batch = cli(home, ["enqueue", "--file", file, "--json"]);
    expect(JSON.parse(batch.stdout).error.code).toBe("RESERVED_TYPE");
    expect(jobRows(home)).toEqual([]);
    await expectNothingRan(home, canary);
  });

  it("R-37 MCP over stdio refuses enqueue_task (default tool set)", async () => {
    const home = newHome();
    const canary = join(home.dir, "canary-stdio");
    cliJson(home, ["daemon", "start"]);
    const mcp = await connectStdio(home.dir);
    closers.push(() => mcp.close());
    for (const type of EXECUTOR_TYPES) {
      const one = await call(mcp.client, "enqueue_task", { type, payload: attackPayload(canary, home.dir) });
      expect(one.isError).toBe(true);
      expect(toolError(one)).toMatchObject({ code: "RESERVED_TYPE" });
      expect(toolError(one).message).toContain(reservedTypeOwner(type)!);
      const batch = await call(mcp.client, "enqueue_task", {
        tasks: [{ type, payload: attackPayload(canary, home.dir) }],
      });
      expect(toolError(batch).code).toBe("RESERVED_TYPE");
    }
    for (const [label, type, code] of LOOKALIKES) {
      const one = await call(mcp.client, "enqueue_task", { type, payload: attackPayload(canary, home.dir) });
      expect(one.isError, label).toBe(true);
      expect(toolError(one).code, label).toBe(code);
    }
    await mcp.close();
    await expectNothingRan(home, canary);
  });

  it("R-37 MCP over HTTP and the HTTP API refuse (the daemon's server, with its token)", async () => {
    const home = newHome();
    const canary = join(home.dir, "canary-http");
    const dash = cliJson(home, ["dashboard", "--no-open"]);
    const base = dash.base.replace(/\/$/, "");
    const token = new URL(dash.url).searchParams.get("token")!;
    const auth = { authorization: `Bearer ${token}` };
    for (const type of EXECUTOR_TYPES) {
      const one = await callOp(
        base,
        "enqueue_task",
        { type, payload: attackPayload(canary, home.dir) },
        auth,
      );
      expect(one.status).toBe(400);
      expect(one.body.error.code).toBe("RESERVED_TYPE");
      const batch = await callOp(base, "enqueue_task", { tasks: [{ type, payload: {} }] }, auth);
      expect(batch.body.error.code).toBe("RESERVED_TYPE");
    }
    for (const [label, type, code] of LOOKALIKES) {
      const one = await callOp(
        base,
        "enqueue_task",
        { type, payload: attackPayload(canary, home.dir) },
        auth,
      );
      expect(one.status, label).toBe(400);
      expect(one.body.error.code, label).toBe(code);
    }
    const client = new Client({ name: "r37", version: "1" });
    const transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp`), {
      requestInit: { headers: auth },
    });
    await client.connect(transport);
    closers.push(() => client.close());
    for (const type of EXECUTOR_TYPES) {
      const one = await call(client, "enqueue_task", { type, payload: attackPayload(canary, home.dir) });
      expect(toolError(one).code).toBe("RESERVED_TYPE");
    }
    for (const [label, type, code] of LOOKALIKES) {
      const one = await call(client, "enqueue_task", { type, payload: attackPayload(canary, home.dir) });
      expect(toolError(one).code, label).toBe(code);
    }
    await client.close();
    await expectNothingRan(home, canary);
  });
});
