/**
 * MCP tasks kept in the ledger (D101), as the SDK's own client sees `baton mcp --tools full` over
 * stdio: a client that asks for a task gets one for `run_command`, follows it with `tasks/get`, and
 * after the server process is SIGKILLed a new server answers `tasks/get` and `tasks/result` for the
 * same task id from the ledger; `tasks/cancel` stops the job. Both protocol eras: 2025-11-25
 * (`params.task`, `tasks/result`, `tasks/list`) and 2026-07-28 (the `io.modelcontextprotocol/tasks`
 * extension). A client that does not ask gets today's plain answer.
 */
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { createTaskSessionFromClient, resultFromTaskOutcome } from "@modelcontextprotocol/ext-tasks/client";
import { call, connectStdio, startHttp } from "./helpers/mcp.js";
import type { Connected } from "./helpers/mcp.js";
import { cli, newHome } from "./helpers/supervisor.js";
import { project as taskProject } from "./helpers/tasks.js";
import { tempDir } from "./helpers/tmp.js";

const EXTENSION = "io.modelcontextprotocol/tasks";
const RELATED = "io.modelcontextprotocol/related-task";
const Loose = z.looseObject({});
type Loose = Record<string, any>;

const open: Connected[] = [];
const servers: ChildProcessWithoutNullStreams[] = [];
afterEach(async () => {
  while (open.length > 0)
    await open
      .pop()!
      .close()
      .catch(() => undefined);
  for (const child of servers.splice(0)) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
  }
});

/** `baton mcp --http --tools full` on a free port, and the SDK client on it with the home's token. */
async function connectHttp(
  home: string,
  project: string,
  modern = false,
): Promise<{ client: Client; child: ChildProcessWithoutNullStreams }> {
  const server = await startHttp(home, ["--tools", "full"], project);
  servers.push(server.child);
  const client = new Client(
    { name: "baton-test", version: "1.0.0" },
    modern
      ? {
          capabilities: { extensions: { [EXTENSION]: {} } },
          versionNegotiation: { mode: { pin: "2026-07-28" } },
        }
      : { capabilities: { tasks: { requests: { tools: { call: {} } }, list: {}, cancel: {} } } },
  );
  await client.connect(
    new StreamableHTTPClientTransport(server.url, {
      requestInit: { headers: { authorization: `Bearer ${server.token}` } },
    }),
  );
  return { client, child: server.child };
}

async function connect(home: string, project: string, modern = false): Promise<Connected> {
  const server = await connectStdio(home, ["--tools", "full"], project, {
    capabilities: modern
      ? { extensions: { [EXTENSION]: {} } }
      : { tasks: { requests: { tools: { call: {} } }, list: {}, cancel: {} } },
    ...(modern ? { versionNegotiation: { mode: { pin: "2026-07-28" } } } : {}),
  });
  open.push(server);
  return server;
}

/** A 2026-07-28 client that does not declare the tasks extension. */
async function connectWithoutExtension(home: string, project: string): Promise<Connected> {
  const server = await connectStdio(home, ["--tools", "full"], project, {
    versionNegotiation: { mode: { pin: "2026-07-28" } },
  });
  open.push(server);
  return server;
}

/** A request through the SDK client (2025-11-25: it takes the task vocabulary with a loose schema). */
function request(client: Client, method: string, params: Record<string, unknown>): Promise<Loose> {
  return (client as unknown as { request: (r: unknown, s: unknown) => Promise<Loose> }).request(
    { method, params },
    Loose,
  );
}

let rawIds = 0;
/**
 * A 2026-07-28 request written on the SDK client's own transport, with the per-request envelope
 * declaring the tasks extension: the SDK client (2.4.0) refuses a `resultType: "task"` answer
 * itself (the extension's client needs a raw dispatch), so the answer is read off the transport.
 */
function raw(
  server: { transport: unknown },
  method: string,
  params: Record<string, unknown>,
): Promise<Loose> {
  const id = `raw-${++rawIds}`;
  const transport = server.transport as {
    onmessage?: (m: Loose, extra?: unknown) => void;
    send: (m: unknown) => Promise<void>;
  };
  return new Promise((resolve, reject) => {
    const previous = transport.onmessage!;
    transport.onmessage = (message, extra) => {
      if (message.id !== id) return previous(message, extra);
      transport.onmessage = previous;
      if (message.error !== undefined) reject(new Error(message.error.message));
      else resolve(message.result);
    };
    transport
      .send({
        jsonrpc: "2.0",
        id,
        method,
        params: {
          ...params,
          _meta: {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientInfo": { name: "baton-test", version: "1.0.0" },
            "io.modelcontextprotocol/clientCapabilities": { extensions: { [EXTENSION]: {} } },
          },
        },
      })
      .catch(reject);
  });
}

type Ask = (method: string, params: Record<string, unknown>) => Promise<Loose>;

async function until(ask: Ask, taskId: string, done: (task: Loose) => boolean): Promise<Loose> {
  for (;;) {
    const task = await ask("tasks/get", { taskId });
    if (done(task)) return task;
    await new Promise((r) => setTimeout(r, 200));
  }
}

function killHard(server: Connected): Promise<void> {
  const pid = server.transport.pid!;
  process.kill(pid, "SIGKILL");
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

describe("baton mcp: durable tasks", () => {
  it("2025-11-25: run_command as a task outlives the server process; tasks/get and tasks/result answer from the ledger", async () => {
    const home = newHome();
    const project = tempDir("baton-project-");
    const first = await connect(home.dir, project);
    expect(first.client.getServerCapabilities()?.tasks).toEqual({
      list: {},
      cancel: {},
      requests: { tools: { call: {} } },
    });
    const tools = (await first.client.listTools()).tools;
    const run = tools.find((t) => t.name === "run_command") as Loose;
    expect(run.execution).toEqual({ taskSupport: "optional" });
    expect((tools.find((t) => t.name === "job_status") as Loose).execution).toBeUndefined();

    const created = await request(first.client, "tools/call", {
      name: "run_command",
      arguments: { argv: ["sh", "-c", "echo one; sleep 2; echo two"], cwd: project },
      task: {},
    });
    const task = created.task as Loose;
    expect(task.status).toBe("working");
    expect(task.ttl).toBeNull();
    expect(task.pollInterval).toBe(1000);
    expect(task.taskId).toMatch(/^[0-9A-Z]{26}$/);
    const taskId = task.taskId as string;
    // The task is the job: the ordinary tools see it by the same id.
    const status = await call(first.client, "job_status", { id: taskId });
    expect(status.data.job.id).toBe(taskId);

    await killHard(first);
    const second = await connect(home.dir, project);
    const done = await until(
      (m, p) => request(second.client, m, p),
      taskId,
      (t) => t.status !== "working",
    );
    expect(done.taskId).toBe(taskId);
    expect(done.status).toBe("completed");
    expect(done.statusMessage).toBe("finished: succeeded (exit 0)");

    const result = await request(second.client, "tasks/result", { taskId });
    expect(result.isError).toBeUndefined();
    expect(result._meta[RELATED]).toEqual({ taskId });
    expect(result.structuredContent).toMatchObject({
      id: taskId,
      finished: true,
      state: "succeeded",
      exitCode: 0,
    });
    expect(result.structuredContent.log).toBe("one\ntwo\n");
    expect(JSON.parse(result.content[0].text)).toEqual(result.structuredContent);

    const listed = await request(second.client, "tasks/list", {});
    expect(listed.tasks.map((t: Loose) => t.taskId)).toContain(taskId);

    // A task id that is no job (or a job baton does not run) is the protocol's invalid params.
    await expect(
      request(second.client, "tasks/get", { taskId: "01NOSUCHTASK00000000000000" }),
    ).rejects.toThrow(/no task/);
    const checkpoint = await call(second.client, "enqueue_task", { cwd: project, name: "a checkpoint" });
    await expect(request(second.client, "tasks/get", { taskId: checkpoint.data.jobs[0].id })).rejects.toThrow(
      /no task/,
    );
  }, 60_000);

  it("the extension's own client (@modelcontextprotocol/ext-tasks, 2025-11-25 generation) runs run_command as a task to its result", async () => {
    const home = newHome();
    const project = tempDir("baton-project-");
    const server = await connect(home.dir, project);
    const session = createTaskSessionFromClient(server.client as any, { endpointId: "baton" } as any);
    try {
      const execution: any = await session.callTool(
        "run_command",
        { argv: ["sh", "-c", "sleep 1; echo from-ext-tasks"], cwd: project },
        { task: { preference: "prefer" } } as any,
      );
      expect(execution.kind).toBe("task");
      const settled: any = await execution.settle();
      expect(settled.outcome.status).toBe("completed");
      const result: any = resultFromTaskOutcome(settled.outcome);
      expect(result.structuredContent).toMatchObject({
        id: execution.handle.taskId,
        state: "succeeded",
        log: "from-ext-tasks\n",
      });
    } finally {
      await session.close();
    }
  }, 60_000);

  it("over Streamable HTTP: a task started on one server is answered by the next after SIGKILL", async () => {
    const home = newHome();
    const project = tempDir("baton-project-");
    const first = await connectHttp(home.dir, project);
    const created = await request(first.client, "tools/call", {
      name: "run_command",
      arguments: { argv: ["sh", "-c", "sleep 1; echo over-http"], cwd: project },
      task: {},
    });
    const taskId = created.task.taskId as string;
    expect(created.task.status).toBe("working");
    first.child.kill("SIGKILL");
    await new Promise((resolve) => first.child.once("exit", resolve));
    await first.client.close().catch(() => undefined);

    const second = await connectHttp(home.dir, project);
    try {
      const done = await until(
        (m, p) => request(second.client, m, p),
        taskId,
        (t) => t.status !== "working",
      );
      expect(done.status).toBe("completed");
      const result = await request(second.client, "tasks/result", { taskId });
      expect(result.structuredContent).toMatchObject({ id: taskId, state: "succeeded", log: "over-http\n" });
    } finally {
      await second.client.close();
    }
  }, 60_000);

  it("2025-11-25: tasks/result blocks until the job ends; a failing command is a failed task with its exit code", async () => {
    const home = newHome();
    const project = tempDir("baton-project-");
    const server = await connect(home.dir, project);
    const created = await request(server.client, "tools/call", {
      name: "run_command",
      arguments: { argv: ["sh", "-c", "sleep 1; echo bad >&2; exit 3"], cwd: project },
      task: { ttl: 60_000 },
    });
    const taskId = created.task.taskId as string;
    const result = await request(server.client, "tasks/result", { taskId });
    expect(result.isError).toBe(true);
    expect(result.structuredContent).toMatchObject({ state: "failed", exitCode: 3 });
    const task = await request(server.client, "tasks/get", { taskId });
    expect(task.status).toBe("failed");
    expect(task.statusMessage).toBe("finished: failed (exit 3)");
  }, 60_000);

  it("2025-11-25: tasks/list describes a task as tasks/get does (status and statusMessage)", async () => {
    const home = newHome();
    const project = tempDir("baton-project-");
    const server = await connect(home.dir, project);
    // Two tasks: the listing reads their exit codes together, each must stay with its own task.
    const got = new Map<string, Loose>();
    for (const code of [5, 7]) {
      const created = await request(server.client, "tools/call", {
        name: "run_command",
        arguments: { argv: ["sh", "-c", `exit ${code}`], cwd: project },
        task: {},
      });
      const taskId = created.task.taskId as string;
      const view = await until(
        (m, p) => request(server.client, m, p),
        taskId,
        (t) => t.status !== "working",
      );
      expect(view).toMatchObject({ status: "failed", statusMessage: `finished: failed (exit ${code})` });
      got.set(taskId, view);
    }
    const listed = (await request(server.client, "tasks/list", {})).tasks as Loose[];
    for (const [taskId, view] of got) {
      const entry = listed.find((t) => t.taskId === taskId);
      expect({ status: entry?.status, statusMessage: entry?.statusMessage }).toEqual({
        status: view.status,
        statusMessage: view.statusMessage,
      });
    }
  }, 60_000);

  it("2026-07-28: tasks/cancel of an ended task speaks that era's statuses (a failed command is a completed task)", async () => {
    const home = newHome();
    const project = tempDir("baton-project-");
    const server = await connect(home.dir, project, true);
    const created = await raw(server, "tools/call", {
      name: "run_command",
      arguments: { argv: ["sh", "-c", "exit 5"], cwd: project },
    });
    const taskId = created.taskId as string;
    const done = await until(
      (m, p) => raw(server, m, p),
      taskId,
      (t) => t.status !== "working",
    );
    expect(done.status).toBe("completed");
    expect(done.result.isError).toBe(true);
    const refused = await raw(server, "tasks/cancel", { taskId }).then(
      () => "",
      (error: Error) => error.message,
    );
    expect(refused).toContain("already ended (completed; finished: failed (exit 5))");
    expect(refused).not.toContain("(failed");
  }, 60_000);

  it("tasks/cancel stops the job, after a restart too; a second cancel is refused", async () => {
    const home = newHome();
    const project = tempDir("baton-project-");
    const first = await connect(home.dir, project);
    const created = await request(first.client, "tools/call", {
      name: "run_command",
      arguments: { argv: ["sleep", "60"], cwd: project },
      task: {},
    });
    const taskId = created.task.taskId as string;
    await until(
      (m, p) => request(first.client, m, p),
      taskId,
      (t) => t.statusMessage === "running",
    );
    await killHard(first);

    const second = await connect(home.dir, project);
    const cancelled = await request(second.client, "tasks/cancel", { taskId });
    expect(cancelled.taskId).toBe(taskId);
    expect(cancelled.status).toBe("cancelled");
    const status = await call(second.client, "job_status", { id: taskId });
    expect(status.data.job.state).toBe("cancelled");
    await expect(request(second.client, "tasks/cancel", { taskId })).rejects.toThrow(/already ended/);
  }, 60_000);

  it("2025-11-25: the session is sent notifications/tasks/status as its task's job goes queued → running → succeeded; a queued task says why it waits", async () => {
    const home = newHome({ BATON_MAX_RUNNING: "1" });
    const project = tempDir("baton-project-");
    expect(cli(home, ["daemon", "start"]).code).toBe(0);
    const server = await connect(home.dir, project);
    const notes: Loose[] = [];
    server.client.fallbackNotificationHandler = async (n) => {
      if (n.method === "notifications/tasks/status") notes.push(n.params as Loose);
    };
    // The daemon's one run slot is taken, so the task's job waits in the queue.
    const blocker = await call(server.client, "run_command", { argv: ["sleep", "2"], cwd: project });
    await until(
      (_m, p) =>
        call(server.client, "job_status", { id: p.taskId }).then((r) => ({ state: r.data.job.state })),
      blocker.data.id,
      (j) => j.state === "running",
    );
    const created = await request(server.client, "tools/call", {
      name: "run_command",
      arguments: { argv: ["sh", "-c", "echo started; sleep 1; echo ended"], cwd: project },
      task: {},
    });
    const taskId = created.task.taskId as string;
    expect(created.task.status).toBe("working");
    expect(created.task.statusMessage).toMatch(/^queued: waiting for a run slot: 1 of at most 1 /);
    const queued = await request(server.client, "tasks/get", { taskId });
    expect((await call(server.client, "job_status", { id: taskId })).data.job.state).toBe("queued");
    expect(queued.statusMessage).toMatch(/^queued: /);

    const deadline = Date.now() + 30_000;
    while (notes.at(-1)?.status !== "completed" && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    expect(notes.every((n) => n.taskId === taskId)).toBe(true);
    expect(notes.map((n) => n.status)).toEqual(["working", "completed"]);
    expect(notes[0]!.statusMessage).toMatch(/^running/);
    const last = notes[1]!;
    expect(last.statusMessage).toBe("finished: succeeded (exit 0)");
    // The same shape as tasks/get.
    expect(last).toEqual(await request(server.client, "tasks/get", { taskId }));
    expect(Date.parse(last.lastUpdatedAt)).toBeGreaterThan(Date.parse(created.task.lastUpdatedAt));
    await call(server.client, "wait_job", { id: blocker.data.id, timeoutSeconds: 30 });
  }, 60_000);

  it("2025-11-25: a call that starts no job (a refused one) is a task that has already ended", async () => {
    const home = newHome();
    const project = tempDir("baton-project-");
    const server = await connect(home.dir, project);
    const created = await request(server.client, "tools/call", {
      name: "run_command",
      arguments: { argv: [], cwd: project },
      task: {},
    });
    expect(created.task.status).toBe("failed");
    const result = await request(server.client, "tasks/result", { taskId: created.task.taskId });
    expect(result.isError).toBe(true);
    expect(JSON.parse(result.content[0].text).error.code).toBe("INVALID_INPUT");
  }, 30_000);

  it("2025-11-25: run_task as a task is the task:<name> run; a dry run that only previews has already ended", async () => {
    const home = newHome();
    const dir = taskProject(
      ["tasks:", "  hello:", "    command: ['sh', '-c', 'sleep 1; echo hello-task']"].join("\n"),
    );
    const server = await connect(home.dir, dir);
    const created = await request(server.client, "tools/call", {
      name: "run_task",
      arguments: { task: "hello", cwd: dir },
      task: {},
    });
    const taskId = created.task.taskId as string;
    expect(taskId).toMatch(/^[0-9A-Z]{26}$/);
    const result = await request(server.client, "tasks/result", { taskId });
    expect(result.structuredContent).toMatchObject({ id: taskId, state: "succeeded", log: "hello-task\n" });
    expect((await call(server.client, "job_status", { id: taskId })).data.job.type).toBe("task:hello");

    const preview = await request(server.client, "tools/call", {
      name: "run_task",
      arguments: { task: "hello", cwd: dir, dryRun: true },
      task: {},
    });
    expect(preview.task.taskId).toMatch(/^answer-/);
    expect(preview.task.status).toBe("completed");
    const previewed = await request(server.client, "tasks/result", { taskId: preview.task.taskId });
    expect(previewed.structuredContent).toMatchObject({ task: "hello", dryRun: true });
    expect(previewed.structuredContent.preview.argv).toEqual(["sh", "-c", "sleep 1; echo hello-task"]);
  }, 60_000);

  it("a client that does not ask for a task gets today's answer", async () => {
    const home = newHome();
    const project = tempDir("baton-project-");
    const server = await connect(home.dir, project);
    const plain = await call(server.client, "run_command", { argv: ["true"], cwd: project });
    expect(plain.isError).toBeFalsy();
    expect(plain.data.id).toMatch(/^[0-9A-Z]{26}$/);
    expect((plain as Loose).task).toBeUndefined();
    await call(server.client, "wait_job", { id: plain.data.id, timeoutSeconds: 30 });
  }, 30_000);

  it("2026-07-28: the tasks extension; after SIGKILL a new server's tasks/get carries the result", async () => {
    const home = newHome();
    const project = tempDir("baton-project-");
    const first = await connect(home.dir, project, true);
    const created = await raw(first, "tools/call", {
      name: "run_command",
      arguments: { argv: ["sh", "-c", "sleep 1; echo done"], cwd: project },
    });
    expect(created.resultType).toBe("task");
    expect(created.status).toBe("working");
    expect(created.ttlMs).toBeNull();
    expect(created.pollIntervalMs).toBe(1000);
    const taskId = created.taskId as string;
    await killHard(first);

    const second = await connect(home.dir, project, true);
    const done = await until(
      (m, p) => raw(second, m, p),
      taskId,
      (t) => t.status !== "working",
    );
    expect(done.status).toBe("completed");
    expect(done.result.structuredContent).toMatchObject({ id: taskId, state: "succeeded", exitCode: 0 });
    // 2026-07-28 has no tasks/result or tasks/list: the result rides on tasks/get.
    await expect(raw(second, "tasks/result", { taskId })).rejects.toThrow();

    const sleeper = await raw(second, "tools/call", {
      name: "run_command",
      arguments: { argv: ["sleep", "60"], cwd: project },
    });
    await until(
      (m, p) => raw(second, m, p),
      sleeper.taskId,
      (t) => t.statusMessage === "running",
    );
    const cancelled = await raw(second, "tasks/cancel", { taskId: sleeper.taskId });
    expect(cancelled.resultType).toBe("complete");
    expect((await raw(second, "tasks/get", { taskId: sleeper.taskId })).status).toBe("cancelled");
  }, 60_000);

  it("2026-07-28: subscriptions/listen with taskIds gets notifications/tasks from a new server process, queued → running → completed, then a graceful close", async () => {
    const home = newHome({ BATON_MAX_RUNNING: "1" });
    const project = tempDir("baton-project-");
    expect(cli(home, ["daemon", "start"]).code).toBe(0);
    const first = await connect(home.dir, project, true);
    // The daemon's one run slot is taken, so the task's job waits in the queue.
    const blocker = (
      await raw(first, "tools/call", {
        name: "run_command",
        arguments: { argv: ["sleep", "60"], cwd: project },
      })
    ).taskId as string;
    await until(
      (_m, p) =>
        call(first.client, "job_status", { id: p.taskId }).then((r) => ({ state: r.data.job.state })),
      blocker,
      (j) => j.state === "running",
    );
    const created = await raw(first, "tools/call", {
      name: "run_command",
      arguments: { argv: ["sh", "-c", "echo started; sleep 1; echo ended"], cwd: project },
    });
    const taskId = created.taskId as string;
    expect(created.statusMessage).toMatch(/^queued: /);
    await killHard(first);

    // A new server process: the subscription follows the task from the ledger.
    const second = await connect(home.dir, project, true);
    const notes: Loose[] = [];
    second.client.fallbackNotificationHandler = async (n) => {
      if (n.method === "notifications/tasks") notes.push(n.params as Loose);
    };
    const acks: Loose[] = [];
    const transport = second.transport as unknown as { onmessage: (m: Loose, e?: unknown) => void };
    const previous = transport.onmessage;
    transport.onmessage = (m, e) => {
      if (m.method === "notifications/subscriptions/acknowledged") acks.push(m.params);
      previous(m, e);
    };
    const subscription = await second.client.listen({
      taskIds: [taskId, "01NOSUCHTASK00000000000000"],
    } as any);
    expect(acks[0]!.notifications).toEqual({ taskIds: [taskId] });
    // Now free the run slot: the task's job starts and ends while the subscription is open.
    await call(second.client, "stop_job", { id: blocker });
    expect(await subscription.closed).toBe("graceful");

    expect(notes.every((n) => n.taskId === taskId)).toBe(true);
    expect(notes.map((n) => n.status)).toEqual(["working", "working", "completed"]);
    expect(notes[0]!.statusMessage).toMatch(/^queued: /);
    expect(notes[1]!.statusMessage).toMatch(/^running/);
    const last = notes[2]!;
    expect(last.result.structuredContent).toMatchObject({
      id: taskId,
      state: "succeeded",
      log: "started\nended\n",
    });
    // The same task as tasks/get shows it.
    const { _meta: stamp, ...task } = last;
    expect(stamp["io.modelcontextprotocol/subscriptionId"]).toBeDefined();
    const { resultType: _complete, _meta: _server, ...got } = await raw(second, "tasks/get", { taskId });
    expect(task).toEqual(got);

    // A task that has ended already: its final state at once, then the close.
    notes.length = 0;
    const again = await second.client.listen({ taskIds: [taskId] } as any);
    expect(await again.closed).toBe("graceful");
    expect(notes.map((n) => n.status)).toEqual(["completed"]);
  }, 60_000);

  it("2026-07-28 over Streamable HTTP: subscriptions/listen with taskIds streams the task's notifications/tasks to its end", async () => {
    const home = newHome();
    const project = tempDir("baton-project-");
    const { client } = await connectHttp(home.dir, project, true);
    try {
      const http = { transport: (client as unknown as { transport: unknown }).transport };
      const created = await raw(http, "tools/call", {
        name: "run_command",
        arguments: { argv: ["sh", "-c", "sleep 1; echo over-http"], cwd: project },
      });
      expect(created.resultType).toBe("task");
      const notes: Loose[] = [];
      client.fallbackNotificationHandler = async (n) => {
        if (n.method === "notifications/tasks") notes.push(n.params as Loose);
      };
      const subscription = await client.listen({ taskIds: [created.taskId] } as any);
      expect(await subscription.closed).toBe("graceful");
      expect(notes.at(-1)).toMatchObject({ taskId: created.taskId, status: "completed" });
      expect(notes.at(-1)!.result.structuredContent).toMatchObject({
        state: "succeeded",
        log: "over-http\n",
      });
      expect(notes.slice(0, -1).every((n) => n.status === "working")).toBe(true);
    } finally {
      await client.close();
    }
  }, 60_000);

  it("2026-07-28: subscriptions/listen for tasks without the extension declared is -32021 (missing required client capability)", async () => {
    const home = newHome();
    const project = tempDir("baton-project-");
    const server = await connectWithoutExtension(home.dir, project);
    const refused = await server.client.listen({ taskIds: ["01NOSUCHTASK00000000000000"] } as any).then(
      () => undefined,
      (error: Loose) => error,
    );
    expect(refused?.code).toBe(-32021);
    expect(refused?.data).toEqual({ requiredCapabilities: { extensions: { [EXTENSION]: {} } } });
  }, 30_000);

  it("2026-07-28: without the extension the answer comes at once", async () => {
    const home = newHome();
    const project = tempDir("baton-project-");
    const server = await connectWithoutExtension(home.dir, project);
    const plain = await call(server.client, "run_command", { argv: ["true"], cwd: project });
    expect(plain.data.id).toMatch(/^[0-9A-Z]{26}$/);
    await call(server.client, "wait_job", { id: plain.data.id, timeoutSeconds: 30 });
  }, 30_000);
});
