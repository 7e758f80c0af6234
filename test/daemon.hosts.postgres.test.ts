/**
 * Several daemons on one PostgreSQL ledger (issue 7): two homes with different BATON_HOSTNAME
 * stand for two hosts. Each daemon registers and heartbeats; `baton status` lists them; a daemon
 * that goes silent disappears after its registration expires. Commands run on the host that
 * submitted them (in the home that submitted them) unless they name a pool, and so do
 * configured-task runs (their environment file is in that home); a retry from elsewhere is refused;
 * a stop from elsewhere (forced or not, while the running daemon is up or down) ends the process;
 * a silent host's running commands are recovered when their lease runs out.
 */
import { existsSync, writeFileSync } from "node:fs";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PG_ENABLED, pgTestDatabase, warnIfPgSkipped } from "./helpers/pg.js";
import { project } from "./helpers/tasks.js";
import type { Home } from "./helpers/supervisor.js";
import { join } from "node:path";
import {
  FIXTURES,
  alive,
  cli,
  cliJson,
  daemonPid,
  groupMembers,
  newHome,
  processRecords,
  sleep,
  until,
} from "./helpers/supervisor.js";

warnIfPgSkipped("daemons of several hosts on one ledger");
const db = pgTestDatabase();

interface HostRow {
  host: string;
  pools: string[];
  running: number;
  lastSeen: string;
}

function hostHome(host: string, extra: Record<string, string> = {}): Home {
  return newHome({
    BATON_DATABASE_URL: db.url,
    BATON_DATABASE_SCHEMA: "fleet",
    BATON_HOSTNAME: host,
    ...extra,
  });
}

/** The job's state and the hosts (owner prefixes) of its attempts, read from the shared ledger. */
async function ledgerJob(id: string): Promise<{ state: string; ranOn: string[] }> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    const job = await client.query<{ state: string }>("SELECT state FROM fleet.jobs WHERE id = $1", [id]);
    const attempts = await client.query<{ owner: string }>(
      "SELECT owner FROM fleet.attempts WHERE job_id = $1 ORDER BY n",
      [id],
    );
    return { state: job.rows[0]!.state, ranOn: attempts.rows.map((a) => a.owner.split(":")[0]!) };
  } finally {
    await client.end();
  }
}

function run(home: Home, args: string[]): string {
  return (cliJson(home, ["run", ...args]) as { id: string }).id;
}

/** Poll the ledger until the job satisfies `done`; after 60 s, an error with its last reading. */
async function ledgerUntil(
  id: string,
  what: string,
  done: (job: { state: string; ranOn: string[] }) => boolean,
): Promise<{ state: string; ranOn: string[] }> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const job = await ledgerJob(id);
    if (done(job)) return job;
    if (Date.now() > deadline)
      throw new Error(`job ${id}: waited 60 s for ${what}; last ${JSON.stringify(job)}`);
    await sleep(200);
  }
}

function finished(id: string): Promise<{ state: string; ranOn: string[] }> {
  return ledgerUntil(id, "its end", (j) => ["succeeded", "failed", "cancelled"].includes(j.state));
}

function hosts(home: Home): HostRow[] {
  return (cliJson(home, ["status", "--all"]) as { hosts: HostRow[] }).hosts;
}

describe.skipIf(!PG_ENABLED)("daemons of two hosts on one PostgreSQL ledger", () => {
  beforeAll(() => db.setup());
  afterAll(() => db.teardown());

  it("both daemons run side by side and register; status lists both hosts; a killed one disappears after expiry", async () => {
    const alpha = hostHome("alpha");
    const beta = hostHome("beta", { BATON_POOLS: "gpu,big" });
    expect(cli(alpha, ["daemon", "start"]).code).toBe(0);
    expect(cli(beta, ["daemon", "start"]).code).toBe(0);
    const both = await until("both hosts registered", () => {
      const seen = hosts(alpha);
      return seen.length === 2 ? seen : undefined;
    });
    expect(both.map((h) => [h.host, h.pools])).toEqual([
      ["alpha", []],
      ["beta", ["gpu", "big"]],
    ]);
    expect(cli(alpha, ["status", "--all"]).stdout).toMatch(
      /hosts:[\s\S]*alpha[\s\S]*beta\s+\S+\s+\d+\s+gpu,big/,
    );

    // kill -9: no clean unregistering; the entry expires (15 s without a heartbeat).
    process.kill(daemonPid(beta)!, "SIGKILL");
    const left = await until(
      "the silent host to disappear",
      () => {
        const seen = hosts(alpha);
        return seen.length === 1 ? seen : undefined;
      },
      60_000,
      500,
    );
    expect(left.map((h) => h.host)).toEqual(["alpha"]);
  }, 120_000);

  it("commands run on the submitting host unless they name a pool; a pool nobody serves waits; handler jobs stay claimable by anyone", async () => {
    const alpha = hostHome("alpha");
    const beta = hostHome("beta", { BATON_POOLS: "gpu" });
    expect(cli(alpha, ["daemon", "start"]).code).toBe(0);
    expect(cli(beta, ["daemon", "start"]).code).toBe(0);
    await until("both hosts registered", () => hosts(alpha).length === 2);

    const fromAlpha = [1, 2, 3].map(() => run(alpha, ["--", "true"]));
    const fromBeta = [1, 2, 3].map(() => run(beta, ["--", "true"]));
    const gpu = [1, 2].map(() => run(alpha, ["--pool", "gpu", "--", "true"]));
    const nobody = run(beta, ["--pool", "tpu", "--", "true"]);
    for (const id of fromAlpha) expect(await finished(id)).toEqual({ state: "succeeded", ranOn: ["alpha"] });
    for (const id of fromBeta) expect(await finished(id)).toEqual({ state: "succeeded", ranOn: ["beta"] });
    for (const id of gpu) expect(await finished(id)).toEqual({ state: "succeeded", ranOn: ["beta"] });

    // Both daemons looked at the queue many times meanwhile: the tpu job is still waiting.
    await sleep(1500);
    expect(await ledgerJob(nobody)).toEqual({ state: "queued", ranOn: [] });
    expect(cli(alpha, ["stop", nobody]).code).toBe(0);

    // A handler job (no affinity) is claimed by a worker anywhere.
    const enq = cliJson(alpha, ["enqueue", "{}", "-t", "email"]) as { jobs: { id: string }[] };
    const claimed = cliJson(beta, ["claim", "-t", "email", "--owner", "elsewhere"]) as {
      claimed: { job: { id: string } }[];
    };
    expect(claimed.claimed.map((c) => c.job.id)).toEqual([enq.jobs[0]!.id]);

    const bad = cli(alpha, ["run", "--pool", "no pools!", "--", "true", "--json"]);
    expect(bad.code).not.toBe(0);
    expect(bad.stdout + bad.stderr).toContain("INVALID_INPUT");
  }, 180_000);

  it("configured-task runs run on the host and home that started them; a host-bound job is retried only there (WRONG_HOST elsewhere)", async () => {
    // alpha runs one process at a time, and a blocker holds it: its task runs wait in the queue
    // while beta, and a second home on alpha's host, sit idle next to them.
    const alpha = hostHome("alpha", { BATON_MAX_RUNNING: "1" });
    const beta = hostHome("beta", { BATON_POOLS: "gpu" });
    const alphaTwo = hostHome("alpha");
    for (const home of [alpha, beta, alphaTwo]) expect(cli(home, ["daemon", "start"]).code).toBe(0);
    await until("three daemons registered", () => hosts(alpha).length === 3);
    const dir = project("tasks:\n  hello:\n    command: [sh, -c, 'echo hello from $BATON_RUN_ID']\n");
    const go = `${alpha.dir}/go`;
    const blocker = run(alpha, ["--", "sh", "-c", "while [ ! -e $0 ]; do sleep 0.05; done", go]);
    await ledgerUntil(blocker, "the blocker to start", (j) => j.state === "running");

    const started = (home: Home) =>
      (cliJson(home, ["task", "run", "hello", "--async"], { cwd: dir }) as { id: string }).id;
    const fromAlpha = [1, 2, 3].map(() => started(alpha));
    const fromBeta = [1, 2, 3].map(() => started(beta));
    for (const id of fromBeta) expect(await finished(id)).toEqual({ state: "succeeded", ranOn: ["beta"] });
    // beta was woken for its own runs and polled meanwhile, and so was alpha's other home: alpha's
    // runs are still waiting for alpha's daemon (their environment files are in its home).
    await sleep(1500);
    for (const id of fromAlpha) expect(await ledgerJob(id)).toEqual({ state: "queued", ranOn: [] });
    writeFileSync(go, "");
    for (const id of fromAlpha) expect(await finished(id)).toEqual({ state: "succeeded", ranOn: ["alpha"] });

    // A retry from another host or home would save the environment where no daemon claims the run.
    for (const [id, other, where] of [
      [fromAlpha[0]!, beta, "'alpha'"],
      [run(alpha, ["--", "true"]), beta, "'alpha'"],
      [fromAlpha[1]!, alphaTwo, "'alpha (home "],
    ] as const) {
      await finished(id);
      const refused = cli(other, ["retry", id, "--json"]);
      expect(refused.code).toBe(4);
      expect(JSON.parse(refused.stdout).error).toMatchObject({
        code: "WRONG_HOST",
        message: expect.stringContaining(where),
      });
    }
    // On its own host it runs again there; a pool job may be retried from any host.
    expect(cli(alpha, ["retry", fromAlpha[0]!]).code).toBe(0);
    expect(
      await ledgerUntil(fromAlpha[0]!, "the retry", (j) => j.ranOn.length === 2 && j.state === "succeeded"),
    ).toEqual({
      state: "succeeded",
      ranOn: ["alpha", "alpha"],
    });
    const gpu = run(alpha, ["--pool", "gpu", "--", "true"]);
    expect(await finished(gpu)).toEqual({ state: "succeeded", ranOn: ["beta"] });
    expect(cli(beta, ["retry", gpu]).code).toBe(0);
    expect(
      await ledgerUntil(gpu, "the retry", (j) => j.ranOn.length === 2 && j.state === "succeeded"),
    ).toEqual({
      state: "succeeded",
      ranOn: ["beta", "beta"],
    });
  }, 180_000);

  it("baton stop on another host: the ledger records the stop and the running host ends the process group; logs say where they are", async () => {
    const alpha = hostHome("alpha");
    const beta = hostHome("beta");
    for (const home of [alpha, beta]) expect(cli(home, ["daemon", "start"]).code).toBe(0);
    const id = run(alpha, ["--", "sleep", "600"]);
    const record = await until("the command to start on alpha", () =>
      processRecords(alpha).find((r) => r.jobId === id),
    );
    const stopped = cliJson(beta, ["stop", id]) as { id: string; state: string };
    expect(stopped).toMatchObject({ id, state: "cancelled", outcome: "cancelled" });
    await until("alpha to end the process group", () => !alive(record.pid), 10_000, 100);
    expect(await ledgerJob(id)).toEqual({ state: "cancelled", ranOn: ["alpha"] });
    const events = (cliJson(beta, ["events", id]) as { events: { actor: string; to?: string }[] }).events;
    expect(events.filter((e) => e.to === "cancelled").map((e) => e.actor)).toEqual(["user"]);
    // Its logs are on alpha: beta says where instead of printing nothing.
    const logs = cli(beta, ["logs", id, "--json"]);
    expect(logs.code, logs.stdout).toBe(4);
    expect(JSON.parse(logs.stdout).error).toMatchObject({
      code: "WRONG_HOST",
      message: expect.stringContaining("alpha"),
    });
    expect(cli(alpha, ["logs", id]).code).toBe(0);
    // alpha's daemon carries on: the next command runs there.
    expect(await finished(run(alpha, ["--", "true"]))).toEqual({ state: "succeeded", ranOn: ["alpha"] });
  }, 120_000);

  it("baton stop --force on another host kills at once; a stop while the running host's daemon is down ends the process when that daemon starts again", async () => {
    // A ten-minute grace: a stop that is not forced cannot end a command that ignores SIGTERM
    // within this test, so the forced one ending shows the SIGKILL came at once.
    const alpha = hostHome("alpha", { BATON_KILL_GRACE_MS: "600000" });
    const beta = hostHome("beta");
    for (const home of [alpha, beta]) expect(cli(home, ["daemon", "start"]).code).toBe(0);
    const stubborn = run(alpha, ["--", "sh", join(FIXTURES, "ignore-term.sh")]);
    const later = run(alpha, ["--", "sleep", "600"]);
    const started = (id: string) => processRecords(alpha).find((r) => r.jobId === id);
    const [a, b] = await until("both to start on alpha", () => {
      const pair = [started(stubborn), started(later)];
      return pair.every((r) => r !== undefined) ? pair : undefined;
    });
    expect(cliJson(beta, ["stop", stubborn, "--force"])).toMatchObject({
      id: stubborn,
      state: "cancelled",
      outcome: "cancelled",
    });
    await until("alpha to kill the stubborn group", () => groupMembers(a!.pid).length === 0, 15_000, 100);

    // alpha's daemon dies; its command does not. beta records a stop nobody on alpha sees.
    process.kill(daemonPid(alpha)!, "SIGKILL");
    expect(cliJson(beta, ["stop", later])).toMatchObject({
      id: later,
      state: "cancelled",
      outcome: "cancelled",
    });
    await sleep(1500);
    expect(alive(b!.pid)).toBe(true);
    // The next daemon on alpha finds the process its ledger no longer runs, and ends it.
    expect(cli(alpha, ["daemon", "start"]).code).toBe(0);
    await until("the restarted daemon to end it", () => groupMembers(b!.pid).length === 0, 15_000, 100);
    expect(await ledgerJob(later)).toEqual({ state: "cancelled", ranOn: ["alpha"] });
    expect(await finished(run(alpha, ["--", "true"]))).toEqual({ state: "succeeded", ranOn: ["alpha"] });
  }, 120_000);

  it("a silent host's running command is recovered by another daemon when its lease runs out, and runs again on its host", async () => {
    const lease = { BATON_COMMAND_LEASE_MS: "3000" };
    const alpha = hostHome("alpha", lease);
    const beta = hostHome("beta", lease);
    expect(cli(alpha, ["daemon", "start"]).code).toBe(0);
    expect(cli(beta, ["daemon", "start"]).code).toBe(0);
    const id = run(beta, [
      "--retries",
      "1",
      "--",
      "sh",
      "-c",
      "test -e $0.again || { touch $0.again; sleep 600; }",
      `${beta.dir}/marker`,
    ]);
    const record = await until("the command to start on beta", () =>
      processRecords(beta).find((r) => r.jobId === id),
    );
    // Its first run leaves the marker that lets the retry end at once: wait for it, or a kill
    // that lands before `touch` makes the retry sleep too.
    await until("the first run's marker", () => existsSync(`${beta.dir}/marker.again`));
    // The host dies with its command: kill -9 the daemon and the command's process group.
    process.kill(daemonPid(beta)!, "SIGKILL");
    process.kill(-record.pid, "SIGKILL");
    // alpha recovers the expired lease (a retry), but does not run beta's command itself.
    await ledgerUntil(id, "recovery", (j) => j.state === "retrying" || j.state === "queued");
    await until(
      "beta to drop out of status",
      () => hosts(alpha).every((h) => h.host !== "beta"),
      60_000,
      500,
    );
    expect((await ledgerJob(id)).ranOn).toEqual(["beta"]);
    // beta comes back: it runs the retry.
    expect(cli(beta, ["daemon", "start"]).code).toBe(0);
    expect(await finished(id)).toEqual({ state: "succeeded", ranOn: ["beta", "beta"] });
  }, 180_000);
});
