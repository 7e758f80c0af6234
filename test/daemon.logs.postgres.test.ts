/**
 * Logs on a shared PostgreSQL ledger (issue 17 finding 12): a command's logs are in the home whose
 * daemon ran it. `baton logs` from another home (on this host or another) must say where they are
 * and exit non-zero, never answer an empty log with exit 0.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { homeId } from "../src/supervisor/hosts.js";
import { PG_ENABLED, pgTestDatabase, warnIfPgSkipped } from "./helpers/pg.js";
import type { Home } from "./helpers/supervisor.js";
import { cli, cliJson, newHome, stopDaemon, until } from "./helpers/supervisor.js";

warnIfPgSkipped("logs of a command another home ran");
const db = pgTestDatabase();

function place(host: string, extra: Record<string, string> = {}): Home {
  return newHome({
    BATON_DATABASE_URL: db.url,
    BATON_DATABASE_SCHEMA: "logs",
    BATON_HOSTNAME: host,
    ...extra,
  });
}

describe.skipIf(!PG_ENABLED)("baton logs of a command another home ran", () => {
  beforeAll(() => db.setup());
  afterAll(() => db.teardown());

  it("another home on the same host, and another host, get WRONG_HOST naming where the logs are", async () => {
    const alpha = place("alpha", { BATON_POOLS: "shared" });
    const sibling = place("alpha"); // a second BATON_HOME on the same machine
    const beta = place("beta");
    const hostBound = cliJson(alpha, ["run", "--", "sh", "-c", "echo printing; sleep 300"]).id as string;
    // A pool job: only the registry of live daemons can tell which home ran it.
    const pooled = cliJson(alpha, ["run", "--pool", "shared", "--", "sh", "-c", "echo pooled; sleep 300"])
      .id as string;
    for (const id of [hostBound, pooled])
      await until(`${id} printing`, () => cliJson(alpha, ["logs", id]).text !== "" || undefined, 30_000);
    expect(cliJson(alpha, ["logs", hostBound]).text).toBe("printing\n");

    const alphaHome = homeId(alpha.dir);
    for (const id of [hostBound, pooled]) {
      const here = cli(sibling, ["logs", id, "--json"]);
      expect(here.code, here.stdout).toBe(4);
      const answer = JSON.parse(here.stdout) as { ok: boolean; error: { code: string; message: string } };
      expect(answer.error.code).toBe("WRONG_HOST");
      expect(answer.error.message).toContain(`alpha (home ${alphaHome})`);
      const text = cli(sibling, ["logs", id]);
      expect(text.code).toBe(4);
      expect(text.stdout).toBe("");
      expect(text.stderr).toContain(`run baton logs ${id} there`);
    }
    const elsewhere = cli(beta, ["logs", hostBound, "--json"]);
    expect(elsewhere.code).toBe(4);
    expect(JSON.parse(elsewhere.stdout).error.message).toContain("ran on host 'alpha'");

    for (const id of [hostBound, pooled]) expect(cliJson(alpha, ["stop", id]).state).toBe("cancelled");
    for (const home of [alpha, sibling, beta]) stopDaemon(home);
  });
});
