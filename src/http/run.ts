/**
 * `baton serve`: the HTTP API and the dashboard in the foreground, until SIGINT or SIGTERM.
 */
import { readFileSync } from "node:fs";
import { BatonError } from "../core/errors.js";
import { findProject } from "../core/project.js";
import { LocalCommandHost } from "../daemon/host.js";
import type { OpContext } from "../ops/operation.js";
import { openEngine } from "../open.js";
import { isLoopback, newToken } from "./guard.js";
import { startHttpServer } from "./server.js";

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

/** The token to require: `--token-file`, else `BATON_HTTP_TOKEN`, else a fresh one on loopback. */
export function chooseToken(options: Pick<ServeOptions, "host" | "tokenFile" | "noToken" | "env">): {
  token: string | undefined;
  generated: boolean;
} {
  if (options.tokenFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(options.tokenFile, "utf8");
    } catch (error) {
      throw new BatonError("NOT_FOUND", `cannot read the token file: ${(error as Error).message}`);
    }
    return { token: text.trim(), generated: false };
  }
  const fromEnv = options.env.BATON_HTTP_TOKEN;
  if (fromEnv !== undefined && fromEnv !== "") return { token: fromEnv.trim(), generated: false };
  if (options.noToken) {
    if (!isLoopback(options.host)) {
      throw new BatonError(
        "USAGE",
        `--no-token is refused on ${options.host}: only a loopback bind may run without a token`,
      );
    }
    return { token: undefined, generated: false };
  }
  if (!isLoopback(options.host)) return { token: undefined, generated: false };
  return { token: newToken(), generated: true };
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
  const { token, generated } = chooseToken(options);
  const { engine, store, home } = await openEngine({ actor: "http" });
  const commands = new LocalCommandHost(home);
  const project = findProject(options.cwd);
  const context: OpContext = {
    engine,
    cwd: options.cwd,
    actor: "http",
    location: store.location,
    env: options.env,
    commands,
  };
  try {
    const serving = await startHttpServer({
      context,
      project,
      host: options.host,
      port: options.port,
      ...(token === undefined ? {} : { token }),
      readOnly: options.readOnly,
      allowedHosts: options.allowedHosts,
      log: (line) => options.err(`baton serve: ${line}\n`),
    });
    // The only place a generated token is ever shown: the operator's own terminal, once.
    const open = generated ? `${serving.url}/?token=${token}` : `${serving.url}/`;
    options.out(`baton: dashboard and API at ${open}${options.readOnly ? " (read-only)" : ""}\n`);
    await untilSignal();
    await serving.close();
    return 0;
  } finally {
    commands.close();
    await store.close();
  }
}
