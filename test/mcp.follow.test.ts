/**
 * Following long work from the chat, as the SDK's own client sees `baton mcp` over stdio: progress
 * notifications while `wait_job` waits (state and the last log line), completion of job references,
 * workflows and projects from the ledger, the `logging` capability carrying the server's warnings,
 * and typed schemas for free-form inputs.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { plainLine } from "../src/mcp/follow.js";
import { call, connectStdio } from "./helpers/mcp.js";
import { newHome } from "./helpers/supervisor.js";
import { project } from "./helpers/tasks.js";
import { tempDir } from "./helpers/tmp.js";
import type { Connected } from "./helpers/mcp.js";

const open: Connected[] = [];
afterEach(async () => {
  while (open.length > 0) await open.pop()!.close();
});

describe("baton mcp: following long work", () => {
  it("wait_job with a progressToken sends progress: the job's state and its last log line, rising", async () => {
    const home = newHome();
    const project = tempDir("baton-project-");
    const server = await connectStdio(home.dir, ["--tools", "full"], project);
    open.push(server);
    const started = await call(server.client, "run_command", {
      argv: ["sh", "-c", "for i in 1 2 3 4; do echo line$i; sleep 1; done"],
      cwd: project,
    });
    expect(started.isError, JSON.stringify(started.content)).toBeFalsy();
    const updates: { progress: number; total?: number; message?: string }[] = [];
    const result = (await server.client.callTool(
      { name: "wait_job", arguments: { id: started.data.id, timeoutSeconds: 30 } },
      { onprogress: (p) => updates.push(p) },
    )) as { structuredContent: { finished: boolean; state: string } };
    expect(result.structuredContent.finished).toBe(true);
    expect(result.structuredContent.state).toBe("succeeded");
    expect(updates.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < updates.length; i++)
      expect(updates[i]!.progress).toBeGreaterThan(updates[i - 1]!.progress);
    expect(updates[0]!.total).toBe(30);
    expect(updates.some((u) => /^running for \d+ s: line\d$/.test(u.message ?? ""))).toBe(true);
    // Without a token nothing is sent, and the answer is the same.
    const again = await call(server.client, "wait_job", { id: started.data.id, timeoutSeconds: 5 });
    expect(again.data.finished).toBe(true);
  }, 60_000);

  it("wait_job's progress says the capped wait as `total` (45, not 3600) and its message is plain text, without the log's colour codes", async () => {
    const home = newHome();
    const project = tempDir("baton-project-");
    const server = await connectStdio(home.dir, ["--tools", "full"], project);
    open.push(server);
    const started = await call(server.client, "run_command", {
      argv: ["sh", "-c", "printf '\\033[31mred\\033[0m\\n'; sleep 3"],
      cwd: project,
    });
    expect(started.isError, JSON.stringify(started.content)).toBeFalsy();
    const updates: { progress: number; total?: number; message?: string }[] = [];
    const result = (await server.client.callTool(
      { name: "wait_job", arguments: { id: started.data.id, timeoutSeconds: 3600 } },
      { onprogress: (p) => updates.push(p) },
    )) as { structuredContent: { finished: boolean } };
    expect(result.structuredContent.finished).toBe(true);
    expect(updates.length).toBeGreaterThanOrEqual(1);
    for (const update of updates) expect(update.total).toBe(45);
    expect(updates.some((u) => /^running for \d+ s: red$/.test(u.message ?? ""))).toBe(true);
    expect(updates.some((u) => /[\u0000-\u001f\u007f-\u009f]/.test(u.message ?? ""))).toBe(false);
  }, 60_000);

  it("plainLine: a log line as a terminal shows it, without control sequences", () => {
    expect(plainLine("\u001b[31mred\u001b[0m")).toBe("red");
    expect(plainLine("\u001b[1;38;5;196mbold\u001b[K done")).toBe("bold done");
    expect(plainLine("\u001b]8;;https://x.test\u0007link\u001b]8;;\u0007")).toBe("link");
    expect(plainLine("\u001b]0;title\u001b\\text")).toBe("text");
    expect(plainLine(" 10%\r 50%\r100%\r")).toBe("100%");
    expect(plainLine("a\tb\u0007c\u009b2Jd")).toBe("a bcd");
    expect(plainLine("ビルド ✓")).toBe("ビルド ✓");
  });

  it("wait_job's progress follows the job its `project` names: a running 'build' in two projects (D130)", async () => {
    const home = newHome();
    const [projA, projB, projC] = ["a", "b", "c"].map((p) => {
      const dir = join(tempDir("baton-project-"), p);
      mkdirSync(join(dir, ".git"), { recursive: true });
      return dir;
    }) as [string, string, string];
    // The server stands in a third project: "build" alone is AMBIGUOUS_ID from there.
    const server = await connectStdio(home.dir, ["--tools", "full"], projC);
    open.push(server);
    const run = async (cwd: string, script: string) => {
      const started = await call(server.client, "run_command", {
        argv: ["sh", "-c", script],
        name: "build",
        cwd,
      });
      expect(started.isError, JSON.stringify(started.content)).toBeFalsy();
      return started.data.id as string;
    };
    const b = await run(projB, "echo other; sleep 30");
    try {
      await run(projA, "for i in 1 2 3; do echo line$i; sleep 1; done");
      const updates: { progress: number; message?: string }[] = [];
      const result = (await server.client.callTool(
        { name: "wait_job", arguments: { id: "build", project: projA, timeoutSeconds: 30 } },
        { onprogress: (p) => updates.push(p) },
      )) as { structuredContent: { finished: boolean; state: string } };
      expect(result.structuredContent).toMatchObject({ finished: true, state: "succeeded" });
      expect(updates.length).toBeGreaterThanOrEqual(1);
      expect(updates.some((u) => /^running for \d+ s: line\d$/.test(u.message ?? ""))).toBe(true);
      expect(updates.some((u) => (u.message ?? "").includes("other"))).toBe(false);
    } finally {
      await call(server.client, "stop_job", { id: b });
    }
  }, 60_000);

  it("completes job references, workflow names and projects from the ledger", async () => {
    const home = tempDir();
    const project = tempDir("baton-project-");
    const server = await connectStdio(home, [], project);
    open.push(server);
    const enqueued = await call(server.client, "enqueue_task", {
      cwd: project,
      workflow: "esm-migration",
      tasks: [{ name: "a" }, { name: "b" }],
    });
    await call(server.client, "enqueue_task", { cwd: project, workflow: "docs", name: "c" });
    const ids: string[] = enqueued.data.jobs.map((j: { id: string }) => j.id);
    expect(server.client.getServerCapabilities()?.completions).toBeDefined();

    const byPrefix = await server.client.complete({
      ref: { type: "ref/resource", uri: "baton://jobs/{id}" },
      argument: { name: "id", value: ids[0]!.slice(0, 8).toLowerCase() },
    });
    expect(byPrefix.completion.values).toEqual(expect.arrayContaining(ids));
    const none = await server.client.complete({
      ref: { type: "ref/resource", uri: "baton://jobs/{id}" },
      argument: { name: "id", value: "ZZZZ" },
    });
    expect(none.completion.values).toEqual([]);

    const workflows = await server.client.complete({
      ref: { type: "ref/resource", uri: "baton://workflows/{name}" },
      argument: { name: "name", value: "esm" },
    });
    expect(workflows.completion.values).toEqual(["esm-migration"]);
    const promptWorkflow = await server.client.complete({
      ref: { type: "ref/prompt", name: "resume" },
      argument: { name: "workflow", value: "" },
    });
    expect(promptWorkflow.completion.values.sort()).toEqual(["docs", "esm-migration"]);
    const promptCwd = await server.client.complete({
      ref: { type: "ref/prompt", name: "resume" },
      argument: { name: "cwd", value: project.slice(0, 5) },
    });
    expect(promptCwd.completion.values).toEqual([project]);
  });

  it("completes configured task names from baton.yaml: the baton://tasks/{name} template and the run_task prompt", async () => {
    const home = tempDir();
    const dir = project(
      [
        "tasks:",
        "  build:",
        "    description: Build it",
        "    command: ['true']",
        "  bench:",
        "    command: ['true']",
        "  test:",
        "    command: ['true']",
      ].join("\n"),
    );
    const elsewhere = tempDir("baton-elsewhere-");
    const server = await connectStdio(home, ["--tools", "full"], dir);
    open.push(server);
    const template = await server.client.complete({
      ref: { type: "ref/resource", uri: "baton://tasks/{name}" },
      argument: { name: "name", value: "b" },
    });
    expect(template.completion.values).toEqual(["build", "bench"]);
    const described = await server.client.readResource({ uri: "baton://tasks/build" });
    expect(JSON.parse((described.contents[0] as { text: string }).text)).toMatchObject({
      name: "build",
      description: "Build it",
    });
    await expect(server.client.readResource({ uri: "baton://tasks/nope" })).rejects.toThrow(/nope/);

    // The prompt's task completes from the baton.yaml of the cwd given before it, else the server's.
    const fromServer = await server.client.complete({
      ref: { type: "ref/prompt", name: "run_task" },
      argument: { name: "task", value: "te" },
    });
    expect(fromServer.completion.values).toEqual(["test"]);
    const fromNowhere = await server.client.complete({
      ref: { type: "ref/prompt", name: "run_task" },
      argument: { name: "task", value: "" },
      context: { arguments: { cwd: elsewhere } },
    });
    expect(fromNowhere.completion.values).toEqual([]);
    const prompt = await server.client.getPrompt({ name: "run_task", arguments: { task: "build" } });
    expect((prompt.messages[0]!.content as { text: string }).text).toMatch(/"build".*describe_task.*dryRun/);

    // From another folder, the cwd argument points completion at the project.
    const other = await connectStdio(home, ["--tools", "full"], elsewhere);
    open.push(other);
    const viaCwd = await other.client.complete({
      ref: { type: "ref/prompt", name: "run_task" },
      argument: { name: "task", value: "" },
      context: { arguments: { cwd: dir } },
    });
    expect(viaCwd.completion.values).toEqual(["build", "bench", "test"]);
    // The default tool set has no run_task, so no prompt that asks for it.
    const plain = await connectStdio(home, [], dir);
    open.push(plain);
    expect((await plain.client.listPrompts()).prompts.map((p) => p.name)).toEqual(["resume"]);
  });

  it("declares logging and sends the server's warnings (a store that cannot open) as log messages", async () => {
    const home = tempDir();
    // A BATON_HOME that is a file: the store cannot open, and the server says why.
    const blocker = join(home, "not-a-dir");
    writeFileSync(blocker, "");
    const messages: unknown[] = [];
    const server = await connectStdio(blocker, [], home);
    open.push(server);
    server.client.setNotificationHandler("notifications/message", (n) => {
      messages.push(n.params);
    });
    expect(server.client.getServerCapabilities()?.logging).toBeDefined();
    const failed = await call(server.client, "health", {});
    expect(failed.isError).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(messages).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          level: "warning",
          logger: "baton",
          data: expect.stringMatching(/cannot open the store/),
        }),
      ]),
    );
  });

  it("free-form inputs (payload, evidence, result) name the JSON types; batch items point at the single call's fields", async () => {
    const home = tempDir();
    const server = await connectStdio(home);
    open.push(server);
    const { tools } = await server.client.listTools();
    const anyJson = {
      anyOf: ["object", "array", "string", "number", "boolean", "null"].map((type) => ({ type })),
    };
    const enqueue = tools.find((t) => t.name === "enqueue_task")!.inputSchema as any;
    expect(enqueue.properties.payload).toEqual(anyJson);
    expect(enqueue.properties.tasks.items).toEqual({
      type: "object",
      description: "Each item takes the fields of a single call but cwd.",
    });
    const complete = tools.find((t) => t.name === "complete_task")!.inputSchema as any;
    expect(complete.properties.evidence).toEqual({
      description: "What was done: files changed, test output, a summary.",
      ...anyJson,
    });
    expect(complete.properties.result).toEqual(anyJson);
    // Every property of every default tool says what type it takes.
    const untyped: string[] = [];
    const walk = (node: any, path: string) => {
      for (const [name, sub] of Object.entries<any>(node.properties ?? {})) {
        if (sub.type === undefined && sub.anyOf === undefined) untyped.push(`${path}.${name}`);
        walk(sub, `${path}.${name}`);
        if (sub.items !== undefined) walk(sub.items, `${path}.${name}[]`);
      }
    };
    for (const tool of tools) walk(tool.inputSchema, tool.name);
    expect(untyped).toEqual([]);
    // The batch argument is still checked in full.
    const bad = await call(server.client, "enqueue_task", { tasks: [{ name: "x", bogus: 1 }] });
    expect(bad.isError).toBe(true);
  });
});
