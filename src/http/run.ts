/**
 * `baton serve`: the HTTP API and the dashboard in the foreground, until SIGINT or SIGTERM.
 */
import { readFileSync } from "node:fs";
import { BatonError } from "../core/errors.js";
import { findProject } from "../core/project.js";
import { LocalCommandHost } from "../ops/local-host.js";
import type { OpContext } from "../ops/operation.js";
import { openEngine } from "../open.js";
import type { TokenSource } from "./tokens.js";
import { fixedTokenSource, homeTokenSource, squattedPort } from "./tokens.js";
import { startHttpServer } from "./server.js";

declare const BATON_VERSION: string | undefined;
const version = typeof BATON_VERSION === "string" ? BATON_VERSION : "0.1.0";

export interface ServeOptions {
  host: string;
  port: number;
  tokenFile?: string;
  /** No token on a loopback bind (anyone on this machine may call it). */
  noToken: boolean;
  readOnly: boolean;
  allowedHosts: readonly string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  out(text: string): void;
  err(text: string): void;
}

/**
 * The tokens to require: `--token-file`, else `BATON_HTTP_TOKEN` (one full token), else the home's
 * tokens (full and read-only, the same as the daemon's and `baton mcp --http`'s). Never none (D42).
 */
export function chooseTokens(
  options: Pick<ServeOptions, "host" | "tokenFile" | "noToken" | "env">,
  home: string,
): { tokens: TokenSource; fromHome: boolean } {
  if (options.noToken) {
    throw new BatonError(
      "USAGE",
      "--no-token is gone: every baton server wants its token, on loopback too (other local users are not trusted); scripts send Authorization: Bearer $(baton token show)",
    );
  }
  if (options.tokenFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(options.tokenFile, "utf8");
    } catch (error) {
      throw new BatonError("NOT_FOUND", `cannot read the token file: ${(error as Error).message}`);
    }
    return { tokens: fixedTokenSource(text.trim()), fromHome: false };
  }
  const fromEnv = options.env.BATON_HTTP_TOKEN;
  if (fromEnv !== undefined && fromEnv !== "")
    return { tokens: fixedTokenSource(fromEnv.trim()), fromHome: false };
  return { tokens: homeTokenSource(home), fromHome: true };
}

function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    const on = () => {
      process.off("SIGINT", on);
      process.off("SIGTERM", on);
      resolve();
    };
    process.once("SIGINT", on);
    process.once("SIGTERM", on);
  });
}

export async function runServe(options: ServeOptions): Promise<number> {
  const { engine, store, home } = await openEngine({ actor: "http" });
  let chosen: ReturnType<typeof chooseTokens>;
  try {
    chosen = chooseTokens(options, home);
    chosen.tokens.current(); // made (or read) now: a broken token file stops the start
  } catch (error) {
    await store.close();
    throw error;
  }
  const commands = new LocalCommandHost(home, store.ledger);
  const project = findProject(options.cwd);
  const context: OpContext = {
    engine,
    cwd: options.cwd,
    actor: "http",
    location: store.location,
    env: options.env,
    commands,
  };
  // `/mcp` as the daemon serves it (one server, D42): the default tools, `?tools=full` for all.
  const [{ createMcpServer }, { mcpRoute }] = await Promise.all([
    import("../mcp/server.js"),
    import("../mcp/http.js"),
  ]);
  const mcpContext: OpContext = { ...context, actor: "mcp" };
  const mcp = mcpRoute(
    ({ readOnly, tools }) => createMcpServer(() => Promise.resolve(mcpContext), { tools, version, readOnly }),
    {
      tasks: () => Promise.resolve(mcpContext),
      onError: (e) => options.err(`baton serve: /mcp: ${e.message.split("\n")[0]}\n`),
    },
  );
  try {
    const serving = await startHttpServer({
      context,
      project,
      host: options.host,
      port: options.port,
      tokens: chosen.tokens,
      readOnly: options.readOnly,
      allowedHosts: options.allowedHosts,
      mcp,
      log: (line) => options.err(`baton serve: ${line}\n`),
    }).catch((error: unknown) => {
      throw squattedPort(error, options.port, home, chosen.fromHome);
    });
    // The operator's own terminal: the link with the home's token (an explicit token is theirs).
    const open = chosen.fromHome
      ? `${serving.url}/?token=${chosen.tokens.current().full}`
      : `${serving.url}/`;
    options.out(
      `baton: dashboard and API at ${open}${options.readOnly ? " (read-only)" : ""}, MCP at ${serving.url}/mcp\n`,
    );
    await untilSignal();
    await serving.close();
    return 0;
  } finally {
    await mcp.close();
    commands.close();
    await store.close();
  }
}
