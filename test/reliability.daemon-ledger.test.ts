/**
 * a daemon serves only calls for its own ledger. With a daemon running for a BATON_HOME, a
 * call that names another ledger (BATON_DATABASE_URL, `--database-url`, `database_url` in the
 * project's baton.yaml, or none of them while the daemon runs on PostgreSQL) must reach the ledger
 * it names, as it does when no daemon runs.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openEngine } from "../src/open.js";
import { BIN } from "./helpers/cli.js";
import { PG_ENABLED, pgTestDatabase, warnIfPgSkipped } from "./helpers/pg.js";
import { cli, cliJson, FIXTURES, jobRows, newHome } from "./helpers/supervisor.js";

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

  it("R-33 wait and logs of a run on another ledger than the home daemon's, named by the environment or by --database-url, find the job", async () => {
    // Issue 17, stranger finding 3: they answered JOB_NOT_FOUND (looked in the home's SQLite file).
    const home = newHome();
    const schema = db.freshSchema();
    expect(cliJson(home, ["daemon", "start"]).running).toBe(true);
    const env = { BATON_DATABASE_URL: db.url, BATON_DATABASE_SCHEMA: schema };
    const flag = ["--database-url", db.url];
    const schemaOnly = { BATON_DATABASE_SCHEMA: schema };
    try {
      const byEnv = cliJson(home, ["run", "--name", "env-run", "--", "sh", "-c", "sleep 1; echo via-env"], {
        env,
      });
      const waited = cli(home, ["wait", byEnv.id, "--timeout", "60s", "--json"], { env });
      expect(waited.code, waited.stdout + waited.stderr).toBe(0);
      expect(JSON.parse(waited.stdout).data).toMatchObject({ id: byEnv.id, state: "succeeded" });
      expect(cliJson(home, ["logs", byEnv.id], { env }).text).toBe("via-env\n");
      expect(cli(home, ["logs", "-f", byEnv.id], { env })).toMatchObject({ code: 0, stdout: "via-env\n" });

      const byFlag = cliJson(
        home,
        ["run", ...flag, "--name", "flag-run", "--", "sh", "-c", "sleep 1; echo via-flag; exit 3"],
        { env: schemaOnly },
      );
      const waitedFlag = cli(home, ["wait", ...flag, byFlag.id, "--timeout", "60s", "--json"], {
        env: schemaOnly,
      });
      expect(waitedFlag.code, waitedFlag.stdout + waitedFlag.stderr).toBe(3);
      expect(JSON.parse(waitedFlag.stdout).data).toMatchObject({ id: byFlag.id, state: "failed" });
      expect(cliJson(home, ["logs", ...flag, byFlag.id], { env: schemaOnly }).text).toBe("via-flag\n");
      expect(cli(home, ["logs", ...flag, "-f", byFlag.id], { env: schemaOnly })).toMatchObject({
        code: 3,
        stdout: "via-flag\n",
      });
      // By name too, and the home's ledger does not know either job.
      expect(cli(home, ["wait", ...flag, "flag-run", "--timeout", "10s"], { env: schemaOnly }).code).toBe(3);
      expect(jobRows(home)).toEqual([]);
      const local = cli(home, ["wait", byEnv.id, "--timeout", "5s", "--json"]);
      expect(JSON.parse(local.stdout).error.code).toBe("JOB_NOT_FOUND");
    } finally {
      cliJson(home, ["daemon", "stop"], { env });
    }
  });

  it("hints printed after a call with --database-url name that ledger; a URL with a password is read from BATON_DATABASE_URL in them, never printed", () => {
    // Issue 17 (tester finding): `next` hints left the flag out, so a copied hint talked to the
    // home's ledger (JOB_NOT_FOUND there, or another job of the same name).
    const home = newHome();
    const schema = db.freshSchema();
    const schemaOnly = { BATON_DATABASE_SCHEMA: schema };
    const SECRET = "s3cret-pw";
    const parsed = new URL(db.url);
    parsed.password = SECRET;
    const secretUrl = parsed.toString();
    try {
      const human = cli(home, ["run", "--database-url", db.url, "--", "true"], { env: schemaOnly });
      expect(human.code, human.stderr).toBe(0);
      const wait = /wait: (baton wait \S+ --database-url \S+)/.exec(human.stdout)?.[1];
      expect(wait, human.stdout).toBeDefined();
      // The copy, run as printed (nothing else names the ledger), finds the job.
      const copied = cli(home, [...wait!.split(" ").slice(1), "--timeout", "30s"], { env: schemaOnly });
      expect(copied.code, copied.stdout + copied.stderr).toBe(0);

      const data = cliJson(home, ["run", "--database-url", db.url, "--", "true"], { env: schemaOnly });
      expect(data.check.status).toBe(`baton status ${data.id} --database-url ${db.url}`);
      expect(cli(home, (data.check.status as string).split(" ").slice(1), { env: schemaOnly }).code).toBe(0);
      expect(existsSync(join(home.dir, "baton.db")), "nothing went to the home's SQLite ledger").toBe(false);

      // With a password: the hint reads the URL from the environment; the secret is never printed.
      // The first URL's daemon keeps running and serves these calls: the password does not make
      // another ledger (D121).
      const secret = cli(home, ["run", "--database-url", secretUrl, "--json", "--", "true"], {
        env: schemaOnly,
      });
      const humanSecret = cli(home, ["run", "--database-url", secretUrl, "--", "true"], { env: schemaOnly });
      for (const r of [secret, humanSecret]) {
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout + r.stderr).not.toContain(SECRET);
      }
      expect(humanSecret.stdout).toContain(`--database-url "$BATON_DATABASE_URL"`);
      const status = JSON.parse(secret.stdout).data.check.status as string;
      const id = JSON.parse(secret.stdout).data.id as string;
      expect(status).toBe(`baton status ${id} --database-url "$BATON_DATABASE_URL"`);
      const inShell = (env: Record<string, string>) => {
        const childEnv: NodeJS.ProcessEnv = { ...process.env, BATON_HOME: home.dir, ...schemaOnly, ...env };
        if (env.BATON_DATABASE_URL === undefined) delete childEnv.BATON_DATABASE_URL;
        return spawnSync("sh", ["-c", status.replace(/^baton /, `"${process.execPath}" "${BIN}" `)], {
          env: childEnv,
          encoding: "utf8",
        });
      };
      const set = inShell({ BATON_DATABASE_URL: secretUrl });
      expect(set.status, set.stdout + set.stderr).toBe(0);
      expect(set.stdout).toContain(id);
      // Unset, the copy is refused rather than sent to another ledger.
      const unset = inShell({});
      expect(unset.status).toBe(2);
      expect(unset.stderr).toContain("--database-url is empty");
    } finally {
      cli(home, ["daemon", "stop", "--database-url", db.url], { env: schemaOnly });
      cli(home, ["daemon", "stop", "--database-url", secretUrl], { env: schemaOnly });
      cli(home, ["daemon", "stop"]);
    }
  });

  it("an operation's refusal that names a command (agent continue's `baton wait`) carries --database-url", () => {
    // Issue 17: `continue it once it finished (baton wait <id>)` left the ledger out, so a copy
    // waited on the home's SQLite ledger (JOB_NOT_FOUND there).
    const home = newHome();
    const env = { BATON_DATABASE_SCHEMA: db.freshSchema() };
    const ledger = ["--database-url", db.url];
    const fake = JSON.stringify([process.execPath, join(FIXTURES, "fake-agent.mjs"), "-p", "{instructions}"]);
    try {
      const hang = cliJson(home, ["agent", "submit", ...ledger, "-a", "fake", "--command", fake, "HANG"], {
        env,
      });
      const early = cli(home, ["agent", "continue", ...ledger, hang.id, "more", "--json"], { env });
      expect(JSON.parse(early.stdout).error).toMatchObject({
        code: "INVALID_TRANSITION",
        message: expect.stringContaining(`(baton wait ${hang.id} --database-url ${db.url})`),
      });
      cliJson(home, ["agent", "cancel", ...ledger, hang.id], { env });
    } finally {
      cli(home, ["daemon", "stop", ...ledger], { env });
      cli(home, ["daemon", "stop"]);
    }
  });
});
