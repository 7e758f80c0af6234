/**
 * a daemon serves only calls for its own ledger. With a daemon running for a BATON_HOME, a
 * call that names another ledger (BATON_DATABASE_URL, `--database-url`, `database_url` in the
 * project's baton.yaml, or none of them while the daemon runs on PostgreSQL) must reach the ledger
 * it names, as it does when no daemon runs.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openEngine } from "../src/open.js";
import { PG_ENABLED, pgTestDatabase, warnIfPgSkipped } from "./helpers/pg.js";
import { cliJson, jobRows, newHome } from "./helpers/supervisor.js";

warnIfPgSkipped("R-33 the daemon's ledger");
const db = pgTestDatabase();

/** The names of the jobs in one PostgreSQL schema of the test database. */
async function pgNames(schema: string): Promise<string[]> {
  const { store } = await openEngine({ databaseUrl: db.url, databaseSchema: schema });
  try {
    return (await store.listJobs({}, { limit: 100 })).map((j) => j.name ?? "");
  } finally {
    await store.close();
  }
}

describe.skipIf(!PG_ENABLED)("R-33 a daemon serves only its own ledger", () => {
  beforeAll(() => db.setup());
  afterAll(() => db.teardown());

  it("R-33 a SQLite home's daemon: calls naming PostgreSQL (environment, flag, project config) reach PostgreSQL", async () => {
    const home = newHome();
    const schema = db.freshSchema();
    expect(cliJson(home, ["daemon", "start"]).running).toBe(true);
    cliJson(home, ["enqueue", "--name", "local", "{}"]);

    const env = { BATON_DATABASE_URL: db.url, BATON_DATABASE_SCHEMA: schema };
    cliJson(home, ["enqueue", "--name", "by-env", "{}"], { env });
    cliJson(home, ["enqueue", "--database-url", db.url, "--name", "by-flag", "{}"], {
      env: { BATON_DATABASE_SCHEMA: schema },
    });
    const project = join(home.dir, "project");
    mkdirSync(join(project, ".git"), { recursive: true });
    writeFileSync(join(project, "baton.yaml"), `database_url: ${db.url}\n`);
    cliJson(home, ["enqueue", "--name", "by-config", "{}"], {
      cwd: project,
      env: { BATON_DATABASE_SCHEMA: schema },
    });

    expect(jobRows(home).map((r) => r.name)).toEqual(["local"]);
    expect((await pgNames(schema)).sort()).toEqual(["by-config", "by-env", "by-flag"]);
  });

  it("R-33 a PostgreSQL home's daemon: a call naming no database reaches the home's SQLite file", async () => {
    const schema = db.freshSchema();
    const home = newHome({ BATON_DATABASE_URL: db.url, BATON_DATABASE_SCHEMA: schema });
    expect(cliJson(home, ["daemon", "start"]).running).toBe(true);
    cliJson(home, ["enqueue", "--name", "shared", "{}"]);
    cliJson(home, ["enqueue", "--name", "mine", "{}"], { env: { BATON_DATABASE_URL: "" } });
    // Another schema of the same server is another ledger too.
    const other = db.freshSchema();
    cliJson(home, ["enqueue", "--name", "other-schema", "{}"], { env: { BATON_DATABASE_SCHEMA: other } });

    expect(await pgNames(schema)).toEqual(["shared"]);
    expect(await pgNames(other)).toEqual(["other-schema"]);
    expect(jobRows(home).map((r) => r.name)).toEqual(["mine"]);
  });

  it("R-33 a command run for another ledger than the home daemon's runs to completion there (its own daemon)", async () => {
    const home = newHome();
    const schema = db.freshSchema();
    expect(cliJson(home, ["daemon", "start"]).running).toBe(true);
    const env = { BATON_DATABASE_URL: db.url, BATON_DATABASE_SCHEMA: schema };
    try {
      const byEnv = cliJson(home, ["run", "--wait", "--name", "pg-run", "--", "sh", "-c", "echo ran-in-pg"], {
        env,
      });
      expect(byEnv.state).toBe("succeeded");
      // Named by the project's baton.yaml only: the daemon it starts must open that ledger too.
      const project = join(home.dir, "project");
      mkdirSync(join(project, ".git"), { recursive: true });
      writeFileSync(join(project, "baton.yaml"), `database_url: ${db.url}\n`);
      const byConfig = cliJson(home, ["run", "--wait", "--name", "cfg-run", "--", "true"], {
        cwd: project,
        env: { BATON_DATABASE_SCHEMA: schema },
      });
      expect(byConfig.state).toBe("succeeded");
      const { store } = await openEngine({ databaseUrl: db.url, databaseSchema: schema });
      try {
        const jobs = await store.listJobs({}, { limit: 10 });
        expect(jobs.map((j) => [j.name, j.state]).sort()).toEqual([
          ["cfg-run", "succeeded"],
          ["pg-run", "succeeded"],
        ]);
      } finally {
        await store.close();
      }
      expect(cliJson(home, ["logs", byEnv.id], { env }).text).toContain("ran-in-pg");
      // The home's own daemon still serves the home's SQLite ledger.
      expect(cliJson(home, ["run", "--wait", "--name", "local", "--", "true"]).state).toBe("succeeded");
      expect(jobRows(home).map((r) => [r.name, r.state])).toEqual([["local", "succeeded"]]);
    } finally {
      cliJson(home, ["daemon", "stop"], { env });
    }
  });
});
