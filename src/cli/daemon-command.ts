/**
 * `baton daemon start|stop|status|restart|run`. Status tells the truth about stale files: a
 * daemon.json or socket left by a killed daemon is reported as stale, not as running.
 */
import { existsSync } from "node:fs";
import { batonHome } from "../core/paths.js";
import {
  DaemonClient,
  daemonAnswerMs,
  daemonUnresponsive,
  ensureDaemon,
  readDaemonInfo,
} from "../ops/daemon-client.js";
import { socketPath } from "../ops/ipc.js";
import type { OutputMode } from "./output.js";
import { printOk } from "./output.js";
import type { CliMain } from "./serve.js";
import { serveCliCall } from "./serve.js";
import { sleep } from "../core/timer.js";
import { ownerGone } from "../supervisor/process.js";

async function status(home: string): Promise<Record<string, unknown>> {
  const client = await DaemonClient.connect(home);
  const info = readDaemonInfo(home);
  if (client === undefined) {
    const stale: string[] = [];
    if (info !== undefined) stale.push(`daemon.json names pid ${info.pid}, which does not answer`);
    if (existsSync(socketPath(home))) stale.push(`a stale socket ${socketPath(home)}`);
    return { running: false, ...(stale.length > 0 ? { stale } : {}) };
  }
  try {
    const s = await client.ask<{
      pid: number;
      owner: string;
      running: string[];
      limits: unknown;
      dashboard?: string;
      dashboardWarning?: string;
    }>("status");
    // It holds the socket (and its lock) but does not answer: stopped or hung (D135).
    if (s === undefined) {
      const e = daemonUnresponsive(home);
      return { running: true, responding: false, ...(e.details ?? {}), problem: e.message };
    }
    return {
      running: true,
      pid: s.pid,
      runningJobs: s.running.length,
      limits: s.limits,
      socket: socketPath(home),
      ...(s.dashboard === undefined ? {} : { dashboard: s.dashboard }),
      ...(s.dashboardWarning === undefined ? {} : { dashboardWarning: s.dashboardWarning }),
    };
  } finally {
    client.close();
  }
}

async function stop(home: string): Promise<boolean> {
  const client = await DaemonClient.connect(home);
  if (client === undefined) return false;
  const owner = readDaemonInfo(home)?.owner;
  // A daemon that does not answer (stopped, hung) is not waited for forever (D135); the request
  // carries its deadline, so one resumed after it does not stop behind the refusal printed here.
  // (An answer "ignored" is that same refusal, when it beat this side's own timer.)
  const answered = await client
    .ask<{ ignored?: boolean }>("shutdown", { answerBy: Date.now() + daemonAnswerMs() })
    .then(
      (answer) => answer !== undefined && answer?.ignored !== true,
      () => true,
    );
  if (!answered) {
    client.close();
    throw daemonUnresponsive(home);
  }
  client.close();
  // Gone when its socket no longer answers and its process has ended (it removes the socket
  // before it releases its lock and closes the ledger): "stopped" is then true of the process.
  for (let i = 0; i < 600; i++) {
    const again = await DaemonClient.connect(home);
    if (again === undefined && (owner === undefined || ownerGone(owner))) return true;
    again?.close();
    await sleep(50);
  }
  return true;
}

export async function daemonCommand(
  verb: "start" | "stop" | "status" | "restart" | "run",
  mode: OutputMode,
  main: CliMain,
): Promise<number> {
  const home = batonHome();
  switch (verb) {
    case "run": {
      const { runDaemon } = await import("../daemon/daemon.js");
      const code = await runDaemon({ home, serveCli: (call, opened) => serveCliCall(call, opened, main) });
      // Thin clients parked in a served `wait` still hold sockets: the ledger is closed and the
      // lock released, so end now; those clients see the daemon go and wait on by themselves.
      process.exit(code);
    }
    case "start": {
      const client = await ensureDaemon(home);
      client.close();
      const s = await status(home);
      // A daemon that holds the socket but does not answer is not "running" for the caller (D135).
      if (s.responding === false) throw daemonUnresponsive(home);
      printOk(mode, s, () => `daemon running (pid ${String(s.pid)})`);
      return 0;
    }
    case "stop": {
      const was = await stop(home);
      printOk(mode, { stopped: was }, () => (was ? "daemon stopped" : "daemon was not running"));
      return 0;
    }
    case "restart": {
      await stop(home);
      const client = await ensureDaemon(home);
      client.close();
      const s = await status(home);
      printOk(mode, s, () => `daemon restarted (pid ${String(s.pid)})`);
      return 0;
    }
    case "status": {
      const s = await status(home);
      printOk(mode, s, () =>
        s.responding === false
          ? `daemon NOT ANSWERING: ${String(s.problem)}`
          : s.running === true
            ? `daemon running (pid ${String(s.pid)}), ${String(s.runningJobs)} command(s) running${
                typeof s.dashboard === "string"
                  ? `; dashboard at ${s.dashboard} (\`baton dashboard\` prints its link)`
                  : ""
              }${typeof s.dashboardWarning === "string" ? `\nWARNING: ${s.dashboardWarning}` : ""}`
            : `daemon not running${Array.isArray(s.stale) ? `; stale: ${(s.stale as string[]).join("; ")}` : ""}`,
      );
      // Like an init script's status (LSB): 3 when no daemon runs, so `baton daemon status && …` is
      // honest; 1 when one holds the socket but does not answer (D135).
      return s.responding === false ? 1 : s.running === true ? 0 : 3;
    }
    default: {
      const never: never = verb;
      return never;
    }
  }
}
