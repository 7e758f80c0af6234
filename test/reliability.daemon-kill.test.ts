/**
 * the daemon is SIGKILLed over and over while CLI calls (`run`, `enqueue`, `complete`) go
 * through it. Every call must print one `--json` envelope, every printed outcome must match the
 * ledger, and no command may run twice. A call whose daemon died mid-call retries with its request
 * id and answers what the ledger already holds.
 *
 * The daemon holds each served answer back for a moment (BATON_TEST_ANSWER_DELAY_MS, a seam that is
 * off by default), so the kills land between the commit and the answer: the ambiguous case.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { envelope } from "./helpers/cli.js";
import type { CliResult } from "./helpers/cli.js";
import {
  alive,
  attemptRows,
  cli,
  cliAsync,
  cliJson,
  daemonPid,
  jobRows,
  newHome,
  sleep,
  until,
} from "./helpers/supervisor.js";
import type { Home } from "./helpers/supervisor.js";

type Call = { kind: "run" | "enqueue" | "complete"; i: number; target?: string; result?: CliResult };

/** Run `calls` at most `width` at a time. */
async function drive(home: Home, calls: Call[], width: number, file: string): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < calls.length) {
      const call = calls[next++]!;
      const args =
        call.kind === "run"
          ? ["run", "--json", "--name", `run-${call.i}`, "--", "sh", "-c", `echo ${call.i} >> ${file}`]
          : call.kind === "enqueue"
            ? ["enqueue", "--json", "--name", `enq-${call.i}`, JSON.stringify({ i: call.i })]
            : ["complete", "--json", call.target!, "--evidence", `done ${call.i}`];
      call.result = await cliAsync(home, args);
    }
  };
  await Promise.all(Array.from({ length: width }, lane));
}

/** SIGKILL the daemon `times` times, each time once a fresh one serves again. */
async function killRepeatedly(home: Home, times: number, stop: () => boolean): Promise<number> {
  let kills = 0;
  let last: number | undefined;
  while (kills < times && !stop()) {
    const pid = daemonPid(home);
    if (pid === undefined || pid === last || !alive(pid)) {
      if (cli(home, ["daemon", "start", "--json"]).code !== 0) await sleep(50);
      continue;
    }
    await sleep(150 + Math.floor(Math.random() * 250));
    try {
      process.kill(pid, "SIGKILL");
      kills++;
      last = pid;
    } catch {
      // it went by itself
    }
  }
  return kills;
}

describe("R-32 the daemon killed during CLI calls", () => {
  it("R-32 kill -9 of the daemon 20× during 40 calls: every call prints an envelope that matches the ledger, nothing runs twice", async () => {
    const home = newHome({ BATON_TEST_ANSWER_DELAY_MS: "250" });
    const file = join(home.dir, "lines");
    // Tasks to complete, enqueued without the daemon.
    const targets = Array.from(
      { length: 10 },
      (_, i) =>
        (
          cliJson(home, ["enqueue", "--name", `todo-${i}`, "{}"], { env: { BATON_DIRECT: "1" } }) as {
            jobs: { id: string }[];
          }
        ).jobs[0]!.id,
    );
    cliJson(home, ["daemon", "start"]);
    const calls: Call[] = [];
    for (let i = 0; i < 40; i++) {
      const kind = i % 4 === 3 ? "complete" : i % 2 === 0 ? "run" : "enqueue";
      calls.push(kind === "complete" ? { kind, i, target: targets[(i - 3) / 4]! } : { kind, i });
    }
    let finished = false;
    const killing = killRepeatedly(home, 20, () => finished);
    await drive(home, calls, 4, file);
    finished = true;
    const kills = await killing;
    expect(kills).toBeGreaterThanOrEqual(10);

    const rows = jobRows(home);
    const byName = (name: string) => rows.filter((r) => r.name === name);
    for (const call of calls) {
      const result = call.result!;
      let printed: ReturnType<typeof envelope>;
      try {
        printed = envelope(result);
      } catch {
        throw new Error(
          `${call.kind} ${call.i}: no envelope (exit ${result.code}): ${JSON.stringify(result.stdout)} ${result.stderr}`,
        );
      }
      if (call.kind === "run") {
        const jobs = byName(`run-${call.i}`);
        expect(jobs.length, `run ${call.i}: jobs`).toBe(printed.ok ? 1 : 0);
        if (printed.ok) expect(printed.data.id).toBe(jobs[0]!.id);
      } else if (call.kind === "enqueue") {
        const jobs = byName(`enq-${call.i}`);
        expect(jobs.length, `enqueue ${call.i}: jobs`).toBe(printed.ok ? 1 : 0);
        if (printed.ok) expect(printed.data.jobs[0].id).toBe(jobs[0]!.id);
      } else {
        const job = rows.find((r) => r.id === call.target)!;
        expect(job.state, `complete ${call.i}: ${result.stdout}`).toBe(printed.ok ? "succeeded" : "queued");
        if (printed.ok) expect(printed.data.errors).toEqual([]);
      }
      expect(printed.ok, `${call.kind} ${call.i}: ${result.stdout}`).toBe(true);
    }

    // No accepted command runs twice, and each ends: a daemon that died re-attaches a running one
    // or records how it ended; one whose daemon died after the claim and before the wrapper
    // started never ran: its claim goes back to the queue, its attempt not spent, and it runs once
    // (docs/durability.md: "died before the command started").
    cliJson(home, ["daemon", "start"]);
    const runs = calls.filter((c) => c.kind === "run");
    const ended = await until(
      "every command to end",
      () => {
        const now = runs.map((c) => ({ i: c.i, job: byNameNow(home, `run-${c.i}`) }));
        return now.every(({ job }) => job?.state === "succeeded" || job?.state === "failed") && now;
      },
      60_000,
    );
    for (const { i, job } of ended) {
      const attempts = attemptRows(home, job!.id);
      expect(job!.state, `run ${i}`).toBe("succeeded");
      expect(
        attempts.slice(0, -1).map((a) => [a.outcome, a.error]),
        `run ${i}`,
      ).toEqual(
        attempts
          .slice(0, -1)
          .map(() => ["released", "the daemon that claimed it died before the command started"]),
      );
    }
    const lines = readFileSync(file, "utf8").trim().split("\n").sort();
    expect(lines).toEqual(ended.map(({ i }) => String(i)).sort());
  }, 150_000);

  it("R-32 a retry with the same request id answers the first call's outcome and does not do the work again", () => {
    const home = newHome();
    const direct = { env: { BATON_DIRECT: "1" } };
    const first = cliJson(home, ["enqueue", "--request-id", "req-a", "--name", "once", "{}"], direct);
    const again = cliJson(home, ["enqueue", "--request-id", "req-a", "--name", "once", "{}"], direct);
    expect(again).toEqual(first);
    expect(jobRows(home).filter((r) => r.name === "once")).toHaveLength(1);

    const id = first.jobs[0].id as string;
    const done = cliJson(home, ["complete", id, "--request-id", "req-b"], direct);
    // The repeat writes nothing: the job is already done (D60), so no write of it is replayed.
    expect(cliJson(home, ["complete", id, "--request-id", "req-b"], direct)).toEqual({
      completed: [{ ...done.completed[0], alreadyDone: true }],
      errors: [],
    });
    // Without the request id, the same call is a new one: the job is finished already, which a
    // repeated complete is told (D60) rather than replayed.
    const other = cli(home, ["complete", id, "--json"], direct);
    expect(other.code).toBe(0);
    expect(envelope(other).data.completed).toEqual([{ id, state: "succeeded", alreadyDone: true }]);
    // The same request id for another operation is refused.
    const reused = cli(home, ["enqueue", "--request-id", "req-b", "{}", "--json"], direct);
    expect(reused.code).toBe(2);
    expect(envelope(reused).error!.code).toBe("INVALID_INPUT");
  });
});

function byNameNow(home: Home, name: string): { id: string; state: string } | undefined {
  return jobRows(home).find((r) => r.name === name);
}
