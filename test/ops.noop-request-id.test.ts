/**
 * Stranger s17j F2 (issue 17), on both stores: a call that writes nothing — a stop of a job that
 * had already finished — left its request id bound to nothing. `run` could then take the id,
 * and the stop repeated under it was refused "was used for run_command"; a repeat after the job was
 * retried would have stopped the new attempt. Such a call now binds the id to itself and its answer
 * (D157): a repeat gets the first answer back, any other call under the id is refused.
 * Real daemons and commands; through the daemon (the thin client) and BATON_DIRECT=1.
 */
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PG_ENABLED, pgTestDatabase } from "./helpers/pg.js";
import type { Home } from "./helpers/supervisor.js";
import { cli, cliJson, newHome, stopDaemon, until } from "./helpers/supervisor.js";

const db = pgTestDatabase();
const stores = PG_ENABLED ? (["sqlite", "postgres"] as const) : (["sqlite"] as const);

function home(store: (typeof stores)[number], direct: boolean): Home {
  return newHome({
    ...(store === "postgres" ? { BATON_DATABASE_URL: db.url, BATON_DATABASE_SCHEMA: db.freshSchema() } : {}),
    ...(direct ? { BATON_DIRECT: "1" } : {}),
  });
}

function refused(h: Home, args: string[]): { code: string; message: string } {
  const result = cli(h, args);
  const answer = JSON.parse(result.stdout) as { ok: boolean; error: { code: string; message: string } };
  expect(answer.ok, result.stdout).toBe(false);
  return answer.error;
}

const stateOf = (h: Home, id: string): string => cliJson(h, ["status", id]).job.state as string;

describe.each(stores)("a call that writes nothing binds its request id (%s)", (store) => {
  beforeAll(() => (store === "postgres" ? db.setup() : undefined));
  afterAll(() => (store === "postgres" ? db.teardown() : undefined));

  it.each([
    ["through the daemon", false],
    ["BATON_DIRECT=1", true],
  ])(
    "a stop of a finished job, %s",
    async (_, direct) => {
      const h = home(store, direct);
      try {
        const marker = join(h.dir, "marker");
        // Fails at once until the marker exists; then runs for a while.
        const script = `test -f ${marker} || exit 3; sleep 30`;
        const a = cliJson(h, ["run", "--", "sh", "-c", script]).id as string;
        const b = cliJson(h, ["run", "--", "true"]).id as string;
        await until(
          "both to finish",
          () => stateOf(h, a) === "failed" && stateOf(h, b) === "succeeded",
          30_000,
        );

        const stop = ["--request-id", "rq-noop", "stop", a];
        const first = cliJson(h, stop);
        expect(first).toMatchObject({ id: a, state: "failed", outcome: "already_finished" });

        // Was: `run` took the id, and the stop repeated under it was refused "used for run_command".
        const jobs = cliJson(h, ["list"]).jobs.length as number;
        expect(refused(h, ["--request-id", "rq-noop", "run", "--json", "--", "true"])).toMatchObject({
          code: "INVALID_INPUT",
          message: expect.stringContaining("was used for stop_job"),
        });
        expect(cliJson(h, ["list"]).jobs).toHaveLength(jobs);
        expect(refused(h, ["--request-id", "rq-noop", "stop", b, "--json"])).toMatchObject({
          code: "INVALID_INPUT",
          message: expect.stringContaining("was used for stop_job with other arguments"),
        });
        expect(cliJson(h, stop)).toEqual(first);

        // Retried and running: the stop repeated under its id answers what it answered, and
        // leaves the new attempt running.
        writeFileSync(marker, "");
        cliJson(h, ["retry", a]);
        await until("the retried attempt to run", () => stateOf(h, a) === "running", 30_000);
        expect(cliJson(h, stop)).toEqual(first);
        await new Promise((r) => setTimeout(r, 1500));
        expect(stateOf(h, a)).toBe("running");
        expect(cliJson(h, ["stop", a])).toMatchObject({ outcome: "cancelled" });

        // A stop of a job already cancelled (its answer probes the ledger with a refused write):
        // bound all the same.
        const again = cliJson(h, ["--request-id", "rq-cancelled", "stop", a]);
        expect(again).toMatchObject({ id: a, state: "cancelled", outcome: "already_finished" });
        expect(refused(h, ["--request-id", "rq-cancelled", "run", "--json", "--", "true"]).code).toBe(
          "INVALID_INPUT",
        );
        expect(cliJson(h, ["--request-id", "rq-cancelled", "stop", a])).toEqual(again);

        // An id another call wrote under is refused for a stop of a cancelled job too (stranger
        // s18a: the stop's probe of the ledger, refused as the run's write, answered "already
        // finished", exit 0).
        cliJson(h, ["--request-id", "rq-run", "run", "--", "true"]);
        for (const force of [[], ["--force"]])
          expect(refused(h, ["--request-id", "rq-run", "stop", a, ...force, "--json"])).toMatchObject({
            code: "INVALID_INPUT",
            message: expect.stringContaining("was used for run_command"),
          });
        expect(existsSync(marker)).toBe(true);
      } finally {
        stopDaemon(h);
      }
    },
    90_000,
  );
});
