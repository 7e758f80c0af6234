/**
 * The rest of the background-command surface: `ps`, `logs -f`, `wait` across a daemon restart,
 * `daemon stop|restart` leaving commands running, and shell completion scripts.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  FIXTURES,
  alive,
  cli,
  cliAsync,
  cliJson,
  daemonPid,
  gatedCommand,
  groupMembers,
  makeGate,
  newHome,
  openGate,
  processRecords,
  until,
} from "./helpers/supervisor.js";

describe("baton ps, logs -f, wait and the daemon verbs", () => {
  it("ps lists the project's commands; logs -f streams a running command until it ends", async () => {
    const home = newHome();
    const gate = makeGate(join(home.dir, "gate"));
    const script = 'echo before; read x < "$1"; echo after; exit 0';
    const { id } = cliJson(home, ["run", "--name", "talky", "--", "sh", "-c", script, "t", gate]);
    await until("it to print", () => cliJson(home, ["logs", id]).text === "before\n");
    const ps = cli(home, ["ps"]);
    expect(ps.code).toBe(0);
    expect(ps.stdout).toContain(id.slice(-6)); // the short id (D59)
    expect(ps.stdout).toContain("talky");
    expect(ps.stdout).toContain("running");

    const following = cliAsync(home, ["logs", id, "-f"]);
    await until("the follower to attach", () => processRecords(home).length === 1);
    await new Promise((r) => setTimeout(r, 500));
    await openGate(gate, () => cliJson(home, ["logs", id]).text.includes("after"));
    const followed = await following;
    expect(followed.code).toBe(0);
    expect(followed.stdout).toBe("before\nafter\n");
  });

  it("wait survives the daemon being killed: it restarts it and returns the command's code", async () => {
    const home = newHome();
    const gate = makeGate(join(home.dir, "gate"));
    const { id } = cliJson(home, ["run", "--", ...gatedCommand(gate, 6)]);
    await until("it to run", () => processRecords(home).length === 1);
    const waiting = cliAsync(home, ["wait", id]);
    await new Promise((r) => setTimeout(r, 800));
    const first = daemonPid(home)!;
    process.kill(first, "SIGKILL");
    await until("a new daemon", () => {
      const pid = daemonPid(home);
      return pid !== undefined && pid !== first && alive(pid);
    });
    await openGate(gate, () => cliJson(home, ["status", id]).job.state !== "running");
    expect((await waiting).code).toBe(6);
  });

  it("daemon stop leaves commands running; daemon restart re-attaches and records them", async () => {
    const home = newHome();
    const { id } = cliJson(home, ["run", "--", "sh", join(FIXTURES, "hang.sh"), "60"]);
    await until("it to run", () => processRecords(home).length === 1);
    const [record] = processRecords(home);
    expect(cliJson(home, ["daemon", "stop"])).toEqual({ stopped: true });
    expect(cliJson(home, ["daemon", "status"]).running).toBe(false);
    expect(groupMembers(record!.pid).length).toBeGreaterThan(0);
    expect(cliJson(home, ["daemon", "stop"])).toEqual({ stopped: false });

    const restarted = cliJson(home, ["daemon", "restart"]);
    expect(restarted).toMatchObject({ running: true, runningJobs: 1 });
    expect(cliJson(home, ["stop", id]).state).toBe("cancelled");
    expect(groupMembers(record!.pid)).toEqual([]);
    const again = cliJson(home, ["daemon", "restart"]);
    expect(again.pid).not.toBe(restarted.pid);
  });
});

describe("baton completion", () => {
  it("bash, zsh and fish scripts ask baton for the commands and parse in their shell; another shell is a usage error", () => {
    const home = newHome();
    const dir = mkdtempSync(join(tmpdir(), "bsv-completion-"));
    try {
      // The scripts name no command themselves (D97): they ask `baton __complete`, which does.
      const words = cli(home, ["__complete", "--", ""]);
      expect(words.code, words.stderr).toBe(0);
      const offered = words.stdout.split("\n");
      for (const word of ["run", "logs", "wait", "stop", "daemon", "ps"]) expect(offered).toContain(word);
      for (const shell of ["bash", "zsh", "fish"]) {
        const result = cli(home, ["completion", shell]);
        expect(result.code, result.stderr).toBe(0);
        expect(result.stdout).toContain("baton __complete");
        const file = join(dir, `baton.${shell}`);
        writeFileSync(file, result.stdout);
        const check = spawnSync(shell, shell === "fish" ? ["--no-execute", file] : ["-n", file]);
        if (check.error === undefined) expect(check.status, `${shell}: ${String(check.stderr)}`).toBe(0);
      }
      const bad = cli(home, ["completion", "tcsh"]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain("bash, zsh or fish");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
