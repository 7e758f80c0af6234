/**
 * A full BATON_HOME with a PostgreSQL ledger (issue 17): the ledger has room, the home does not.
 * `baton run` used to queue the job, then fail writing its environment with
 * `INTERNAL` "ENOSPC … write" (exit 1) while the job was acknowledged and ended `failed` ("cannot
 * create the log folder"). Now the home is checked before anything is queued: STORAGE_FULL
 * (exit 5), nothing queued, and the same call succeeds once space returns.
 *
 * The disk can also fill after that check, before the environment is written (D140): that answered
 * `INTERNAL` (exit 1) with the job queued. The environment is now written before the job is, so the
 * answer is STORAGE_FULL with nothing queued there too. The test leaves room for the check's probe
 * and the folder's small files but not for a large environment, to hit that window every time.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, truncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PG_ENABLED, pgTestDatabase, warnIfPgSkipped } from "./helpers/pg.js";
import { cli, cliJson, stopDaemon } from "./helpers/supervisor.js";
import type { Home } from "./helpers/supervisor.js";
import { cannotMount, fill, mountTmpfs } from "./helpers/tmpfs.js";

warnIfPgSkipped("a full BATON_HOME with a PostgreSQL ledger");
const skipReason = PG_ENABLED ? cannotMount() : "BATON_TEST_DATABASE_URL is not set";
if (skipReason !== undefined) console.warn(`home disk-full suite skipped: ${skipReason}`);
const db = pgTestDatabase();

describe.skipIf(skipReason !== undefined)("a full BATON_HOME, PostgreSQL ledger", () => {
  beforeAll(() => db.setup());
  afterAll(() => db.teardown());

  it("run answers STORAGE_FULL (exit 5) with nothing queued, and works once space returns", () => {
    // Not tempDir(): its cleanup would run before the unmount.
    const mountPoint = mkdtempSync(join(tmpdir(), "baton-home-full-"));
    mountTmpfs(mountPoint, "8m");
    const home: Home = { dir: join(mountPoint, "home"), env: { BATON_DATABASE_URL: db.url } };
    mkdirSync(home.dir, { mode: 0o700 });
    try {
      expect(cli(home, ["daemon", "start"]).code).toBe(0);
      const filler = join(mountPoint, "filler");
      fill(filler);
      const full = cli(home, ["run", "--json", "--", "echo", "hello"]);
      expect(full.code, full.stdout + full.stderr).toBe(5);
      const error = (JSON.parse(full.stdout) as { error: { code: string; message: string } }).error;
      expect(error.code).toBe("STORAGE_FULL");
      expect(error.message).toContain("nothing was queued");
      expect(cliJson(home, ["list", "--all"]).total).toBe(0);

      rmSync(filler);
      const { id } = cliJson(home, ["run", "--", "echo", "hello"]);
      expect(cli(home, ["wait", id]).code).toBe(0);
      expect(cliJson(home, ["logs", id]).text).toBe("hello\n");
    } finally {
      stopDaemon(home);
      spawnSync("umount", ["-l", mountPoint]);
      rmSync(mountPoint, { recursive: true, force: true });
    }
  });

  it("a disk that fills between the check and the environment's write: STORAGE_FULL, nothing queued", () => {
    const mountPoint = mkdtempSync(join(tmpdir(), "baton-home-full-"));
    mountTmpfs(mountPoint, "8m");
    const home: Home = {
      dir: join(mountPoint, "home"),
      // A ledger of its own: the case above left its job in the default schema.
      env: { BATON_DATABASE_URL: db.url, BATON_DATABASE_SCHEMA: db.freshSchema() },
    };
    mkdirSync(home.dir, { mode: 0o700 });
    try {
      expect(cli(home, ["daemon", "start"]).code).toBe(0);
      const filler = join(mountPoint, "filler");
      const written = fill(filler);
      // 32 KiB free: the write check's one-byte probe and the run folder's ledger mark fit; an
      // environment of 64 KiB does not.
      truncateSync(filler, written - 32 * 1024);
      const big = { BIG: "x".repeat(64 * 1024) };
      const full = cli(home, ["run", "--json", "--", "echo", "hello"], { env: big });
      expect(full.code, full.stdout + full.stderr).toBe(5);
      const error = (JSON.parse(full.stdout) as { error: { code: string; message: string } }).error;
      expect(error.code).toBe("STORAGE_FULL");
      expect(error.message).toContain("nothing was queued");
      expect(cliJson(home, ["list", "--all"]).total).toBe(0);
      // The folder made for the job that was not queued is gone too.
      expect(readdirSync(join(home.dir, "runs")).filter((n) => !n.startsWith("."))).toEqual([]);

      rmSync(filler);
      const { id } = cliJson(home, ["run", "--", "sh", "-c", 'printf "%s" "${#BIG}"'], { env: big });
      expect(cli(home, ["wait", id]).code).toBe(0);
      expect(cliJson(home, ["logs", id]).text).toBe(String(64 * 1024));
    } finally {
      stopDaemon(home);
      spawnSync("umount", ["-l", mountPoint]);
      rmSync(mountPoint, { recursive: true, force: true });
    }
  });
});
