/**
 * `baton dashboard` (the daemon hosts the HTTP API and web dashboard) and `baton serve` (the same
 * server in the foreground). Registered apart from the operation bindings and loaded lazily, so
 * ordinary commands never load the HTTP server.
 */
import type { Command } from "commander";
import { InvalidInputError } from "../core/errors.js";
import { io } from "./io.js";

export const DEFAULT_DASHBOARD_PORT = 7738;

function portNumber(text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65_535) {
    throw new InvalidInputError(`--port must be a port number (0-65535, 0 = any free port), not '${text}'`);
  }
  return Number(text);
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

interface ServeFlags {
  port?: string;
  host?: string;
  tokenFile?: string;
  token?: boolean;
  readOnly?: boolean;
  allowHost?: string[];
}

export function registerHttpCommands(program: Command, onExit: (code: number) => void): void {
  program
    .command("dashboard")
    .description(
      "Have the daemon serve the web dashboard, HTTP API and MCP (/mcp) on 127.0.0.1; print and open its link",
    )
    .option("--read-only", "a link for viewers: every operation that changes the ledger is refused")
    .option("--no-open", "print the link only (also when stdout is not a terminal)")
    .option("--port <n>", "port when the server starts (default: the last one, else any free port)")
    .option("--stop", "stop serving HTTP; later daemons do not serve it again until `baton dashboard`")
    .option("--json", "print one JSON envelope")
    .action(
      async (flags: {
        readOnly?: boolean;
        open?: boolean;
        port?: string;
        stop?: boolean;
        json?: boolean;
      }) => {
        const [{ runDashboard }, { detectColor }] = await Promise.all([
          import("./dashboard.js"),
          import("./output.js"),
        ]);
        const json = flags.json === true;
        onExit(
          await runDashboard({
            readOnly: flags.readOnly === true,
            noOpen: flags.open === false,
            stop: flags.stop === true,
            ...(flags.port === undefined ? {} : { port: portNumber(flags.port) }),
            mode: { json, color: !json && detectColor() },
          }),
        );
      },
    );
  program
    .command("serve")
    .description("Serve the HTTP API and the live web dashboard (127.0.0.1 by default, with a token)")
    .option("--port <n>", `port (default ${DEFAULT_DASHBOARD_PORT}; 0 = any free port)`)
    .option("--host <address>", "address to bind (default 127.0.0.1; anything else needs a token)")
    .option(
      "--token-file <path>",
      "read the token from this file (else BATON_HTTP_TOKEN, else the home's: `baton token show`)",
    )
    .option("--no-token", "refused: every baton server wants its token (kept for a clear error)")
    .option("--read-only", "refuse every operation that changes the ledger (for viewers)")
    .option("--allow-host <name>", "another Host name to accept (repeatable)", collect)
    .action(async (flags: ServeFlags) => {
      const { runServe } = await import("../http/run.js");
      onExit(
        await runServe({
          host: flags.host ?? "127.0.0.1",
          port: flags.port === undefined ? DEFAULT_DASHBOARD_PORT : portNumber(flags.port),
          ...(flags.tokenFile === undefined ? {} : { tokenFile: flags.tokenFile }),
          noToken: flags.token === false,
          readOnly: flags.readOnly === true,
          allowedHosts: flags.allowHost ?? [],
          cwd: io().cwd,
          env: io().env,
          out: (text) => io().out(text),
          err: (text) => io().err(text),
        }),
      );
    });
  const token = program
    .command("token")
    .description(
      "The bearer token of every baton server of this home (daemon dashboard/API/MCP, serve, mcp --http)",
    );
  token
    .command("show")
    .description("Print the token (made on first use; the same until rotated)")
    .option("--read-only", "the read-only token: reads only, on every surface")
    .option("--json", "print one JSON envelope")
    .action(async (flags: { readOnly?: boolean; json?: boolean }) => {
      const { runToken } = await import("./token.js");
      onExit(await runToken("show", flags.readOnly === true, flags.json === true));
    });
  token
    .command("rotate")
    .description("Replace both tokens now: running servers refuse the old ones from their next request")
    .option("--json", "print one JSON envelope")
    .action(async (flags: { json?: boolean }) => {
      const { runToken } = await import("./token.js");
      onExit(await runToken("rotate", false, flags.json === true));
    });
}
