/**
 * Run folders of a home shared by two ledgers (D134): one BATON_HOME used with two schemas of one
 * PostgreSQL database (docs/postgres.md: several ledgers may share a database). The sweep of run
 * folders whose job "the ledger no longer has" must judge only the folders of its own ledger:
 * `clean` and `daemon start` under one schema once removed the other schema's folders, a running
 * command's and a pending retry's environment included.
 */
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PG_ENABLED, pgTestDatabase, warnIfPgSkipped } from "./helpers/pg.js";
import type { Home } from "./helpers/supervisor.js";
import { cli, cliJson, newHome, stopDaemon, until } from "./helpers/supervisor.js";

warnIfPgSkipped("run folders of two schemas in one home");
const db = pgTestDatabase();

describe.skipIf(!PG_ENABLED)("two schemas of one database in one BATON_HOME", () => {
  beforeAll(() => db.setup());
  afterAll(() => db.teardown());

  it("clean and daemon start under one schema leave the other schema's run folders alone", async () => {
    const home = newHome({ BATON_DATABASE_URL: db.url }); // the default schema
    const other: Home = { dir: home.dir, env: { ...home.env, BATON_DATABASE_SCHEMA: "other" } };
    const runs = join(home.dir, "runs");
    const gate = join(home.dir, "gate");
    try {
      const done = cliJson(home, ["run", "--", "sh", "-c", "echo kept"]).id as string;
      expect(cli(home, ["wait", done]).code).toBe(0);
      // Attempt 1 prints, waits for the gate and fails; the retry prints the caller's environment.
      const script =
        `if [ -e ${gate}.1 ]; then echo "mark=$S17_MARK"; exit 0; fi; touch ${gate}.1; echo first; ` +
        `while [ ! -e ${gate} ]; do sleep 0.1; done; exit 1`;
      const retried = cliJson(home, ["run", "--retries", "1", "--", "sh", "-c", script], {
        env: { S17_MARK: "from-the-caller" },
      }).id as string;
      await until("attempt 1 printing", () => cliJson(home, ["logs", retried]).text === "first\n", 30_000);

      // The other schema's ledger: clean (no daemon), then its daemon, which sweeps as it starts.
      expect(cliJson(other, ["clean", "--older-than", "1d"]).deleted).toBe(0);
      expect(cli(other, ["daemon", "start"]).code).toBe(0);
      const own = cliJson(other, ["run", "--", "sh", "-c", "echo other"]).id as string;
      expect(cli(other, ["wait", own]).code).toBe(0); // its daemon has recovered and swept by now
      for (const id of [done, retried]) expect(existsSync(join(runs, id)), id).toBe(true);
      expect(existsSync(join(runs, retried, "env"))).toBe(true);

      // Its own leftovers are still swept: a folder marked as the other ledger's, with no job.
      const orphan = join(runs, "01JYYYYYYYYYYYYYYYYYYYYYYY");
      mkdirSync(join(orphan, "1"), { recursive: true });
      writeFileSync(join(orphan, "1", "output.log"), "left behind\n");
      copyFileSync(join(runs, own, "ledger"), join(orphan, "ledger"));
      cliJson(other, ["clean", "--older-than", "1d"]);
      expect(existsSync(orphan)).toBe(false);
      for (const id of [done, retried, own]) expect(existsSync(join(runs, id)), id).toBe(true);

      // The retry runs with the caller's environment, kept through the other ledger's sweeps.
      writeFileSync(gate, "");
      expect(cli(home, ["wait", retried]).code).toBe(0);
      expect(cliJson(home, ["logs", retried]).text).toBe("mark=from-the-caller\n");
      expect(cliJson(home, ["logs", done]).text).toBe("kept\n");

      // A folder removed by hand: NOT_FOUND says so, and does not send the caller to another home.
      rmSync(join(runs, done), { recursive: true });
      const gone = cli(home, ["logs", done, "--json"]);
      expect(gone.code).not.toBe(0);
      const error = (JSON.parse(gone.stdout) as { error: { code: string; message: string } }).error;
      expect(error.code).toBe("NOT_FOUND");
      expect(error.message).toContain("it ran in this home");
      expect(error.message).not.toContain("another BATON_HOME");
    } finally {
      writeFileSync(gate, "");
      stopDaemon(other);
      stopDaemon(home);
    }
  });
});
