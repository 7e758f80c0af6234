/**
 * `explain` on a full BATON_HOME (issue 17 #3): a queued command the daemon cannot start because
 * the home's disk is full was said to be "ready; the daemon will start it within a moment" while
 * daemon.log said "could not start queued commands: … database or disk is full". "It is ready" is
 * said only when nothing holds it (D61): the full disk holds it, and explain says so.
 *
 * BATON_HOME is a real 8 MiB tmpfs. Mounting needs root (CAP_SYS_ADMIN); elsewhere the suite is
 * skipped and says why.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cli, cliJson, daemonPid, jobRow, until } from "./helpers/supervisor.js";
import type { Home } from "./helpers/supervisor.js";
import { cannotMount, fill, mountTmpfs } from "./helpers/tmpfs.js";

const skipReason = cannotMount();
if (skipReason !== undefined) console.warn(`explain disk-full suite skipped: ${skipReason}`);

describe.skipIf(skipReason !== undefined)("explain on a full BATON_HOME (tmpfs)", () => {
  let mountPoint: string | undefined;
  let home: Home | undefined;
  let frozen: number | undefined;

  afterAll(() => {
    if (frozen !== undefined) process.kill(frozen, "SIGCONT");
    if (home !== undefined) cli(home, ["daemon", "stop"]);
    if (mountPoint !== undefined) {
      spawnSync("umount", ["-l", mountPoint]);
      rmSync(mountPoint, { recursive: true, force: true });
    }
  });

  it("a queued command on a full disk is held by the disk, not 'ready'; once space returns it runs", async () => {
    mountPoint = mkdtempSync(join(tmpdir(), "baton-explain-full-"));
    mountTmpfs(mountPoint, "8m");
    home = { dir: join(mountPoint, "home"), env: {} };
    mkdirSync(home.dir, { mode: 0o700 });
    const h = home;
    cliJson(h, ["daemon", "start"]);
    // Queued while everything is paused, then made due while the daemon is stopped, so that it is
    // first looked at by the daemon on a full disk.
    cliJson(h, ["pause", "--all"]);
    const { id } = cliJson(h, ["run", "--", "true"]) as { id: string };
    expect(jobRow(h, id).state).toBe("queued");
    const pid = daemonPid(h)!;
    process.kill(pid, "SIGSTOP");
    frozen = pid;
    expect(cli(h, ["unpause", "--all"], { env: { BATON_DIRECT: "1" } }).code).toBe(0);
    const filler = join(mountPoint, "fill");
    fill(filler);
    process.kill(pid, "SIGCONT");
    frozen = undefined;

    const explained = cliJson(h, ["explain", id]) as { state: string; reasons: string[] };
    expect(explained.state).toBe("queued");
    const said = explained.reasons.join(" ");
    expect(said).not.toContain("it is ready");
    expect(said).toContain(`the disk holding BATON_HOME ${h.dir} is full`);

    rmSync(filler);
    await until("the job to run once space returns", () => jobRow(h, id).state === "succeeded", 30_000);
  }, 90_000);
});
