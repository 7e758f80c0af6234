/**
 * The `baton mcp` command line. Kept apart from the server so that loading the CLI never loads the
 * MCP SDK: the server module is imported only when the command runs.
 */
import type { Command } from "commander";
import { Option } from "commander";
import { InvalidInputError } from "../core/errors.js";

export const DEFAULT_HTTP_PORT = 7737;

function port(text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65_535) {
    throw new InvalidInputError(`--port must be a port number (0-65535, 0 = any free port), not '${text}'`);
  }
  return Number(text);
}

export function registerMcpCommand(program: Command, version: string, onExit: (code: number) => void): void {
  program
    .command("mcp")
    .description(
      "Serve baton to AI agents over MCP: stdio by default, Streamable HTTP on 127.0.0.1 with --http",
    )
    .addOption(
      new Option("--tools <set>", "default: the small agent set; full: every operation meant for agents")
        .choices(["default", "full"])
        .default("default"),
    )
    .option("--http", "serve Streamable HTTP at http://127.0.0.1:<port>/mcp instead of stdio")
    .option("--port <n>", `HTTP port (default ${DEFAULT_HTTP_PORT}; 0 = any free port)`)
    .action(async (opts: { tools: "default" | "full"; http?: boolean; port?: string }) => {
      const chosenPort = opts.port === undefined ? DEFAULT_HTTP_PORT : port(opts.port);
      const { runMcp } = await import("./server.js");
      onExit(await runMcp({ tools: opts.tools, http: opts.http === true, port: chosenPort, version }));
    });
}
