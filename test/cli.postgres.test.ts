/**
 * The CLI end to end on PostgreSQL: the built `bin/baton.js` with BATON_DATABASE_URL pointing at a
 * throwaway database. The URL carries a password (trust auth never asks for it): it must never be
 * printed, on success or failure.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CliResult } from "./helpers/cli.js";
import { baton, envelope } from "./helpers/cli.js";
import { PG_ENABLED, pgTestDatabase, warnIfPgSkipped } from "./helpers/pg.js";
import { tempDir } from "./helpers/tmp.js";

warnIfPgSkipped("CLI on PostgreSQL");
const db = pgTestDatabase();
const SECRET = "s3cret-pw";

/** The database URL with a password in it. */
function urlWithPassword(url: string): string {
  const parsed = new URL(url);
  parsed.password = SECRET;
  return parsed.toString();
}

function run(args: string[], home: string, env: NodeJS.ProcessEnv): CliResult {
  const project = join(home, "project");
  mkdirSync(join(project, ".git"), { recursive: true });
  const result = baton(args, { home, cwd: project, env });
  expect(`${result.stdout}${result.stderr}`, `output of baton ${args.join(" ")}`).not.toContain(SECRET);
  return result;
}

describe.skipIf(!PG_ENABLED)("the CLI on PostgreSQL", () => {
  beforeAll(() => db.setup());
  afterAll(() => db.teardown());

  it("runs enqueue, claim, complete, list, show, health and doctor against BATON_DATABASE_URL, never printing the password", () => {
    const home = tempDir("baton-cli-pg-");
    const env = { BATON_DATABASE_URL: urlWithPassword(db.url), BATON_DATABASE_SCHEMA: "cli" };
    const ok = (args: string[]) => {
      const result = run([...args, "--json"], home, env);
      expect({ code: result.code, stderr: result.stderr }, `baton ${args.join(" ")}`).toEqual({
        code: 0,
        stderr: "",
      });
      return envelope(result).data;
    };

    const health = ok(["health"]);
    expect(health.store.kind).toBe("postgres");
    expect(health.store.location).toContain(":***@");
    expect(health.store.schemaVersion).toBeGreaterThan(0);

    const first = ok(["enqueue", '{"file":"a.ts"}', "-t", "edit", "-n", "first", "-w", "wf"]);
    ok(["enqueue", '{"file":"b.ts"}', "-t", "edit", "-n", "second", "-w", "wf"]);
    const firstId = first.jobs[0].id as string;
    expect(ok(["list", "-w", "wf"]).total).toBe(2);

    const claimed = ok(["claim", "-t", "edit", "--owner", "cli-test"]);
    expect(claimed.claimed).toHaveLength(1);
    const { job, token } = claimed.claimed[0] as { job: { id: string }; token: string };
    expect(job.id).toBe(firstId);
    ok(["complete", job.id, "--token", token, "-e", "edited a.ts"]);
    expect(ok(["show", job.id]).job).toMatchObject({ state: "succeeded", evidence: "edited a.ts" });
    expect(ok(["receipt", "wf"])).toMatchObject({ done: 1 });

    const doctor = ok(["doctor"]);
    const store = (doctor.checks as { name: string; detail: string }[]).find((c) => c.name === "store");
    expect(store?.detail).toMatch(/^postgres at postgres:\/\/postgres:\*\*\*@/);

    // No SQLite file was made: the ledger is in PostgreSQL.
    expect(existsSync(join(home, "baton.db"))).toBe(false);
  });

  it("an unreachable server and a malformed URL are typed errors that do not print the password", () => {
    const home = tempDir("baton-cli-pg-");
    const down = run(["health", "--json"], home, {
      BATON_DATABASE_URL: `postgres://baton:${SECRET}@127.0.0.1:1/baton`,
    });
    expect(down.code).not.toBe(0);
    expect(envelope(down).error?.code).toBe("STORE_UNAVAILABLE");

    const malformed = run(["health", "--json"], home, {
      BATON_DATABASE_URL: `mysql://baton:${SECRET}@127.0.0.1/baton`,
    });
    expect(malformed.code).not.toBe(0);
    expect(envelope(malformed).error?.code).toBe("INVALID_INPUT");
  });
});
