/**
 * The MCP server as an agent host sees it: the SDK's own client spawns the built `baton mcp` over
 * stdio and drives it.
 */
import { describe, expect, it } from "vitest";
import { annotationsOf } from "../src/mcp/tools.js";
import { MAX_WAIT_SECONDS, boundWaits } from "../src/ops/wire.js";
import { operations } from "../src/ops/catalogue.js";
import { call, connectStdio, toolError } from "./helpers/mcp.js";
import { tempDir } from "./helpers/tmp.js";

const DEFAULT_TOOLS = [
  "enqueue_task",
  "complete_task",
  "fail_task",
  "resume_session",
  "check_task",
  "list_tasks",
  "audit_log",
  "health",
];

function waitForExit(pid: number): Promise<void> {
  return new Promise((resolve) => {
    const tick = () => {
      try {
        process.kill(pid, 0);
        setTimeout(tick, 20);
      } catch {
        resolve();
      }
    };
    tick();
  });
}

describe("baton mcp over stdio", () => {
  it("survives SIGKILL of the server: 20 enqueued, 12 done, a new server resumes exactly the 8 left", async () => {
    const home = tempDir();
    const project = tempDir("baton-project-");
    const first = await connectStdio(home);
    const files = Array.from({ length: 20 }, (_, i) => `src/file${String(i).padStart(2, "0")}.ts`);
    const enqueued = await call(first.client, "enqueue_task", {
      cwd: project,
      workflow: "refactor",
      tasks: files.map((file) => ({ name: file, payload: { file } })),
    });
    expect(enqueued.isError).toBeFalsy();
    const ids: string[] = enqueued.data.jobs.map((j: { id: string }) => j.id);
    expect(ids).toHaveLength(20);
    expect(enqueued.data.project).toBe(project);

    for (const id of ids.slice(0, 12)) {
      const done = await call(first.client, "complete_task", { id, evidence: { edited: true, id } });
      expect(done.isError).toBeFalsy();
      expect(done.data.completed).toEqual([{ id, state: "succeeded" }]);
    }

    // The host dies hard: no goodbye, no flush.
    const pid = first.transport.pid!;
    process.kill(pid, "SIGKILL");
    await waitForExit(pid);
    await first.close().catch(() => undefined);

    const second = await connectStdio(home);
    try {
      const resumed = await call(second.client, "resume_session", { cwd: project });
      expect(resumed.isError).toBeFalsy();
      expect(resumed.data.remaining).toBe(8);
      const [workflow] = resumed.data.workflows;
      expect(workflow.workflow).toBe("refactor");
      expect(workflow.done).toBe(12);
      expect(workflow.remaining).toBe(8);
      const listed = workflow.tasks.map((line: string) => line.split(" ")[0]);
      expect(listed).toEqual(ids.slice(12));

      const finished = await call(second.client, "complete_task", {
        items: ids.slice(12).map((id) => ({ id, evidence: { edited: true, id } })),
      });
      expect(finished.data.errors).toEqual([]);
      expect(finished.data.completed).toHaveLength(8);

      const again = await call(second.client, "resume_session", { cwd: project });
      expect(again.data.remaining).toBe(0);

      const audit = await call(second.client, "audit_log", { cwd: project, limit: 1000 });
      const completions = (
        audit.data.events as { jobId: string; to?: string; details?: { evidence?: { id: string } } }[]
      ).filter((e) => e.to === "succeeded");
      expect(new Set(completions.map((e) => e.jobId))).toEqual(new Set(ids));
      for (const e of completions) expect(e.details?.evidence).toEqual({ edited: true, id: e.jobId });
    } finally {
      await second.close();
    }
  });

  it("takes batches: many tasks in one enqueue, many completions (shared or per-item evidence) in one call", async () => {
    const home = tempDir();
    const { client, close } = await connectStdio(home);
    try {
      const batch = await call(client, "enqueue_task", {
        cwd: home,
        workflow: "batch",
        tasks: Array.from({ length: 50 }, (_, i) => ({ payload: { n: i } })),
      });
      const ids: string[] = batch.data.jobs.map((j: { id: string }) => j.id);
      expect(ids).toHaveLength(50);

      const shared = await call(client, "complete_task", { ids: ids.slice(0, 20), evidence: "bulk" });
      expect(shared.data.completed).toHaveLength(20);
      const perItem = await call(client, "complete_task", {
        items: ids.slice(20, 30).map((id, i) => ({ id, evidence: { i } })),
      });
      expect(perItem.data.completed).toHaveLength(10);

      // One bad item does not sink the batch: it is reported with its code.
      const mixed = await call(client, "complete_task", {
        ids: [ids[30]!, "01NOSUCHJOB0000000000000000", ids[0]!],
      });
      expect(mixed.isError).toBeFalsy();
      // ids[0] succeeded above: completing it again is "already done" (D60), not an error.
      expect(mixed.data.completed).toEqual([
        { id: ids[30], state: "succeeded" },
        { id: ids[0], state: "succeeded", alreadyDone: true },
      ]);
      expect(mixed.data.errors.map((e: { code: string }) => e.code)).toEqual(["JOB_NOT_FOUND"]);

      const list = await call(client, "list_tasks", {
        cwd: home,
        workflow: "batch",
        state: "live",
        limit: 100,
      });
      expect(list.data.total).toBe(19);
    } finally {
      await close();
    }
  });

  it("answers invalid arguments with an isError result carrying a baton error code", async () => {
    const home = tempDir();
    const { client, close } = await connectStdio(home);
    try {
      const cases: [string, Record<string, unknown>, string][] = [
        ["check_task", {}, "INVALID_INPUT"],
        ["check_task", { id: 42 }, "INVALID_INPUT"],
        ["check_task", { id: "abc", evidnce: "typo" }, "INVALID_INPUT"],
        ["enqueue_task", { tasks: "not a list" }, "INVALID_INPUT"],
        ["enqueue_task", { payload: "x".repeat(2 * 1024 * 1024) }, "PAYLOAD_TOO_LARGE"],
        ["complete_task", {}, "INVALID_INPUT"],
        ["fail_task", { id: "01NOSUCHJOB0000000000000000", error: "boom" }, "JOB_NOT_FOUND"],
        ["resume_session", { since: "not-a-cursor" }, "INVALID_INPUT"],
        ["list_tasks", { state: "exploded" }, "INVALID_INPUT"],
      ];
      for (const [name, args, code] of cases) {
        const result = await call(client, name, args);
        expect(result.isError, `${name} ${JSON.stringify(args).slice(0, 80)}`).toBe(true);
        const error = toolError(result);
        expect(error.code, `${name} ${JSON.stringify(args).slice(0, 80)}`).toBe(code);
        expect(error.message.length).toBeGreaterThan(0);
        expect(error.message.length).toBeLessThanOrEqual(500);
      }
      // The server is fine afterwards.
      expect((await call(client, "health")).data.ok).toBe(true);
    } finally {
      await close();
    }
  });

  it("registers the default tools from the catalogue with honest annotations and output schemas, in ≤ 10,000 characters", async () => {
    const home = tempDir();
    const { client, close } = await connectStdio(home);
    try {
      const listed = await client.listTools();
      expect(listed.tools.map((t) => t.name)).toEqual(DEFAULT_TOOLS);
      expect(operations.filter((op) => op.agent === "default").map((op) => op.name)).toEqual(DEFAULT_TOOLS);
      for (const tool of listed.tools) {
        const op = operations.find((o) => o.name === tool.name)!;
        expect(tool.description).toBe(op.summary);
        expect(tool.annotations).toMatchObject({
          readOnlyHint: op.readOnly,
          destructiveHint: op.destructive,
          idempotentHint: op.idempotent,
        });
        expect(tool.outputSchema?.type).toBe("object");
        expect(tool.inputSchema.type).toBe("object");
      }
      const size = JSON.stringify(listed).length;
      expect(size).toBeLessThanOrEqual(10_000);
      expect(client.getInstructions()).toMatch(/resume_session/);
    } finally {
      await close();
    }
  });

  it("--tools full registers every operation meant for agents, and nothing marked none", async () => {
    const home = tempDir();
    const { client, close } = await connectStdio(home, ["--tools", "full"]);
    try {
      const names = (await client.listTools()).tools.map((t) => t.name);
      const expected = operations.filter((op) => op.agent !== "none").map((op) => op.name);
      expect(names.sort()).toEqual([...expected].sort());
      for (const op of operations.filter((o) => o.agent === "none")) expect(names).not.toContain(op.name);
      for (const tool of (await client.listTools()).tools) {
        const op = operations.find((o) => o.name === tool.name)!;
        expect(tool.annotations?.readOnlyHint).toBe(op.readOnly);
        expect(tool.annotations?.destructiveHint).toBe(op.destructive);
        expect(tool.annotations?.idempotentHint).toBe(op.idempotent);
        // Derived from the operation's effects (test/security.annotations.test.ts): a tool that
        // starts a process says so to the host.
        expect(tool.annotations?.openWorldHint).toBe(annotationsOf(op).openWorldHint);
      }
    } finally {
      await close();
    }
  });

  it("resumes a 100-task workflow in one call within the token budget (chars / 4)", async () => {
    const home = tempDir();
    const { client, close } = await connectStdio(home);
    try {
      await call(client, "enqueue_task", {
        cwd: home,
        workflow: "big",
        tasks: Array.from({ length: 100 }, (_, i) => ({ payload: { file: `src/module${i}.ts` } })),
      });
      for (const budget of [600, 1500]) {
        const resumed = await call(client, "resume_session", {
          cwd: home,
          ...(budget === 600 ? {} : { budget }),
        });
        const tokens = Math.ceil(JSON.stringify(resumed.data).length / 4);
        expect(tokens).toBeLessThanOrEqual(budget);
        expect(resumed.data.remaining).toBe(100);
        const [w] = resumed.data.workflows;
        expect(w.tasks.length + w.more).toBe(100);
        // 1,500 tokens hold the whole 100-task workflow; the default 600 hold its first part and say how many more.
        if (budget === 1500) expect(w.tasks).toHaveLength(100);
        else expect(w.tasks.length).toBeGreaterThan(20);
      }
    } finally {
      await close();
    }
  });

  it("serves baton://jobs/{id}, baton://workflows/{name} and the resume prompt", async () => {
    const home = tempDir();
    const { client, close } = await connectStdio(home);
    try {
      const { data } = await call(client, "enqueue_task", {
        cwd: home,
        workflow: "docs site",
        tasks: [{ payload: 1 }, { payload: 2 }],
      });
      const [a] = data.jobs as { id: string }[];
      await call(client, "complete_task", { id: a!.id, evidence: "done" });

      const templates = (await client.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate);
      expect(templates).toEqual(expect.arrayContaining(["baton://jobs/{id}", "baton://workflows/{name}"]));

      const job = await client.readResource({ uri: `baton://jobs/${a!.id}` });
      const jobBody = JSON.parse((job.contents[0] as { text: string }).text);
      expect(jobBody.job.state).toBe("succeeded");
      expect(jobBody.job.evidence).toBe("done");

      const wf = await client.readResource({ uri: `baton://workflows/${encodeURIComponent("docs site")}` });
      const wfBody = JSON.parse((wf.contents[0] as { text: string }).text);
      expect(wfBody.projects[0]).toMatchObject({ workflow: "docs site", total: 2, done: 1, remaining: 1 });

      await expect(
        client.readResource({ uri: "baton://jobs/01NOSUCHJOB0000000000000000" }),
      ).rejects.toThrow();

      const prompt = await client.getPrompt({ name: "resume", arguments: { cwd: home } });
      const text = (prompt.messages[0]!.content as { text: string }).text;
      expect(text).toContain("docs site: 1 left, 1 done");
      expect(text).toContain("complete_task");
    } finally {
      await close();
    }
  });

  it("serves the 2026-07-28 protocol revision too (a client that negotiates it)", async () => {
    const home = tempDir();
    const { client, close } = await connectStdio(home, [], home, {
      versionNegotiation: { mode: { pin: "2026-07-28" } },
    });
    try {
      expect((await client.listTools()).tools.map((t) => t.name)).toEqual(DEFAULT_TOOLS);
      const enqueued = await call(client, "enqueue_task", { cwd: home, payload: { n: 1 } });
      expect(enqueued.data.jobs).toHaveLength(1);
      const bad = await call(client, "check_task", {});
      expect(bad.isError).toBe(true);
      expect(toolError(bad).code).toBe("INVALID_INPUT");
    } finally {
      await close();
    }
  });

  it("declares no listChanged for tools, resources and prompts: their lists are fixed while it runs", async () => {
    for (const args of [[], ["--tools", "full"]]) {
      const home = tempDir();
      const { client, close } = await connectStdio(home, args);
      try {
        const capabilities = client.getServerCapabilities()!;
        for (const list of ["tools", "resources", "prompts"] as const) {
          expect(capabilities[list], list).toBeDefined();
          expect(capabilities[list]?.listChanged ?? false, list).toBe(false);
        }
      } finally {
        await close();
      }
    }
  });

  it("never lets a wait-style call block past 45 s: timeoutSeconds is capped", () => {
    expect(MAX_WAIT_SECONDS).toBe(45);
    expect(boundWaits({ id: "x", timeoutSeconds: 3600 })).toEqual({ id: "x", timeoutSeconds: 45 });
    expect(boundWaits({ id: "x", timeoutSeconds: 10 })).toEqual({ id: "x", timeoutSeconds: 10 });
    expect(boundWaits({ id: "x" })).toEqual({ id: "x" });
    expect(boundWaits(undefined)).toEqual({});
    const wait = operations.find((op) => op.name === "wait_job");
    if (wait !== undefined) expect(wait.input.safeParse({ id: "x", timeoutSeconds: 45 }).success).toBe(true);
  });
});
