/**
 * A `baton mcp` server ends promptly when its host quits, even in the middle of a long poll
 * (`wait_job`, `tasks/result`): SIGTERM, SIGINT and the end of stdin (stdio), SIGTERM (HTTP) stop
 * the waits, close the store and exit within a bounded time, with the signal's exit code. Before,
 * the wait reconnected to the daemon after the store closed and the process lived on (PPID 1).
 */
import type { ChildProcess } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import type { Connected, HttpServer } from "./helpers/mcp.js";
import { call, connectHttp, connectStdio, startHttp } from "./helpers/mcp.js";
import type { Home } from "./helpers/supervisor.js";
import { cli, newHome } from "./helpers/supervisor.js";
import { tempDir } from "./helpers/tmp.js";

/** How long a server may take to exit once told to (the brief: about 3 s; the server aims at 2). */
const EXIT_WITHIN_MS = 3000;

const children: ChildProcess[] = [];
/** The `sleep 30` jobs the servers waited on, stopped after the test. */
const sleeping: { home: Home; id: string }[] = [];
afterEach(() => {
  // A server that did not exit is a failed test already: do not leave it behind.
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  for (const { home, id } of sleeping.splice(0)) cli(home, ["stop", id]);
});

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
}

/** The exit of `child` after `stop()`, and how long it took; gives up after 10 s (then it lives on). */
async function timeExit(
  child: ChildProcess,
  stop: () => void,
): Promise<{ ms: number; code: number | null; signal: NodeJS.Signals | null }> {
  const exit = exited(child);
  const started = Date.now();
  stop();
  const outcome = await Promise.race([
    exit,
    new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 10_000)),
  ]);
  return { ms: Date.now() - started, code: outcome?.code ?? null, signal: outcome?.signal ?? null };
}

/** The server's child process (the SDK's stdio transport keeps it private). */
function processOf(server: Connected): ChildProcess {
  const child = (server.transport as unknown as { _process?: ChildProcess })._process;
  if (child === undefined) throw new Error("the stdio transport has no process");
  children.push(child);
  return child;
}

/** A stdio server with `sleep 30` running under it, and `wait_job` on it pending. */
async function waitingStdio(): Promise<{
  server: Connected;
  child: ChildProcess;
  waiting: Promise<unknown>;
}> {
  const home = newHome();
  const project = tempDir("baton-project-");
  const server = await connectStdio(home.dir, ["--tools", "full"], project);
  const child = processOf(server);
  const started = await call(server.client, "run_command", { argv: ["sleep", "30"], cwd: project });
  expect(started.isError, JSON.stringify(started.content)).toBeFalsy();
  sleeping.push({ home, id: started.data.id });
  const waiting = call(server.client, "wait_job", { id: started.data.id, timeoutSeconds: 5 }).catch(
    (error: unknown) => error,
  );
  // The call is in the daemon's long poll by now.
  await new Promise((resolve) => setTimeout(resolve, 700));
  return { server, child, waiting };
}

describe("baton mcp ends promptly in the middle of a long poll", () => {
  it("stdio, SIGTERM during wait_job: exits within 3 s with 143 (128 + 15)", async () => {
    const { child } = await waitingStdio();
    const exit = await timeExit(child, () => child.kill("SIGTERM"));
    expect(exit.ms).toBeLessThan(EXIT_WITHIN_MS);
    expect(exit.code).toBe(143);
  }, 60_000);

  it("stdio, SIGINT during wait_job: exits within 3 s with 130 (128 + 2)", async () => {
    const { child } = await waitingStdio();
    const exit = await timeExit(child, () => child.kill("SIGINT"));
    expect(exit.ms).toBeLessThan(EXIT_WITHIN_MS);
    expect(exit.code).toBe(130);
  }, 60_000);

  it("stdio, stdin closed during wait_job: exits within 3 s with 0 (nobody is left to answer)", async () => {
    const { child } = await waitingStdio();
    const exit = await timeExit(child, () => child.stdin!.end());
    expect(exit.ms).toBeLessThan(EXIT_WITHIN_MS);
    expect(exit.code).toBe(0);
  }, 60_000);

  it("stdio, SIGTERM during tasks/result (2025-11-25 task): exits within 3 s with 143", async () => {
    const home = newHome();
    const project = tempDir("baton-project-");
    const server = await connectStdio(home.dir, ["--tools", "full"], project, {
      capabilities: { tasks: { requests: { tools: { call: {} } }, list: {}, cancel: {} } },
    });
    const child = processOf(server);
    const ask = (method: string, params: Record<string, unknown>) =>
      (server.client as unknown as { request: (r: unknown, s: unknown) => Promise<any> }).request(
        { method, params },
        { "~standard": { version: 1, vendor: "test", validate: (value: unknown) => ({ value }) } },
      );
    const created = await ask("tools/call", {
      name: "run_command",
      arguments: { argv: ["sleep", "30"], cwd: project },
      task: {},
    });
    sleeping.push({ home, id: created.task.taskId });
    void ask("tasks/result", { taskId: created.task.taskId }).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 700));
    const exit = await timeExit(child, () => child.kill("SIGTERM"));
    expect(exit.ms).toBeLessThan(EXIT_WITHIN_MS);
    expect(exit.code).toBe(143);
  }, 60_000);

  it("HTTP, SIGTERM during wait_job: exits within 3 s with 143", async () => {
    const home = newHome();
    const project = tempDir("baton-project-");
    const http: HttpServer = await startHttp(home.dir, ["--tools", "full"], project);
    children.push(http.child);
    const client = await connectHttp(http);
    const started = await call(client, "run_command", { argv: ["sleep", "30"], cwd: project });
    expect(started.isError, JSON.stringify(started.content)).toBeFalsy();
    sleeping.push({ home, id: started.data.id });
    void call(client, "wait_job", { id: started.data.id, timeoutSeconds: 5 }).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 700));
    const exit = await timeExit(http.child, () => http.child.kill("SIGTERM"));
    expect(exit.ms).toBeLessThan(EXIT_WITHIN_MS);
    expect(exit.code).toBe(143);
    await client.close().catch(() => undefined);
  }, 60_000);
});
