/**
 * D137: an idempotency key deduplicates only to a job its operation could itself have created.
 * Keys are one namespace across checkpoints, commands, task runs and agent jobs; before D137 an
 * agent holding only the default tools could enqueue a checkpoint with the key of a command the
 * user was about to run, have `baton run -k` answer with that checkpoint as its "deduplicated"
 * run, complete it with `exitCode: 0`, and `baton run -k --wait` printed "succeeded exit 0" for a
 * command that never ran. Now a key held by another kind of job is refused (`KEY_CONFLICT`, exit
 * 4, HTTP 409) on every front-end, naming the holder's kind but not its id or state.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openBaton } from "../src/index.js";
import { keySharedBetween } from "../src/core/executors.js";
import { call, connectStdio, toolError } from "./helpers/mcp.js";
import { callOp } from "./helpers/http.js";
import { cli, cliJson, FIXTURES, jobRows, newHome } from "./helpers/supervisor.js";

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()!().catch(() => undefined);
});

const FAKE_AGENT = JSON.stringify([
  process.execPath,
  join(FIXTURES, "fake-agent.mjs"),
  "-p",
  "{instructions}",
]);

describe("D137 idempotency keys dedupe only within their kind", () => {
  it("D137 which types share a key", () => {
    expect(keySharedBetween("checkpoint", "checkpoint")).toBe(true);
    expect(keySharedBetween("send_email", "checkpoint")).toBe(true);
    expect(keySharedBetween("command", "command")).toBe(true);
    expect(keySharedBetween("task:backup", "task:backup")).toBe(true);
    expect(keySharedBetween("agent:claude", "agent:codex")).toBe(true);
    expect(keySharedBetween("checkpoint", "command")).toBe(false);
    expect(keySharedBetween("command", "checkpoint")).toBe(false);
    expect(keySharedBetween("task:backup", "task:deploy")).toBe(false);
    expect(keySharedBetween("task:backup", "command")).toBe(false);
    expect(keySharedBetween("agent:claude", "command")).toBe(false);
    expect(keySharedBetween("checkpoint", "agent:claude")).toBe(false);
  });

  it("D137 the attack over MCP (default tools) and `baton run -k`: refused, the command is not faked", async () => {
    const home = newHome();
    const canary = join(home.dir, "canary");
    const mcp = await connectStdio(home.dir);
    closers.push(() => mcp.close());
    // The agent squats the key the user's command will use, here and from another project.
    const squat = await call(mcp.client, "enqueue_task", { idempotencyKey: "nightly-backup", payload: "x" });
    expect(squat.isError).toBeFalsy();
    const checkpointId = squat.data.jobs[0].id as string;
    const elsewhere = await call(mcp.client, "enqueue_task", {
      idempotencyKey: "weekly-backup",
      payload: "x",
      project: "/var/tmp",
    });
    expect(elsewhere.isError).toBeFalsy();

    for (const key of ["nightly-backup", "weekly-backup"]) {
      const run = cli(home, ["run", "-k", key, "--json", "--", "sh", "-c", `echo ran > '${canary}'`]);
      const env = JSON.parse(run.stdout);
      expect(env.ok, run.stdout).toBe(false);
      expect(env.error.code).toBe("KEY_CONFLICT");
      expect(env.error.message).toContain("checkpoint");
      expect(run.code).toBe(4);
    }
    // The agent completes its checkpoint as a successful command would be...
    const done = await call(mcp.client, "complete_task", { id: checkpointId, result: { exitCode: 0 } });
    expect(done.isError).toBeFalsy();
    // ...and the user's waiting run still refuses instead of printing "succeeded exit 0".
    const waited = cli(home, [
      "run",
      "-k",
      "nightly-backup",
      "--wait",
      "--",
      "sh",
      "-c",
      `echo ran > '${canary}'`,
    ]);
    expect(waited.code).toBe(4);
    expect(waited.stdout + waited.stderr).not.toMatch(/succeeded/);
    expect(waited.stderr).toContain("KEY_CONFLICT");
    // No command job exists at all, and the checkpoint was never handed out as one.
    expect(jobRows(home).map((j) => j.type)).toEqual(["task", "task"]);
    expect(existsSync(canary)).toBe(false);

    // The reverse: a command's key answers a checkpoint operation with a refusal, not the command.
    cliJson(home, ["pause", "command", "--scope", "type"]);
    const cmd = cliJson(home, ["run", "-k", "deploy", "--", "sh", "-c", "sleep 30"]);
    const probe = await call(mcp.client, "enqueue_task", { idempotencyKey: "deploy", payload: {} });
    expect(probe.isError).toBe(true);
    expect(toolError(probe).code).toBe("KEY_CONFLICT");
    expect(toolError(probe).message).not.toContain(cmd.id);
    expect(JSON.stringify(probe)).not.toContain(cmd.id);
    cliJson(home, ["stop", cmd.id]);
    cli(home, ["daemon", "stop"]);
  });

  it("D137 library baton.call and the HTTP API refuse a key held by another kind", async () => {
    const home = newHome();
    const baton = await openBaton({ home: home.dir, durability: "normal" });
    closers.push(() => baton.close());
    await baton.call("enqueue_task", { idempotencyKey: "k1", payload: "x" });
    // The engine itself refuses, whichever front-end (or library code) asks.
    await expect(
      baton.engine.enqueue({ type: "command", payload: { argv: ["true"] }, idempotencyKey: "k1" }),
    ).rejects.toMatchObject({ code: "KEY_CONFLICT" });
    await expect(
      baton.engine.enqueue({ type: "agent:fake", payload: {}, idempotencyKey: "k1" }),
    ).rejects.toMatchObject({ code: "KEY_CONFLICT" });
    await expect(
      baton.engine.enqueue({ type: "task:backup", payload: {}, idempotencyKey: "k1" }),
    ).rejects.toMatchObject({ code: "KEY_CONFLICT" });
    // A schedule's slot key is its task run's alone: nothing else can take it first and make
    // the slot pass without a run.
    for (const type of ["task", "command", "agent:fake", "send_email"])
      await expect(
        baton.engine.enqueue({ type, payload: {}, idempotencyKey: "schedule:/p#nightly@1767225600000" }),
      ).rejects.toMatchObject({ code: "KEY_CONFLICT", details: { reserved: "schedule:" } });
    await expect(
      baton.call("enqueue_task", { idempotencyKey: "schedule:/p#nightly@1767225600000", payload: "x" }),
    ).rejects.toMatchObject({ code: "KEY_CONFLICT" });
    const slot = await baton.engine.enqueue({
      type: "task:nightly",
      payload: {},
      idempotencyKey: "schedule:/p#nightly@1767225600000",
    });
    expect(slot[0]!.deduplicated).toBe(false);
    // A library user's own handler type sharing a key with a checkpoint keeps today's answer.
    const handler = await baton.engine.enqueue({ type: "send_email", payload: {}, idempotencyKey: "k1" });
    expect(handler[0]!.deduplicated).toBe(true);
    await baton.close();

    const dash = cliJson(home, ["dashboard", "--no-open"]);
    const base = dash.base.replace(/\/$/, "");
    const auth = { authorization: `Bearer ${new URL(dash.url).searchParams.get("token")!}` };
    const http = await callOp(
      base,
      "run_command",
      { argv: ["sh", "-c", "true"], key: "k1", cwd: home.dir },
      auth,
    );
    expect(http.status).toBe(409);
    expect(http.body.error.code).toBe("KEY_CONFLICT");
    const agent = await callOp(
      base,
      "agent_submit",
      { agent: "fake", command: JSON.parse(FAKE_AGENT), instructions: "hi", key: "k1", cwd: home.dir },
      auth,
    );
    expect(agent.status).toBe(409);
    expect(agent.body.error.code).toBe("KEY_CONFLICT");
    expect(jobRows(home).map((j) => j.type)).toEqual(["task", "task:nightly"]);
    cli(home, ["daemon", "stop"]);
  });

  it("D137 same-kind keys still dedupe: run -k, agent run -k, enqueue -k", () => {
    const home = newHome();
    cliJson(home, ["pause", "command", "--scope", "type"]);
    const a = cliJson(home, ["run", "-k", "build", "--", "sh", "-c", "sleep 30"]);
    const b = cliJson(home, ["run", "-k", "build", "--", "sh", "-c", "sleep 30"]);
    expect(b).toMatchObject({ id: a.id, deduplicated: true });
    cliJson(home, ["stop", a.id]);

    const e1 = cliJson(home, ["enqueue", "{}", "-k", "rec"]);
    const e2 = cliJson(home, ["enqueue", "{}", "-t", "other", "-k", "rec"]);
    expect(e2.jobs[0]).toMatchObject({ id: e1.jobs[0].id, deduplicated: true });

    const g1 = cliJson(home, ["agent", "run", "-a", "fake", "--command", FAKE_AGENT, "-k", "review", "hi"]);
    const g2 = cliJson(home, ["agent", "run", "-a", "other", "--command", FAKE_AGENT, "-k", "review", "hi"]);
    const id1 = (g1.jobs?.[0] ?? g1).id;
    const second = g2.jobs?.[0] ?? g2;
    expect(second).toMatchObject({ id: id1, deduplicated: true });
    // An agent key is not a command's.
    const cross = cli(home, ["run", "-k", "review", "--json", "--", "true"]);
    expect(JSON.parse(cross.stdout).error.code).toBe("KEY_CONFLICT");
    cli(home, ["agent", "cancel", id1]);
    cli(home, ["daemon", "stop"]);
  });
});
