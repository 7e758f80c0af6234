/**
 * the disk fills up while a command ends. BATON_HOME is a real 8 MiB tmpfs; the daemon runs a
 * command that fills it and then exits 7. The daemon must stay up (no write path of it may reject
 * unhandled), and once space returns the job must be recorded with its real exit code, 7: the
 * wrapper keeps it beside the logs even on a full disk, and the daemon records it when the store is
 * writable again.
 *
 * Mounting needs root (CAP_SYS_ADMIN). Where that is missing the suite is skipped and says why.
 */
import { mkdirSync, mkdtempSync, rmSync, statfsSync } from "node:fs";
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
