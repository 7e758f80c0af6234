/**
 * `baton mcp`: the operation catalogue served to AI agents over the Model Context Protocol.
 *
 * stdio by default (stdout carries nothing but protocol frames; logs go to stderr), Streamable HTTP
 * on 127.0.0.1 with `--http`. The engine is opened once per server process; every MCP instance the
 * SDK asks for (one per stdio connection, one per legacy HTTP request) shares it.
 */
import { Console } from "node:console";
import { McpServer } from "@modelcontextprotocol/server";
import { serveStdio } from "@modelcontextprotocol/server/stdio";
import { operations } from "../ops/catalogue.js";
import type { OpContext } from "../ops/operation.js";
import { LocalCommandHost } from "../daemon/host.js";
import { openEngine } from "../open.js";
import { Warnings } from "./follow.js";
import { mcpHttpHandler } from "./http.js";
import { registerResources } from "./resources.js";
import { LineTransport } from "./stdio.js";
import type { ContextSource, ToolSet } from "./tools.js";
import { registerOperationTools } from "./tools.js";

export const SERVER_NAME = "baton";

/** What the host shows the model once, at initialize: how to use baton well, in a few lines. */
export const SERVER_INSTRUCTIONS = [
  "baton is a durable work ledger that survives crashed or restarted chats.",
  "At the start of a chat call resume_session (pass cwd) and continue what it lists.",
  "Before multi-step work, enqueue_task one task per unit (e.g. per file, `tasks` for a batch, same workflow);",
  "after each, complete_task with evidence of what changed, or fail_task.",
].join(" ");

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
  const server = new McpServer(
    { name: SERVER_NAME, title: "baton", version: options.version },
    { instructions: SERVER_INSTRUCTIONS, capabilities: { logging: {}, completions: {} } },
  );
  options.warnings?.attach(server);
  const exposed = options.readOnly === true ? operations.filter((op) => op.readOnly) : operations;
  registerOperationTools(server, exposed, options.tools, ctx);
  registerResources(server, ctx);
  return server;
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

function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals) => resolve(signal);
    process.once("SIGINT", on);
    process.once("SIGTERM", on);
  });
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
      const commands = new LocalCommandHost(home, store.location);
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
  const onError = (error: Error) => {
    if (process.env.BATON_DEBUG === "1") log(error.message);
  };

  if (options.http) {
    // The same server, guards and tokens as the daemon's and `baton serve` (D42): only `/mcp`.
    const [{ startHttpServer }, { homeTokenSource }, { batonHome }] = await Promise.all([
      import("../http/server.js"),
      import("../http/tokens.js"),
      import("../core/paths.js"),
    ]);
    const tokens = homeTokenSource(batonHome());
    tokens.current(); // made (or read) now: a broken token file stops the start
    const handlers = {
      full: mcpHttpHandler(factory, { onError: (e) => log(e.message) }),
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
        handle: (req, res, { readOnly }) => (readOnly ? handlers.readOnly : handlers.full).handle(req, res),
      },
      log: (line) => log(line),
    });
    process.stderr.write(
      `baton mcp: serving MCP (${options.tools} tools) at ${serving.url}/mcp (Authorization: Bearer <token>: \`baton token show\`)\n`,
    );
    await untilSignal();
    await serving.close();
    await Promise.all([handlers.full.close(), handlers.readOnly.close()]);
    await shutdown();
    return 0;
  }

  return new Promise<number>((resolve) => {
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      shutdown().then(
        () => resolve(0),
        () => resolve(0),
      );
    };
    const transport = new LineTransport(process.stdin, process.stdout, { onClosed: finish });
    const handle = serveStdio(factory, { transport, onerror: onError });
    void untilSignal().then(() => handle.close().finally(finish));
  });
}
