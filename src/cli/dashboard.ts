/**
 * `baton dashboard`: make sure the daemon runs, have it serve the HTTP API, the web dashboard and
 * MCP (started on first use, see src/daemon/dashboard.ts), and print — on a desktop also open —
 * `http://127.0.0.1:<port>/?token=…`. A second call prints the same URL.
 */
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { BatonError, toBatonError } from "../core/errors.js";
import { batonHome } from "../core/paths.js";
import { ensureDaemon } from "../ops/daemon-client.js";
import type { DashboardAnswer } from "../daemon/dashboard.js";
import { io } from "./io.js";
import type { OutputMode } from "./output.js";
import { paint, printOk } from "./output.js";

export interface DashboardOptions {
  readOnly: boolean;
  noOpen: boolean;
  /** Stop serving HTTP and forget it (the next daemon does not serve it again). */
  stop?: boolean;
  port?: number;
  mode: OutputMode;
}

/** Ask this home's daemon (started on demand) for its dashboard. */
export async function requestDashboard(
  home: string,
  request: { readOnly: boolean; port?: number; cwd: string },
): Promise<DashboardAnswer> {
  const client = await ensureDaemon(home);
  try {
    return await client.request<DashboardAnswer>("dashboard", request);
  } catch (error) {
    const e = toBatonError(error);
    if (e.message.startsWith("unknown daemon method")) {
      throw new BatonError(
        "STORE_UNAVAILABLE",
        "the running daemon is older than this baton and cannot host the dashboard: run `baton daemon restart`",
      );
    }
    throw e;
  } finally {
    client.close();
  }
}

/** The program that opens a URL on this desktop, if there seems to be one. */
function opener(env: NodeJS.ProcessEnv): [string, string[]] | undefined {
  if (env.BROWSER !== undefined && env.BROWSER !== "") return [env.BROWSER, []];
  if (process.platform === "darwin") return ["open", []];
  if (process.platform === "win32") return ["explorer.exe", []];
  if (env.DISPLAY || env.WAYLAND_DISPLAY) return ["xdg-open", []];
  return undefined;
}

/**
 * Open the dashboard in a browser, best-effort: never fails, says whether a launcher started.
 * The browser is handed a 0600 file in BATON_HOME that redirects to the URL, not the URL itself,
 * so the token never appears in a process list (other local users can read command lines).
 */
function openInBrowser(home: string, url: string, env: NodeJS.ProcessEnv): Promise<boolean> {
  const program = opener(env);
  if (program === undefined) return Promise.resolve(false);
  const page = join(home, "dashboard-open.html");
  try {
    const attribute = url.replace(/&/g, "&amp;").replace(/"/g, "&quot;");
    writeFileSync(
      page,
      `<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0; url=${attribute}"><title>baton</title><a href="${attribute}">baton dashboard</a>\n`,
      { mode: 0o600 },
    );
  } catch {
    return Promise.resolve(false);
  }
  return new Promise((resolve) => {
    try {
      const child = spawn(program[0], [...program[1], page], { detached: true, stdio: "ignore", env });
      child.once("error", () => resolve(false));
      child.once("spawn", () => {
        child.unref();
        resolve(true);
      });
    } catch {
      resolve(false);
    }
  });
}

export async function runDashboard(options: DashboardOptions): Promise<number> {
  const home = batonHome();
  const { cwd, env, stdoutIsTTY } = io();
  if (options.stop === true) {
    if (options.readOnly || options.port !== undefined)
      throw new BatonError("USAGE", "--stop takes no --read-only or --port");
    const client = await ensureDaemon(home);
    let answer: { stopped: boolean };
    try {
      answer = await client.request<{ stopped: boolean }>("dashboard", { stop: true });
    } finally {
      client.close();
    }
    printOk(options.mode, answer, () =>
      answer.stopped
        ? "stopped serving HTTP; `baton dashboard` serves it again"
        : "HTTP was not served; the next daemon will not serve it either",
    );
    return 0;
  }
  const answer = await requestDashboard(home, {
    readOnly: options.readOnly,
    cwd,
    ...(options.port === undefined ? {} : { port: options.port }),
  });
  const url = `${answer.base}/?token=${answer.token}`;
  const opened =
    !options.noOpen && !options.mode.json && stdoutIsTTY ? await openInBrowser(home, url, env) : false;
  printOk(
    options.mode,
    {
      url,
      base: `${answer.base}/`,
      port: answer.port,
      mcp: `${answer.base}/mcp`,
      readOnly: answer.readOnly,
      started: answer.started,
      opened,
      ...(answer.warning === undefined ? {} : { warning: answer.warning }),
    },
    () =>
      [
        ...(answer.warning === undefined ? [] : [paint(options.mode, "red", `WARNING: ${answer.warning}`)]),
        `${url}${answer.readOnly ? "  (read-only)" : ""}`,
        paint(
          options.mode,
          "dim",
          `served by the daemon (and the next one after a restart) until \`baton dashboard --stop\`${opened ? "; opened in your browser" : ""}; MCP at ${answer.base}/mcp (Authorization: Bearer <the token>)`,
        ),
      ].join("\n"),
  );
  return 0;
}
