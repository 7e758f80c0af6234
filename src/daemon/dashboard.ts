/**
 * The daemon's HTTP server: the JSON API, the web dashboard and MCP over Streamable HTTP (`/mcp`),
 * started lazily by the first `baton dashboard` and stopped with the daemon (docs/decisions.md D21).
 *
 * - 127.0.0.1 only, on the port asked for (`--port`, `BATON_DASHBOARD_PORT`), else the port of the
 *   previous run (kept in `<home>/dashboard.json`, so bookmarks survive a daemon restart), else
 *   any free port.
 * - The home's two tokens (src/http/tokens.ts): the full one and a read-only one
 *   (`baton dashboard --read-only`), kept 0600 in `<home>/http-tokens.json` across restarts, the
 *   same for `baton serve` and `baton mcp --http` (D42); `<home>/dashboard.json` keeps the port.
 * - The HTTP and MCP modules are loaded on first use: a daemon nobody opens a dashboard on stays lean.
 */
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BatonError } from "../core/errors.js";
import { findProject } from "../core/project.js";
import type { HttpServing } from "../http/server.js";
import type { TokenSource } from "../http/tokens.js";
import type { OpContext } from "../ops/operation.js";
import type { Opened } from "../open.js";
import { LocalCommandHost } from "./host.js";

declare const BATON_VERSION: string | undefined;
const version = typeof BATON_VERSION === "string" ? BATON_VERSION : "0.1.0";

export interface DashboardRequest {
  readOnly: boolean;
  /** An explicit port; undefined: the configured, remembered or any free one. */
  port?: number;
  /** The caller's directory: the dashboard is titled after its project. */
  cwd: string;
}

export interface DashboardAnswer {
  /** `http://127.0.0.1:<port>` (no token). */
  base: string;
  port: number;
  /** The token of the asked mode (full or read-only). */
  token: string;
  readOnly: boolean;
  /** True when this request started the server. */
  started: boolean;
}

export function dashboardInfoPath(home: string): string {
  return join(home, "dashboard.json");
}

interface Running {
  serving: HttpServing;
  tokens: TokenSource;
  close(): Promise<void>;
}

function rememberedPort(home: string): number | undefined {
  try {
    const port = (JSON.parse(readFileSync(dashboardInfoPath(home), "utf8")) as { port?: unknown }).port;
    return typeof port === "number" && Number.isInteger(port) && port > 0 && port < 65_536 ? port : undefined;
  } catch {
    return undefined;
  }
}

function writePrivate(path: string, value: unknown): void {
  writeFileSync(path, `${JSON.stringify(value)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/** The port `BATON_DASHBOARD_PORT` names, if any (validated). */
export function configuredPort(env: NodeJS.ProcessEnv): number | undefined {
  const raw = env.BATON_DASHBOARD_PORT;
  if (raw === undefined || raw === "") return undefined;
  if (!/^\d{1,5}$/.test(raw) || Number(raw) > 65_535)
    throw new BatonError("USAGE", `BATON_DASHBOARD_PORT must be a port number (0-65535), not '${raw}'`);
  return Number(raw);
}

export class DaemonDashboard {
  private running: Promise<Running> | undefined;
  private closed = false;

  constructor(
    private readonly opened: Opened,
    private readonly options: { log: (line: string) => void },
  ) {}

  /** `http://127.0.0.1:<port>` while the server is up (for `status`), never a token. */
  url: string | undefined;

  /** Start the server if it is not up; answer its URL and the token for the asked mode. */
  async ensure(request: DashboardRequest): Promise<DashboardAnswer> {
    if (this.closed) throw new BatonError("STORE_UNAVAILABLE", "the daemon is shutting down");
    let started = false;
    if (this.running === undefined) {
      started = true;
      const starting = this.start(request);
      this.running = starting;
      // A failed start (port taken) must not stick: the next request tries again.
      starting.catch(() => {
        if (this.running === starting) this.running = undefined;
      });
    }
    const running = await this.running;
    if (
      !started &&
      request.port !== undefined &&
      request.port !== 0 &&
      request.port !== running.serving.port
    ) {
      throw new BatonError(
        "USAGE",
        `the daemon's dashboard already listens on port ${running.serving.port}; \`baton daemon restart\` first to move it to ${request.port}`,
      );
    }
    return {
      base: running.serving.url,
      port: running.serving.port,
      token: request.readOnly ? running.tokens.current().readOnly! : running.tokens.current().full,
      readOnly: request.readOnly,
      started,
    };
  }

  private async start(request: DashboardRequest): Promise<Running> {
    const [{ startHttpServer }, { homeTokenSource }, { createMcpServer }, { mcpHttpHandler }] =
      await Promise.all([
        import("../http/server.js"),
        import("../http/tokens.js"),
        import("../mcp/server.js"),
        import("../mcp/http.js"),
      ]);
    const { engine, store, home } = this.opened;
    const commands = new LocalCommandHost(home, store.location);
    const context = (actor: string): OpContext => ({
      engine,
      cwd: request.cwd,
      actor,
      location: store.location,
      env: process.env,
      commands,
    });
    const httpContext = context("http");
    const mcpContext = context("mcp");
    // One MCP handler per (read-only?, tool set), made on first use.
    const handlers = new Map<string, ReturnType<typeof mcpHttpHandler>>();
    const mcpFor = (readOnly: boolean, tools: "default" | "full") => {
      const key = `${readOnly}:${tools}`;
      let handler = handlers.get(key);
      if (handler === undefined) {
        handler = mcpHttpHandler(
          () => createMcpServer(() => Promise.resolve(mcpContext), { tools, version, readOnly }),
          { onError: (e) => this.options.log(`dashboard /mcp: ${e.message.split("\n")[0]}`) },
        );
        handlers.set(key, handler);
      }
      return handler;
    };
    // The home's tokens (D42): the same across daemon restarts, rotated by `baton token rotate`.
    const tokens = homeTokenSource(home);
    tokens.current();
    const explicit = request.port ?? configuredPort(process.env);
    const remembered = explicit === undefined ? rememberedPort(home) : undefined;
    const listen = (port: number) =>
      startHttpServer({
        context: httpContext,
        project: findProject(request.cwd),
        host: "127.0.0.1",
        port,
        tokens,
        mcp: {
          handle: (req, res, { readOnly, url }) =>
            mcpFor(readOnly, url.searchParams.get("tools") === "full" ? "full" : "default").handle(req, res),
        },
        log: (line) => this.options.log(`dashboard: ${line}`),
      });
    let serving: HttpServing;
    try {
      serving = await listen(explicit ?? remembered ?? 0);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === "EADDRINUSE" && explicit === undefined && remembered !== undefined) {
        serving = await listen(0); // the remembered port was taken meanwhile: any free one
      } else {
        commands.close();
        if (code === "EADDRINUSE" || code === "EACCES")
          throw new BatonError(
            "USAGE",
            `cannot listen on 127.0.0.1:${explicit ?? remembered}: ${code === "EADDRINUSE" ? "the port is in use" : "permission denied"} (pick another with --port, or 0 for any free port)`,
          );
        throw error;
      }
    }
    this.url = serving.url;
    // No tokens here: they are in http-tokens.json, which outlives this daemon.
    writePrivate(dashboardInfoPath(home), {
      pid: process.pid,
      port: serving.port,
      url: serving.url,
      startedAt: new Date().toISOString(),
    });
    this.options.log(`dashboard, API and MCP listening on ${serving.url} (${serving.url}/mcp)`);
    return {
      serving,
      tokens,
      close: async () => {
        await serving.close();
        await Promise.all([...handlers.values()].map((h) => h.close().catch(() => undefined)));
        commands.close();
        // Keep the port for the next daemon (the tokens are kept apart, for every surface).
        writePrivate(dashboardInfoPath(home), { port: serving.port });
      },
    };
  }

  /** Stop the server (daemon shutdown). Later `ensure` calls are refused. */
  async close(): Promise<void> {
    this.closed = true;
    const running = await this.running?.catch(() => undefined);
    this.running = undefined;
    this.url = undefined;
    if (running !== undefined) await running.close();
  }
}
