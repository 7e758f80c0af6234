/**
 * `baton mcp`: the operation catalogue served to AI agents over the Model Context Protocol.
 *
 * stdio by default (stdout carries nothing but protocol frames; logs go to stderr), Streamable HTTP
 * on 127.0.0.1 with `--http`. The engine is opened once per server process; every MCP instance the
 * SDK asks for (one per stdio connection, one per legacy HTTP request) shares it.
 */
import { Console } from "node:console";
import { constants as osConstants } from "node:os";
import { McpServer, ProtocolError, ProtocolErrorCode } from "@modelcontextprotocol/server";
import { serveStdio } from "@modelcontextprotocol/server/stdio";
import { operations } from "../ops/catalogue.js";
import type { OpContext } from "../ops/operation.js";
import { LocalCommandHost } from "../ops/local-host.js";
import { openEngine } from "../open.js";
import { Warnings } from "./follow.js";
import { mcpHttpHandler, requestedToolSet } from "./http.js";
import { registerResources } from "./resources.js";
import { LineTransport } from "./stdio.js";
import type { ContextSource, ToolSet } from "./tools.js";
import { registerOperationTools, toolOperations } from "./tools.js";
import { TaskListenTransport } from "./task-listen.js";
import { TASK_CAPABILITIES, registerTasks, taskOperations } from "./tasks.js";

export const SERVER_NAME = "baton";

/** What the host shows the model once, at initialize: how to use baton well, in a few lines. */
export const SERVER_INSTRUCTIONS = [
  "baton is a durable work ledger that survives crashed or restarted chats.",
  "At the start of a chat call resume_session (pass cwd) and continue what it lists.",
  "Before multi-step work, enqueue_task one task per unit (e.g. per file, `tasks` for a batch, same workflow);",
  "after each, complete_task with evidence of what changed, or fail_task.",
].join(" ");

/**
 * The tools, resources and prompts a server offers are fixed when it starts (the catalogue and the
 * tool set): no `list_changed` notification is ever sent, so none is declared. The SDK declares
 * `listChanged: true` unless told otherwise.
 */
const LISTS_NEVER_CHANGE = {
  tools: { listChanged: false },
  resources: { listChanged: false },
  prompts: { listChanged: false },
} as const;

export interface McpServerOptions {
  tools: ToolSet;
  version: string;
  /** Only the operations that do not change the ledger (the read-only dashboard token's `/mcp`). */
  readOnly?: boolean;
  /** The process's warnings, sent to clients as MCP log messages. */
  warnings?: Warnings;
}

/** One MCP server instance over the catalogue. `ctx` supplies the shared engine context. */
export function createMcpServer(ctx: ContextSource, options: McpServerOptions): McpServer {
  const exposed = options.readOnly === true ? operations.filter((op) => op.readOnly) : operations;
  // Tasks (D101) only where a tool that starts long work is offered (`--tools full`, not read-only).
  const tools = toolOperations(exposed, options.tools);
  const taskOps = taskOperations(tools);
  const server = new McpServer(
    { name: SERVER_NAME, title: "baton", version: options.version },
    {
      instructions: SERVER_INSTRUCTIONS,
      capabilities: {
        logging: {},
        completions: {},
        ...LISTS_NEVER_CHANGE,
        ...(taskOps.length > 0 ? TASK_CAPABILITIES : {}),
      },
    },
  );
  options.warnings?.attach(server);
  registerOperationTools(server, exposed, options.tools, ctx);
  if (taskOps.length > 0) registerTasks(server, taskOps, ctx);
  registerResources(server, ctx, new Set(tools.map((op) => op.name)));
  if (options.readOnly === true) {
    explainReadOnly(
      server,
      new Set(toolOperations(operations, "full").flatMap((op) => (op.readOnly ? [] : [op.name]))),
    );
  }
  return server;
}

type RequestHandler = (request: unknown, ctx: unknown) => Promise<unknown>;

/**
 * A call, with the read-only token, of a tool the full token has keeps the protocol's answer
 * (-32602, as for any tool not offered) but says why: the SDK's own message is "Tool X not found".
 * The SDK has no hook for it, so its stored `tools/call` handler is wrapped, when it is kept where
 * this SDK keeps it (otherwise its own message stands).
 */
function explainReadOnly(server: McpServer, fullOnly: ReadonlySet<string>): void {
  const handlers = (server.server as unknown as { _requestHandlers?: Map<string, RequestHandler> })
    ._requestHandlers;
  const inner = handlers?.get("tools/call");
  if (handlers === undefined || inner === undefined) return;
  handlers.set("tools/call", async (request, ctx) => {
    const name = (request as { params?: { name?: unknown } }).params?.name;
    if (typeof name === "string" && fullOnly.has(name)) {
      throw new ProtocolError(
        ProtocolErrorCode.InvalidParams,
        `Tool ${name} is not available with this token: it is the read-only token, and ${name} changes the ledger (connect with the full token: baton token show)`,
      );
    }
    return inner(request, ctx);
  });
}

export interface RunMcpOptions extends McpServerOptions {
  http: boolean;
  port: number;
}

const warnings = new Warnings();

/** A warning: on stderr, and to every client as an MCP log message (level warning). */
function log(message: string): void {
  const line = message.split("\n")[0] ?? "";
  process.stderr.write(`baton mcp: ${line}\n`);
  warnings.warn(line);
}

/**
 * stdout is the protocol: route every console method to stderr so a stray log line from any
 * dependency cannot corrupt a frame.
 */
function guardStdout(): void {
  const toStderr = new Console({ stdout: process.stderr, stderr: process.stderr });
  const target = globalThis.console as unknown as Record<string, unknown>;
  for (const method of ["log", "info", "debug", "warn", "error", "trace", "dir", "table"] as const) {
    target[method] = (toStderr[method] as (...args: unknown[]) => void).bind(toStderr);
  }
}

/** SIGINT or SIGTERM, whichever comes first (a second one ends the process the default way). */
function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals) => {
      process.off("SIGINT", on);
      process.off("SIGTERM", on);
      resolve(signal);
    };
    process.once("SIGINT", on);
    process.once("SIGTERM", on);
  });
}

/** The exit code of a process ended by `signal`, by the shell's convention: 128 + its number. */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (osConstants.signals[signal] ?? 0);
}

/**
 * How long a stopping server may spend closing (transports, the daemon connection, the store)
 * before it exits anyway: a host that quits must never leave a server behind (issue 21, D146).
 */
export const STOP_GRACE_MS = 1500;

/**
 * Stop the server and resolve to `code`: `close` (which ends every long poll: the daemon
 * connection is closed for good, see LocalCommandHost.close) gets {@link STOP_GRACE_MS}. Whatever
 * still holds the event loop then (a request that ignores its abort, a store that does not close)
 * cannot keep the process: it exits with `code` shortly after.
 */
async function stopWithin(code: number, close: () => Promise<void>): Promise<number> {
  setTimeout(() => process.exit(code), STOP_GRACE_MS + 500).unref();
  let timer: NodeJS.Timeout | undefined;
  const grace = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, STOP_GRACE_MS);
    timer.unref();
  });
  await Promise.race([close().catch(() => undefined), grace]);
  clearTimeout(timer);
  return code;
}

/** Run the server until the client goes away (stdio) or a signal arrives. Resolves to an exit code. */
export async function runMcp(options: RunMcpOptions): Promise<number> {
  guardStdout();
  // The store opens while the client initializes: `initialize` does not wait for it, and if it
  // cannot open, every tool call answers with its error code instead of the server dying.
  const opening = new Promise<void>((resolve) => setImmediate(resolve))
    .then(() => openEngine({ actor: "mcp" }))
    .then(({ engine, store, home }) => {
      // Command operations start processes through the daemon (started on demand) with this environment.
      const commands = new LocalCommandHost(home, store.ledger);
      const context: OpContext = {
        engine,
        cwd: process.cwd(),
        actor: "mcp",
        location: store.location,
        env: process.env,
        commands,
      };
      return { context, store, commands };
    });
  opening.catch((error: unknown) => log(`cannot open the store: ${(error as Error).message}`));
  const contextSource: ContextSource = async () => (await opening).context;
  const shutdown = async () => {
    const opened = await opening.catch(() => undefined);
    if (opened === undefined) return;
    opened.commands.close();
    await opened.store.close();
  };
  const factory = () => createMcpServer(contextSource, { ...options, warnings });
  const offersTasks =
    options.readOnly !== true && taskOperations(toolOperations(operations, options.tools)).length > 0;
  const onError = (error: Error) => {
    if (process.env.BATON_DEBUG === "1") log(error.message);
  };

  if (options.http) {
    // The same server, guards and tokens as the daemon's and `baton serve` (D42): only `/mcp`.
    const [{ startHttpServer }, { homeTokenSource, squattedPort }, { batonHome }] = await Promise.all([
      import("../http/server.js"),
      import("../http/tokens.js"),
      import("../core/paths.js"),
    ]);
    const tokens = homeTokenSource(batonHome());
    tokens.current(); // made (or read) now: a broken token file stops the start
    const handlers = {
      full: mcpHttpHandler(factory, {
        onError: (e) => log(e.message),
        ...(offersTasks ? { tasks: contextSource } : {}),
      }),
      readOnly: mcpHttpHandler(() => createMcpServer(contextSource, { ...options, readOnly: true }), {
        onError: (e) => log(e.message),
      }),
    };
    const { context } = await opening;
    const serving = await startHttpServer({
      context,
      project: context.cwd,
      port: options.port,
      tokens,
      routes: "mcp",
      mcp: {
        // This server's tools are its --tools set; a bad `?tools=` is refused as on every /mcp.
        handle: (req, res, { readOnly, url }) => {
          requestedToolSet(url);
          return (readOnly ? handlers.readOnly : handlers.full).handle(req, res);
        },
      },
      log: (line) => log(line),
    }).catch((error: unknown) => {
      throw squattedPort(error, options.port, batonHome(), true);
    });
    process.stderr.write(
      `baton mcp: serving MCP (${options.tools} tools) at ${serving.url}/mcp (Authorization: Bearer <token>: \`baton token show\`)\n`,
    );
    const signal = await untilSignal();
    return stopWithin(signalExitCode(signal), async () => {
      // The daemon connection first: a wait_job in progress ends now instead of holding its request.
      (await opening).commands.close();
      await serving.close();
      await Promise.all([handlers.full.close(), handlers.readOnly.close()]);
      await shutdown();
    });
  }

  // Ends at the end of stdin (the host closed it: 0) or at SIGINT/SIGTERM (130/143). Requests still
  // running then are dropped, not answered: after EOF nobody reads an answer (D146).
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (code: number) => {
      if (stopping) return;
      stopping = true;
      resolve(
        stopWithin(code, async () => {
          await handle.close().catch(() => undefined);
          await shutdown();
        }),
      );
    };
    const line = new LineTransport(process.stdin, process.stdout, { onClosed: () => stop(0) });
    // 2026-07-28 task subscriptions are served in front of the SDK's entry (D130).
    const transport = offersTasks ? new TaskListenTransport(line, contextSource) : line;
    const handle = serveStdio(factory, { transport, onerror: onError });
    void untilSignal().then((signal) => stop(signalExitCode(signal)));
  });
}
