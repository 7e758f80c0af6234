/**
 * The daemon's HTTP server: the JSON API, the web dashboard and MCP over Streamable HTTP (`/mcp`),
 * started lazily by the first `baton dashboard`, stopped with the daemon (docs/decisions.md D21)
 * and started again by the next daemon of the home until `baton dashboard --stop` (D85).
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
import { BatonError } from "../core/errors.js";
import { findProject } from "../core/project.js";
import type { HttpServing } from "../http/server.js";
import type { TokenSource } from "../http/tokens.js";
import type { OpContext } from "../ops/operation.js";
import type { Opened } from "../open.js";
import { dashboardInfoPath } from "../ops/ipc.js";
import { LocalCommandHost } from "../ops/local-host.js";

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
  /** Set when the remembered port was taken and the tokens were rotated (D107): say it loudly. */
  warning?: string;
}

interface Running {
  serving: HttpServing;
  tokens: TokenSource;
  /** Stop serving; `serveAgain`: the next daemon serves again (a daemon shutdown, not `--stop`). */
  close(serveAgain: boolean): Promise<void>;
}

/**
 * What `<home>/dashboard.json` remembers: the port, and whether this home's daemon serves HTTP
 * (`serve`: set by `baton dashboard`, cleared by `baton dashboard --stop`) with the directory the
 * dashboard is titled after. No token: those are in http-tokens.json.
 */
interface Remembered {
  port?: number;
  serve: boolean;
  cwd?: string;
}

function remembered(home: string): Remembered {
  try {
    const info = JSON.parse(readFileSync(dashboardInfoPath(home), "utf8")) as Record<string, unknown>;
    const port = info.port;
    return {
      ...(typeof port === "number" && Number.isInteger(port) && port > 0 && port < 65_536 ? { port } : {}),
      serve: info.serve === true,
      ...(typeof info.cwd === "string" ? { cwd: info.cwd } : {}),
    };
  } catch {
    return { serve: false };
  }
}

function rememberedPort(home: string): number | undefined {
  return remembered(home).port;
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

  /**
   * Set when this daemon found its remembered port held by another process and rotated the tokens
   * (D107); shown by `baton daemon status` for as long as this daemon runs, and by the first
   * `baton dashboard` after the rotation only (D107, red team L4): a warning printed on every later
   * call teaches the user to skip it.
   */
  warning: string | undefined;

  /** Whether a `baton dashboard` answer carried {@link warning} already. */
  private warningShown = false;

  /**
   * At daemon start: serve HTTP again when the previous daemon of this home did (it was not turned
   * off with `baton dashboard --stop`), on the same port with the same tokens, so a host configured
   * with the URL and token keeps connecting across `baton daemon restart` and crashes (D85).
   * Never throws: a port taken meanwhile is logged and the next `baton dashboard` tries again.
   */
  async restore(): Promise<void> {
    const memory = remembered(this.opened.home);
    if (!memory.serve) return;
    try {
      const answer = await this.ensure({ readOnly: false, cwd: memory.cwd ?? this.opened.home }, false);
      this.options.log(`dashboard: serving again at ${answer.base} (it was on before this daemon started)`);
    } catch (error) {
      this.options.log(`dashboard: could not serve again: ${(error as Error).message}`);
    }
  }

  /** `baton dashboard --stop`: stop serving and forget it, so the next daemon does not serve either. */
  async stop(): Promise<{ stopped: boolean }> {
    const running = await this.running?.catch(() => undefined);
    this.running = undefined;
    this.url = undefined;
    if (running !== undefined) await running.close(false);
    else writePrivate(dashboardInfoPath(this.opened.home), { ...remembered(this.opened.home), serve: false });
    return { stopped: running !== undefined };
  }

  /**
   * Start the server if it is not up; answer its URL and the token for the asked mode. `toUser`:
   * the answer goes to a user (`baton dashboard`), who then has seen the warning, if any.
   */
  async ensure(request: DashboardRequest, toUser = true): Promise<DashboardAnswer> {
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
    const warning = this.warningShown ? undefined : this.warning;
    if (toUser && warning !== undefined) this.warningShown = true;
    return {
      base: running.serving.url,
      port: running.serving.port,
      token: request.readOnly ? running.tokens.current().readOnly! : running.tokens.current().full,
      readOnly: request.readOnly,
      started,
      ...(warning === undefined ? {} : { warning }),
    };
  }

  private async start(request: DashboardRequest): Promise<Running> {
    const [{ startHttpServer }, { homeTokenSource, rotateTokens }, { createMcpServer }, { mcpRoute }] =
      await Promise.all([
        import("../http/server.js"),
        import("../http/tokens.js"),
        import("../mcp/server.js"),
        import("../mcp/http.js"),
      ]);
    const { engine, store, home } = this.opened;
    const commands = new LocalCommandHost(home, store.ledger);
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
    // `/mcp`: the default tools, `?tools=full` for all, read-only tools for a read-only caller.
    const mcp = mcpRoute(
      ({ readOnly, tools }) =>
        createMcpServer(() => Promise.resolve(mcpContext), { tools, version, readOnly }),
      {
        tasks: () => Promise.resolve(mcpContext),
        onError: (e) => this.options.log(`dashboard /mcp: ${e.message.split("\n")[0]}`),
      },
    );
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
        mcp,
        log: (line) => this.options.log(`dashboard: ${line}`),
      });
    let serving: HttpServing;
    try {
      serving = await listen(explicit ?? remembered ?? 0);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === "PORT_IN_USE" && explicit === undefined && remembered !== undefined) {
        // The remembered port was taken meanwhile (D107): whoever holds it may have received the
        // token from a host configured with it while this home's daemon was down. Rotate the tokens
        // before serving anywhere else, so what they captured opens nothing, and say so loudly.
        rotateTokens(home);
        this.warningShown = false;
        this.warning = `port ${remembered} was taken by another process; tokens rotated; reconfigure hosts with baton install-mcp`;
        this.options.log(`dashboard: WARNING: ${this.warning}`);
        serving = await listen(0);
      } else {
        commands.close();
        throw error;
      }
    }
    this.url = serving.url;
    // No tokens here: they are in http-tokens.json, which outlives this daemon.
    // `serve`: the next daemon serves again (restore), until `baton dashboard --stop`.
    writePrivate(dashboardInfoPath(home), {
      pid: process.pid,
      port: serving.port,
      url: serving.url,
      serve: true,
      cwd: request.cwd,
      startedAt: new Date().toISOString(),
    });
    this.options.log(`dashboard, API and MCP listening on ${serving.url} (${serving.url}/mcp)`);
    return {
      serving,
      tokens,
      close: async (serveAgain: boolean) => {
        await serving.close();
        await mcp.close();
        commands.close();
        // Keep the port (and whether to serve) for the next daemon; the tokens are kept apart.
        writePrivate(dashboardInfoPath(home), { port: serving.port, serve: serveAgain, cwd: request.cwd });
      },
    };
  }

  /** Stop the server (daemon shutdown). Later `ensure` calls are refused. */
  async close(): Promise<void> {
    this.closed = true;
    const running = await this.running?.catch(() => undefined);
    this.running = undefined;
    this.url = undefined;
    if (running !== undefined) await running.close(true);
  }
}
