/**
 * Issue 17 (tester, F3 and F4), on both stores.
 *
 * F3: a stop of a *running* command made no write of its own in the request's context (the daemon,
 * another process, records the cancel), so its request id was bound to nothing: the same id
 * then stopped another job, or queued a `run`, and a repeat of the first stop was refused "was used
 * for run_command". The stop now records a `stop_requested` event first (D153), which binds the id.
 * Real daemons, real commands and signals; through the daemon (the thin client) and BATON_DIRECT=1.
 *
 * F4: a claim released with an error (its daemon died before the command started) left that error
 * on the job, and a later successful attempt kept it: a succeeded job said why an earlier claim
 * was given back. The error stays on the released attempt and its event, not on the job (D153).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testLedgers } from "./helpers/ledgers.js";
import { PG_ENABLED, pgTestDatabase } from "./helpers/pg.js";
import type { Home } from "./helpers/supervisor.js";
import { cli, cliJson, newHome, stopDaemon, until } from "./helpers/supervisor.js";

const db = pgTestDatabase();
const ledgers = testLedgers("stop request ids, released errors");
const stores = PG_ENABLED ? (["sqlite", "postgres"] as const) : (["sqlite"] as const);

function home(store: (typeof stores)[number], direct: boolean): Home {
  return newHome({
    ...(store === "postgres" ? { BATON_DATABASE_URL: db.url, BATON_DATABASE_SCHEMA: db.freshSchema() } : {}),
    ...(direct ? { BATON_DIRECT: "1" } : {}),
  });
}

function errorOf(home: Home, args: string[]): { code: number; error: { code: string; message: string } } {
  const result = cli(home, [...args, "--json"]);
  const answer = JSON.parse(result.stdout) as { ok: boolean; error: { code: string; message: string } };
  expect(answer.ok, result.stdout).toBe(false);
  return { code: result.code, error: answer.error };
}

const stateOf = (home: Home, id: string): string => cliJson(home, ["status", id]).job.state as string;
const kinds = (home: Home, id: string): string[] =>
  (cliJson(home, ["events", id]).events as { kind: string }[]).map((e) => e.kind);

describe.each(stores)("a stop of a running command binds its request id (%s)", (store) => {
  beforeAll(() => (store === "postgres" ? db.setup() : undefined));
  afterAll(() => (store === "postgres" ? db.teardown() : undefined));

  it.each([
    ["through the daemon", false, []],
    ["BATON_DIRECT=1, --force", true, ["--force"]],
  ])(
    "%s",
    async (_, direct, force) => {
      const h = home(store, direct);
      try {
        const [a, b] = [1, 2].map(() => cliJson(h, ["run", "--", "sleep", "30"]).id as string) as [
          string,
          string,
        ];
        await until(
          "both commands running",
          () => [a, b].every((id) => stateOf(h, id) === "running"),
          30_000,
        );
        const stop = (id: string) => ["--request-id", "rq-stop", "stop", id, ...force];

        const first = cliJson(h, stop(a));
        expect(first).toMatchObject({ id: a, state: "cancelled", outcome: "cancelled" });

        // The same id for another job: refused, and that job is not stopped.
        const other = errorOf(h, stop(b));
        expect(other.error.code).toBe("INVALID_INPUT");
        expect(other.error.message).toContain("was used for stop_job with other arguments");
        expect(stateOf(h, b)).toBe("running");

        // The same id for a run: refused, nothing queued.
        const jobs = cliJson(h, ["list"]).jobs.length as number;
        const run = errorOf(h, ["--request-id", "rq-stop", "run", "--", "true"]);
        expect(run.error).toMatchObject({
          code: "INVALID_INPUT",
          message: expect.stringContaining("was used for stop_job"),
        });
        expect(cliJson(h, ["list"]).jobs).toHaveLength(jobs);

        // The first stop repeated under its id answers what it did, and stops nothing else.
        expect(cliJson(h, stop(a))).toEqual(first);
        expect(stateOf(h, b)).toBe("running");
        expect(kinds(h, a).filter((k) => k === "stop_requested")).toHaveLength(1);
        expect(kinds(h, a).at(-1)).toBe("cancelled");

        expect(cliJson(h, ["stop", b, ...force])).toMatchObject({ outcome: "cancelled" });
        expect(kinds(h, b).slice(-2)).toEqual(["stop_requested", "cancelled"]);

        // Retried, then the first stop repeated under its id: it answers what it did to the first
        // attempt and leaves the new one running (stranger s17j F1: it killed attempt 2).
        cliJson(h, ["retry", a]);
        await until("the retried attempt to run", () => stateOf(h, a) === "running", 30_000);
        expect(cliJson(h, stop(a))).toMatchObject({ id: a, outcome: "cancelled" });
        await new Promise((r) => setTimeout(r, 1500));
        expect(stateOf(h, a)).toBe("running");
        expect(kinds(h, a).filter((k) => k === "stop_requested")).toHaveLength(1);
        expect(cliJson(h, ["stop", a, ...force])).toMatchObject({ outcome: "cancelled" });
      } finally {
        stopDaemon(h);
      }
    },
    90_000,
  );
});

describe.each(ledgers.kinds)("a released claim's error stays on its attempt (%s)", (kind) => {
  beforeAll(() => ledgers.setup());
  afterAll(() => ledgers.teardown());

  it("a job that succeeds after a released claim has no error", async () => {
    const { engine, store } = await ledgers.open(kind);
    try {
      const { job } = (await engine.enqueue({ type: "t" }))[0]!;
      const died = "the daemon that claimed it died before the command started";
      const [first] = await engine.claim({ types: ["t"], owner: "w1" });
      const released = await engine.finish(job.id, "released", { token: first!.token, error: died });
      expect(released).toMatchObject({ state: "queued", error: null });

      const [second] = await engine.claim({ types: ["t"], owner: "w2" });
      const done = await engine.complete(job.id, { token: second!.token });
      expect(done).toMatchObject({ state: "succeeded", error: null });
      expect(await engine.get(job.id)).toMatchObject({ state: "succeeded", error: null });
      // Where the release is told: its attempt and its event.
      expect((await engine.attempts(job.id)).map((a) => [a.outcome, a.error])).toEqual([
        ["released", died],
        ["succeeded", null],
      ]);
      const events = await engine.events({ jobId: job.id, kinds: ["released"], limit: 10 });
      expect(events.map((e) => e.details)).toEqual([expect.objectContaining({ error: died })]);

      // A plain release (a worker shutting down) is unchanged: no error anywhere.
      const { job: other } = (await engine.enqueue({ type: "t" }))[0]!;
      const [claim] = await engine.claim({ types: ["t"], owner: "w3" });
      expect(await engine.release(other.id, claim!.token)).toMatchObject({ state: "queued", error: null });
    } finally {
      await store.close();
    }
  });
});
