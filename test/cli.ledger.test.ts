/**
 * `baton migrate`, `baton export`, `baton import` and the choice of the ledger (--database-url >
 * BATON_DATABASE_URL > baton.yaml > config.yaml > SQLite), through the built CLI.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CliResult } from "./helpers/cli.js";
import { baton, envelope } from "./helpers/cli.js";
import { PG_ENABLED, pgTestDatabase, warnIfPgSkipped } from "./helpers/pg.js";
import { tempDir } from "./helpers/tmp.js";

warnIfPgSkipped("CLI migrate/export/import");
const db = pgTestDatabase();
const SECRET = "s3cret-pw";
const DOWN = `postgres://baton:${SECRET}@127.0.0.1:1/nowhere`;

function newHome(): { home: string; project: string } {
  const home = tempDir("baton-cli-ledger-");
  const project = join(home, "project");
  mkdirSync(join(project, ".git"), { recursive: true });
  return { home, project };
}

function run(
  args: string[],
  where: { home: string; project: string },
  env: NodeJS.ProcessEnv = {},
  input?: string,
): CliResult {
  const result = baton(args, {
    home: where.home,
    cwd: where.project,
    env: { BATON_DATABASE_URL: "", ...env },
    ...(input === undefined ? {} : { input }),
  });
  expect(`${result.stdout}${result.stderr}`, `output of baton ${args.join(" ")}`).not.toContain(SECRET);
  return result;
}

function ok(args: string[], where: { home: string; project: string }, env: NodeJS.ProcessEnv = {}): any {
  const result = run([...args, "--json"], where, env);
  expect({ code: result.code, stderr: result.stderr }, `baton ${args.join(" ")}`).toEqual({
    code: 0,
    stderr: "",
  });
  return envelope(result).data;
}

function withPassword(url: string): string {
  const parsed = new URL(url);
  parsed.password = SECRET;
  return parsed.toString();
}

describe("baton migrate on SQLite", () => {
  it("applies every migration once, then has nothing to do", () => {
    const where = newHome();
    const first = ok(["migrate"], where);
    expect(first).toMatchObject({ store: "sqlite", location: join(where.home, "baton.db") });
    expect(first.applied.length).toBeGreaterThan(0);
    expect(first.version).toBe(first.applied[first.applied.length - 1]);
    expect(ok(["migrate"], where)).toMatchObject({ applied: [], version: first.version });
    expect(run(["migrate"], where).stdout).toMatch(/schema up to date/);
  });
});

describe.skipIf(!PG_ENABLED)("the ledger's database on PostgreSQL from the CLI", () => {
  beforeAll(() => db.setup());
  afterAll(() => db.teardown());

  it("migrate with --database-url (before or after the command) prints versions, never the password", () => {
    const where = newHome();
    const url = withPassword(db.url);
    const env = { BATON_DATABASE_SCHEMA: db.freshSchema() };
    const first = ok(["--database-url", url, "migrate"], where, env);
    expect(first.store).toBe("postgres");
    expect(first.location).toContain(":***@");
    expect(first.applied.length).toBeGreaterThan(0);
    expect(ok(["migrate", `--database-url=${url}`], where, env).applied).toEqual([]);
    const missing = run(["migrate", "--database-url"], where, env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--database-url needs a value/);
  });

  it("red team L2: an sslmode no client knows is INVALID_INPUT naming sslmode, the password masked (it was INTERNAL from the server)", () => {
    const where = newHome();
    const url = `${withPassword(db.url)}${db.url.includes("?") ? "&" : "?"}sslmode=bogus`;
    for (const env of [{ BATON_DATABASE_URL: url }, {}]) {
      const args =
        Object.keys(env).length === 0 ? ["--database-url", url, "list", "--json"] : ["list", "--json"];
      const result = run(args, where, env);
      expect(result.code).not.toBe(0);
      const error = envelope(result).error!;
      expect(error.code).toBe("INVALID_INPUT");
      expect(error.message).toContain('sslmode="bogus"');
      expect(error.message).toContain("verify-full");
      expect(error.message).toContain(":***@");
    }
  });

  it("export and import demand TLS as every command does: sslmode=require on a server without TLS is STORE_UNAVAILABLE, nothing read or written in clear text", () => {
    const where = newHome();
    const env = { BATON_DATABASE_SCHEMA: db.freshSchema() };
    const sep = db.url.includes("?") ? "&" : "?";
    const file = join(where.home, "ledger.ndjson");
    writeFileSync(file, "");
    for (const query of ["sslmode=require", "sslmode=verify-full"]) {
      const url = `${withPassword(db.url)}${sep}${query}`;
      const list = run(["--database-url", url, "list", "--json"], where, env);
      expect(list.code).toBe(5);
      const { code, message } = envelope(list).error!;
      expect(code).toBe("STORE_UNAVAILABLE");
      expect(message).toMatch(/does not support TLS/);
      for (const args of [["export"], ["import", file]]) {
        const result = run(["--database-url", url, ...args], where, env);
        expect({ code: result.code, stdout: result.stdout }, `baton ${args[0]} ?${query}`).toEqual({
          code: 5,
          stdout: "",
        });
        expect(result.stderr).toBe(`baton: error: ${message} (${code})\n`);
      }
    }
    // A repeated TLS parameter is refused before any connection (pg would take the last: plain text).
    const repeated = `${withPassword(db.url)}${sep}sslmode=require&sslmode=disable`;
    const refused = run(["--database-url", repeated, "export"], where, env);
    expect({ code: refused.code, stdout: refused.stdout }).toEqual({ code: 2, stdout: "" });
    expect(refused.stderr).toMatch(/sslmode is given 2 times .*\(INVALID_INPUT\)/);
  });

  it("precedence: flag > BATON_DATABASE_URL > baton.yaml > config.yaml > SQLite", () => {
    const where = newHome();
    const url = withPassword(db.url);
    const env = { BATON_DATABASE_SCHEMA: db.freshSchema() };
    const kind = (args: string[], extra: NodeJS.ProcessEnv = {}) =>
      ok([...args, "health"], where, { ...env, ...extra }).store.kind;

    expect(kind([])).toBe("sqlite");
    writeFileSync(join(where.home, "config.yaml"), `database_url: ${url}\n`);
    expect(kind([])).toBe("postgres");
    writeFileSync(join(where.project, "baton.yaml"), `database_url: ${DOWN}\n`);
    expect(run(["health", "--json"], where, env).code).toBe(5); // the project's URL wins over the personal one
    expect(kind([], { BATON_DATABASE_URL: url })).toBe("postgres"); // the environment wins over both
    expect(kind(["--database-url", url], { BATON_DATABASE_URL: DOWN })).toBe("postgres"); // the flag wins over all
    // baton config validate accepts the key (and checks it is a PostgreSQL URL).
    writeFileSync(join(where.project, "baton.yaml"), `database_url: ${url}\n`);
    expect(run(["config", "validate"], where, env).code).toBe(0);
    writeFileSync(join(where.project, "baton.yaml"), "database_url: mysql://x/y\n");
    const invalid = run(["config", "validate", "--json"], where, { ...env, BATON_DATABASE_URL: url });
    expect(invalid.stdout).toMatch(/database_url.*postgres:\/\//);
  });

  it("export from SQLite, import into PostgreSQL, export again and import into a fresh SQLite home", () => {
    const sqliteHome = newHome();
    const first = ok(["enqueue", '{"file":"a.ts"}', "-t", "edit", "-n", "first", "-w", "wf"], sqliteHome);
    ok(["enqueue", '{"file":"b.ts"}', "-t", "edit", "-n", "second", "-w", "wf"], sqliteHome);
    const claimed = ok(["claim", "-t", "edit", "--owner", "mover"], sqliteHome).claimed[0];
    ok(["complete", claimed.job.id, "--token", claimed.token, "-e", "done before the move"], sqliteHome);
    const listBefore = ok(["list", "--all"], sqliteHome);
    const shownBefore = ok(["show", first.jobs[0].id], sqliteHome);

    const file = join(sqliteHome.home, "ledger.ndjson");
    const exported = run(["export", "-o", file], sqliteHome);
    expect(exported.code).toBe(0);
    expect(exported.stderr).toMatch(/exported 2 jobs/);
    expect(run(["export", "-o", file], sqliteHome).code).toBe(2); // never overwrites

    const pgHome = newHome();
    const pgEnv = { BATON_DATABASE_URL: withPassword(db.url), BATON_DATABASE_SCHEMA: db.freshSchema() };
    const imported = ok(["import", file], pgHome, pgEnv);
    expect(imported.inserted.jobs).toBe(2);
    expect(ok(["list", "--all"], pgHome, pgEnv)).toEqual(listBefore);
    expect(ok(["show", first.jobs[0].id], pgHome, pgEnv)).toEqual(shownBefore);
    // A second import into the now non-empty ledger is refused; --force adds nothing new.
    const again = run(["import", file, "--json"], pgHome, pgEnv);
    expect(again.code).toBe(2);
    expect(envelope(again).error?.message).toMatch(/not empty/);
    expect(ok(["import", file, "--force"], pgHome, pgEnv).inserted.jobs).toBe(0);

    const fromPg = run(["export"], pgHome, pgEnv);
    expect(fromPg.code).toBe(0);
    const backHome = newHome();
    const back = run(["import", "--json"], backHome, {}, fromPg.stdout);
    expect(back.code, back.stderr).toBe(0);
    expect(ok(["list", "--all"], backHome)).toEqual(listBefore);
    // The file is the same rows in the same order whichever store wrote it (the header differs).
    const body = (text: string) => text.trimEnd().split("\n").slice(1);
    expect(body(fromPg.stdout)).toEqual(body(readFileSync(file, "utf8")));
  });
});
