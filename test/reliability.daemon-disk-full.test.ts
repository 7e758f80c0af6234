/**
 * the disk fills up while a command ends. BATON_HOME is a real 8 MiB tmpfs; the daemon runs a
 * command that fills it and then exits 7. The daemon must stay up (no write path of it may reject
 * unhandled), and once space returns the job must be recorded with its real exit code, 7: the
 * wrapper keeps it beside the logs even on a full disk, and the daemon records it when the store is
 * writable again.
 *
 * Mounting needs root (CAP_SYS_ADMIN). Where that is missing the suite is skipped and says why.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, statfsSync, truncateSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { alive, attemptRows, cli, cliJson, daemonPid, jobRow, sleep, until } from "./helpers/supervisor.js";
import type { Home } from "./helpers/supervisor.js";
import { cannotMount, mountTmpfs } from "./helpers/tmpfs.js";

const skipReason = cannotMount();
if (skipReason !== undefined) console.warn(`R-39 daemon disk-full suite skipped: ${skipReason}`);

describe.skipIf(skipReason !== undefined)(
  "R-39 disk full while commands end (daemon on a small tmpfs)",
  () => {
    let mountPoint: string | undefined;
    let home: Home | undefined;

    afterAll(() => {
      if (home !== undefined) cli(home, ["daemon", "stop"]);
      if (mountPoint !== undefined) {
        spawnSync("umount", ["-l", mountPoint]);
        rmSync(mountPoint, { recursive: true, force: true });
      }
    });

    it("R-39 a command fills the disk and exits 7: the daemon stays up and records exit code 7 once space returns", async () => {
      mountPoint = mkdtempSync(join(tmpdir(), "baton-r39-"));
      mountTmpfs(mountPoint, "8m");
      home = { dir: join(mountPoint, "home"), env: {} };
      mkdirSync(home.dir, { mode: 0o700 });
      const filler = join(mountPoint, "fill");

      const daemon = cliJson(home, ["daemon", "start"]).pid as number;
      const { id } = cliJson(home, [
        "run",
        "--",
        "sh",
        "-c",
        'head -c 100000000 /dev/zero > "$0"; exit 7',
        filler,
      ]);
      await until("the disk to be full", () => statfsSync(mountPoint!).bavail === 0, 20_000);
      // The command has ended on a full disk; the daemon tries to record it and cannot.
      await sleep(6500); // a lock renewal (every 5 s) and heartbeats meet the full disk too
      expect(alive(daemon), "the daemon is still up").toBe(true);
      expect(daemonPid(home)).toBe(daemon);
      expect(jobRow(home, id).state).toBe("running");

      rmSync(filler);
      await until("the job to be recorded", () => jobRow(home!, id).state !== "running", 15_000);
      expect(jobRow(home, id)).toMatchObject({ state: "failed", error: "exit code 7" });
      expect(attemptRows(home, id).map((a) => a.exit_code)).toEqual([7]);
      expect(alive(daemon), "the same daemon recorded it").toBe(true);
      expect(daemonPid(home)).toBe(daemon);
    }, 60_000);
  },
);

describe.skipIf(skipReason !== undefined)("R-39 disk full: the daemon's own log cannot grow", () => {
  let mountPoint: string | undefined;
  let home: Home | undefined;

  afterAll(() => {
    if (home !== undefined) cli(home, ["daemon", "stop"]);
    if (mountPoint !== undefined) {
      spawnSync("umount", ["-l", mountPoint]);
      rmSync(mountPoint, { recursive: true, force: true });
    }
  });

  it("R-39 daemon.log meets ENOSPC on every line: the daemon stays up, drops the lines, says so once space returns, and records exit code 7", async () => {
    // Issue 17, stranger finding 2: on a full tmpfs the daemon died silently, its daemon.log cut
    // mid-line: a failed write to its own stderr (a file) is an 'error' event nobody handled.
    mountPoint = mkdtempSync(join(tmpdir(), "baton-r39-log-"));
    mountTmpfs(mountPoint, "8m");
    home = { dir: join(mountPoint, "home"), env: {} };
    mkdirSync(home.dir, { mode: 0o700 });
    const filler = join(mountPoint, "fill");
    const logFile = join(home.dir, "daemon.log");

    const daemon = cliJson(home, ["daemon", "start"]).pid as number;
    const { id } = cliJson(home, [
      "run",
      "--",
      "sh",
      "-c",
      'head -c 100000000 /dev/zero > "$0"; exit 7',
      filler,
    ]);
    await until("the disk to be full", () => statfsSync(mountPoint!).bavail === 0, 20_000);
    // tmpfs gives a file space a page at a time: a line still fits in daemon.log's last page. Make
    // the file end on a page boundary (a sparse extension needs no space), so every next line
    // needs a new page, and the disk has none.
    const size = statSync(logFile).size;
    truncateSync(logFile, (Math.floor(size / 4096) + 1) * 4096);
    const padded = statSync(logFile).size;
    await sleep(6500); // recording the end fails and is logged; so do a lock renewal and heartbeats
    expect(alive(daemon), "the daemon is still up").toBe(true);
    expect(statSync(logFile).size, "no line could be written").toBe(padded);
    expect(jobRow(home, id).state).toBe("running");

    rmSync(filler);
    await until("the job to be recorded", () => jobRow(home!, id).state !== "running", 15_000);
    expect(jobRow(home, id)).toMatchObject({ state: "failed", error: "exit code 7" });
    expect(attemptRows(home, id).map((a) => a.exit_code)).toEqual([7]);
    expect(alive(daemon), "the same daemon recorded it").toBe(true);
    expect(daemonPid(home)).toBe(daemon);
    // Once it can write again, the daemon says how many lines it lost.
    await until(
      "the log to say lines were dropped",
      () => /\d+ log lines? dropped/.test(readFileSync(logFile, "utf8").replaceAll("\0", "")),
      15_000,
    );
  }, 60_000);
});
