/**
 * Stranger s18a F2: `baton --request-id <id> stop <job>` (the id typed before the command) was not
 * forwarded to the daemon by the thin client, which looked at the first word only: the CLI ran the
 * stop itself. With the daemon stopped (SIGSTOP) it wrote `stop_requested`, then answered "not
 * sent" — unlike the same call with the flag after the command, which the daemon is handed whole
 * and which writes nothing here. Global flags before the command now leave the call servable.
 * Real daemon, real SIGSTOP, a temp SQLite ledger.
 */
import { describe, expect, it } from "vitest";
import { cli, cliJson, daemonPid, eventRows, newHome, stopDaemon, until } from "./helpers/supervisor.js";

describe("global flags typed before the command", () => {
  it("a call with --request-id before its command is handed to the daemon like one with it after", async () => {
    const home = newHome({ BATON_DAEMON_ANSWER_MS: "1000" });
    const daemon = () => daemonPid(home)!;
    try {
      const { id } = cliJson(home, ["run", "--", "sleep", "30"]);
      await until("the command to run", () => cliJson(home, ["status", id]).job.state === "running");
      process.kill(daemon(), "SIGSTOP");
      try {
        for (const args of [
          ["stop", id, "--json", "--request-id", "after-1"],
          ["--request-id", "before-1", "stop", id, "--json"],
        ]) {
          const stopped = cli(home, args);
          expect(stopped.code, stopped.stdout).toBe(5);
          const error = (JSON.parse(stopped.stdout) as { error: { code: string; details?: object } }).error;
          expect(error.code).toBe("DAEMON_UNRESPONSIVE");
          // Handed to the daemon whole: "may or may not", nothing written by the CLI itself.
          expect(error.details ?? {}, args.join(" ")).not.toHaveProperty("sent");
          expect(eventRows(home, "stop_requested"), args.join(" ")).toEqual([]);
        }
      } finally {
        process.kill(daemon(), "SIGCONT");
      }
      expect(cliJson(home, ["stop", id])).toMatchObject({ outcome: "cancelled" });
    } finally {
      stopDaemon(home);
    }
  }, 60_000);
});
