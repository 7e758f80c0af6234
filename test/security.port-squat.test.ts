/**
 * D107: a port squatted while the daemon was down. Root served the dashboard on port P, the daemon
 * died (kill -9), `nobody` bound 127.0.0.1:P, and root's next command started a daemon that serves
 * again (D85). A host configured with P keeps sending the full token there, so whoever holds P may
 * have it: the new daemon rotates the tokens before serving on another port, and says so.
 */
import type { ChildProcess } from "node:child_process";
import { spawn, spawnSync } from "node:child_process";
import { createServer } from "node:net";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { alive, cli, cliJson, daemonPid, newHome, stopDaemon, until } from "./helpers/supervisor.js";

const isRoot = process.getuid?.() === 0;
const hasRunuser = spawnSync("runuser", ["--help"]).status === 0;
if (!isRoot || !hasRunuser)
  console.warn("security.port-squat: skipped: needs root and runuser (a second local user)");

const squatters: ChildProcess[] = [];
/** The squatters' own node processes (each prints its pid when it listens). */
const squatterPids: number[] = [];
afterEach(() => {
  // runuser waits on the node it started: killing runuser alone (or its process group, in a full
  // run) left that node listening after the run. The node goes by its own pid, then runuser.
  for (const pid of squatterPids.splice(0)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  for (const s of squatters.splice(0)) s.kill("SIGKILL");
});

/** A word on every squatter's command line, for finding the ones left. */
const SQUAT_MARK = "baton-port-squatter";

// No squatter outlives the file (they did: a node of nobody's listening after the run).
afterAll(async () => {
  if (!isRoot || !hasRunuser) return;
  const left = () => spawnSync("pgrep", ["-u", "nobody", "-f", SQUAT_MARK]).stdout.toString().trim();
  for (let i = 0; i < 50 && left() !== ""; i++) await new Promise((r) => setTimeout(r, 100));
  expect(left()).toBe("");
});

/** `nobody` listens on 127.0.0.1:port (like an attacker waiting for a host's token). */
function squat(port: number): Promise<void> {
  const program = `/* ${SQUAT_MARK} */ require("node:net").createServer((s) => s.destroy()).listen(${port}, "127.0.0.1", () => console.log("ready " + process.pid))`;
  const child = spawn("runuser", ["-u", "nobody", "--", process.execPath, "-e", program], {
    stdio: ["ignore", "pipe", "pipe"],
    cwd: "/",
  });
  squatters.push(child);
  return new Promise((resolve, reject) => {
    let text = "";
    child.stdout.on("data", (d: Buffer) => {
      text += d.toString();
      const ready = /ready (\d+)/.exec(text);
      if (ready) {
        squatterPids.push(Number(ready[1]));
        resolve();
      }
    });
    child.stderr.on("data", (d: Buffer) => (text += d.toString()));
    child.once("exit", (code) => reject(new Error(`squatter exited ${code}: ${text}`)));
  });
}

describe.skipIf(!isRoot || !hasRunuser)("D107 the remembered port squatted while the daemon was down", () => {
  it("the restarted daemon serves on another port with rotated tokens; the old token is refused there", async () => {
    const home = newHome();
    try {
      const first = cliJson(home, ["dashboard", "--no-open"]);
      const port = first.port as number;
      const oldFull = cliJson(home, ["token", "show"]).token as string;
      const oldReadOnly = cliJson(home, ["token", "show", "--read-only"]).token as string;
      const pid = daemonPid(home)!;
      process.kill(pid, "SIGKILL");
      await until("the daemon to die", () => !alive(pid));
      await squat(port);

      // Root's next command starts a daemon, which serves HTTP again (D85) — not on P.
      cliJson(home, ["run", "--wait", "--", "true"]);
      const status = await until("the daemon to serve again", () => {
        const s = cliJson(home, ["daemon", "status"]);
        return typeof s.dashboard === "string" ? s : undefined;
      });
      const moved = new URL(status.dashboard as string);
      expect(Number(moved.port)).not.toBe(port);
      const warning = `port ${port} was taken by another process; tokens rotated; reconfigure hosts with baton install-mcp`;
      expect(status.dashboardWarning).toBe(warning);
      expect(cli(home, ["daemon", "status"]).stdout).toContain(`WARNING: ${warning}`);
      const again = cliJson(home, ["dashboard", "--no-open"]);
      expect(again.warning).toBe(warning);
      // Red team L4: seen once is enough; every later `baton dashboard` printed it again.
      expect(cli(home, ["dashboard", "--no-open"]).stdout).not.toContain("WARNING");
      expect(cliJson(home, ["dashboard", "--no-open"]).warning).toBeUndefined();
      expect(cliJson(home, ["daemon", "status"]).dashboardWarning).toBe(warning);
      expect(readFileSync(join(home.dir, "daemon.log"), "utf8")).toContain(warning);

      const newFull = cliJson(home, ["token", "show"]).token as string;
      expect(newFull).not.toBe(oldFull);
      for (const token of [oldFull, oldReadOnly]) {
        const refused = await fetch(`${moved.origin}/api/jobs`, {
          headers: { authorization: `Bearer ${token}` },
        });
        expect(refused.status).toBe(401);
      }
      const ok = await fetch(`${moved.origin}/api/jobs`, { headers: { authorization: `Bearer ${newFull}` } });
      expect(ok.status).toBe(200);
    } finally {
      stopDaemon(home);
    }
  });
});

/** A port free right now (the kernel's pick, closed again). */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

describe.skipIf(!isRoot || !hasRunuser)(
  "red team M1: serve and mcp --http on a port another user holds",
  () => {
    it("the start fails PORT_IN_USE naming the uid and rotates the home's tokens; our own listener rotates nothing", async () => {
      const home = newHome();
      const port = await freePort();
      await squat(port);
      const token = () => cliJson(home, ["token", "show"]).token as string;
      let before = token();
      for (const args of [
        ["serve", "--port", String(port)],
        ["mcp", "--http", "--port", String(port)],
      ]) {
        const r = cli(home, args);
        expect(r.code, args.join(" ")).not.toBe(0);
        expect(r.stderr).toContain("PORT_IN_USE");
        expect(r.stderr).toContain(`port ${port} is held by uid 65534`);
        expect(r.stderr).toContain("tokens rotated; reconfigure hosts with baton install-mcp");
        const after = token();
        expect(after, args.join(" ")).not.toBe(before);
        before = after;
      }

      // A fixed token cannot be rotated: the warning says where it may have gone, and the home's stay.
      const fixed = cli(home, ["serve", "--port", String(port)], {
        env: { BATON_HTTP_TOKEN: "a-fixed-token-of-the-operator-123" },
      });
      expect(fixed.code).not.toBe(0);
      expect(fixed.stderr).toContain("WARNING");
      expect(fixed.stderr).toContain("may have reached uid 65534");
      expect(token()).toBe(before);

      // Our own listener (our second server, usually): plain PORT_IN_USE, nothing rotated.
      const own = createServer().listen(0, "127.0.0.1");
      await new Promise((resolve) => own.once("listening", resolve));
      try {
        const ownPort = (own.address() as { port: number }).port;
        const mine = cli(home, ["serve", "--port", String(ownPort)]);
        expect(mine.code).not.toBe(0);
        expect(mine.stderr).toContain("PORT_IN_USE");
        expect(mine.stderr).not.toContain("held by uid");
        expect(token()).toBe(before);
      } finally {
        own.close();
      }
    });
  },
);
