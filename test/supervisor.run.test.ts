/**
 * Background commands end to end through the real `baton` binary and a real daemon per test:
 * run (receipt, caller's cwd and environment, --wait, --follow), logs, id references, idempotency
 * keys, retry, stop, the concurrency limit, and the daemon's single instance and honest status.
 */
import { existsSync, mkdirSync, readFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  FIXTURES,
  alive,
  attemptRows,
  cli,
  cliAsync,
  cliJson,
  daemonPid,
  daemonProcesses,
  groupMembers,
  jobRow,
  jobRows,
  newHome,
  processRecords,
  TERMINAL,
  until,
} from "./helpers/supervisor.js";

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** Shortest prefix (≥ 4 characters) of `id` that no other id shares. */
function uniquePrefix(id: string, others: string[]): string {
  for (let n = 4; n <= id.length; n++) {
    const prefix = id.slice(0, n);
    if (others.every((o) => !o.startsWith(prefix))) return prefix;
  }
  return id;
}

function commonPrefix(a: string, b: string): string {
  let n = 0;
  while (n < a.length && a[n] === b[n]) n++;
  return a.slice(0, n);
}

describe("baton run", () => {
  it("returns at once with an id and a --json receipt (id, log path, the commands to check on it)", async () => {
    const home = newHome();
    const result = cli(home, ["run", "--json", "--", "sleep", "30"]);
    expect(result.code).toBe(0);
    const receipt = JSON.parse(result.stdout) as { ok: boolean; data: any };
    expect(receipt.ok).toBe(true);
    const id = receipt.data.id as string;
    expect(id).toMatch(ULID);
    expect(receipt.data.deduplicated).toBe(false);
    expect(receipt.data.logPath).toBe(join(home.dir, "runs", id, "1", "output.log"));
    for (const verb of ["status", "logs", "wait", "stop"]) expect(receipt.data.check[verb]).toContain(id);
    // "At once": the command (30 s) is still running when run has answered.
    expect(TERMINAL).not.toContain(jobRow(home, id).state);
    await until("the command to start", () => processRecords(home).length === 1);
    expect(jobRow(home, id).state).toBe("running");

    // The plain form prints the id first.
    const plain = cli(home, ["run", "--", "true"]);
    expect(plain.code).toBe(0);
    expect(plain.stdout.split(/\s/)[0]).toMatch(ULID);

    expect(cliJson(home, ["stop", id]).state).toBe("cancelled");
  });

  it("runs with the caller's working directory and environment, not the daemon's", async () => {
    const home = newHome();
    // The daemon starts first, without the variable: jb's frozen-environment bug would show here.
    expect(cli(home, ["daemon", "start"]).code).toBe(0);
    const daemon = daemonPid(home)!;
    const work = join(home.dir, "work-a");
    const other = join(home.dir, "work-b");
    mkdirSync(work);
    mkdirSync(other);
    const script = 'pwd; printf "var=%s\\n" "$BATON_TEST_CALLER_VAR"';
    const a = cli(home, ["run", "--wait", "--", "sh", "-c", script], {
      cwd: work,
      env: { BATON_TEST_CALLER_VAR: "from-caller-a" },
    });
    expect(a.code).toBe(0);
    const b = cli(home, ["run", "--wait", "--", "sh", "-c", script], {
      cwd: other,
      env: { BATON_TEST_CALLER_VAR: "from-caller-b" },
    });
    expect(b.code).toBe(0);
    const [jobA, jobB] = jobRows(home);
    expect(cliJson(home, ["logs", jobA!.id]).text).toBe(`${realpathSync(work)}\nvar=from-caller-a\n`);
    expect(cliJson(home, ["logs", jobB!.id]).text).toBe(`${realpathSync(other)}\nvar=from-caller-b\n`);
    // The daemon never had the variable: the command got it from the caller.
    expect(readFileSync(`/proc/${daemon}/environ`, "utf8")).not.toContain("BATON_TEST_CALLER_VAR");
    expect(daemonPid(home)).toBe(daemon);
  });

  it("--wait prints the id, the outcome and the exit code, and exits with the command's own exit code", () => {
    const home = newHome();
    const failed = cli(home, ["run", "--wait", "--", "sh", "-c", "echo out; echo err >&2; exit 7"]);
    expect(failed).toMatchObject({ code: 7, stderr: "" });
    expect(failed.stdout).toMatch(
      new RegExp(`^${ULID.source.slice(1, -1)} \\([0-9A-Z]{6}\\)  failed  exit 7\n$`),
    );
    const ok = cli(home, ["run", "--wait", "--", "sh", "-c", "echo fine"]);
    expect(ok).toMatchObject({ code: 0, stderr: "" });
    expect(ok.stdout).toMatch(/^\S+ \(\S+\) {2}succeeded {2}exit 0\n$/);
    const crash = cli(home, ["run", "--wait", "--", "sh", join(FIXTURES, "crash.sh"), "42"]);
    expect(crash.code).toBe(42);
    expect(crash.stdout).toMatch(/  exit 42\n$/);
    const json = cli(home, ["run", "--wait", "--json", "--", "sh", "-c", "exit 3"]);
    expect(json.code).toBe(3);
    const envelope = JSON.parse(json.stdout) as {
      ok: boolean;
      data: { id: string; state: string; exitCode: number };
    };
    expect(envelope.data).toMatchObject({ state: "failed", exitCode: 3 });
    expect(envelope.data.id).toMatch(ULID);
  });

  it("--follow streams the output while it runs and exits with the command's code", () => {
    const home = newHome();
    const result = cli(home, [
      "run",
      "--follow",
      "--",
      "sh",
      "-c",
      "echo first; sleep 0.5; echo second >&2; sleep 0.5; echo third; exit 5",
    ]);
    expect(result.code).toBe(5);
    expect(result.stdout).toBe("first\nsecond\nthird\n");
  });

  it("logs: -n, stdout and stderr kept apart, and the output interleaved in order", () => {
    const home = newHome();
    const script =
      "for i in 1 2 3; do echo out$i; sleep 0.2; echo err$i >&2; sleep 0.2; done; seq 1 100 | sed 's/^/line/'";
    expect(cli(home, ["run", "--wait", "--name", "talker", "--", "sh", "-c", script]).code).toBe(0);
    const lines = Array.from({ length: 100 }, (_, i) => `line${i + 1}`);
    const output = cliJson(home, ["logs", "talker", "-n", "200"]).text as string;
    expect(output).toBe(["out1", "err1", "out2", "err2", "out3", "err3", ...lines].join("\n") + "\n");
    expect(cliJson(home, ["logs", "talker", "-n", "200", "--stdout"]).text).toBe(
      ["out1", "out2", "out3", ...lines].join("\n") + "\n",
    );
    expect(cliJson(home, ["logs", "talker", "--stderr"]).text).toBe("err1\nerr2\nerr3\n");
    expect(cliJson(home, ["logs", "talker", "-n", "2"]).text).toBe("line99\nline100\n");
    expect(cliJson(home, ["logs", "talker"]).text.split("\n")).toHaveLength(51); // 50 lines by default
    const plain = cli(home, ["logs", "talker", "-n", "3"]);
    expect(plain).toMatchObject({ code: 0, stdout: "line98\nline99\nline100\n" });
    const err = cli(home, ["logs", "talker", "--stderr", "-n", "1"]);
    expect(err.stdout).toBe("err3\n");
  });

  it("accepts a unique id prefix (≥ 4 characters, any case) and a name; ambiguity lists the candidates", () => {
    const home = newHome();
    expect(cli(home, ["run", "--wait", "--name", "twin", "--", "true"]).code).toBe(0);
    expect(cli(home, ["run", "--wait", "--name", "twin", "--", "sh", "-c", "exit 3"]).code).toBe(3);
    expect(cli(home, ["run", "--wait", "--name", "solo", "--", "true"]).code).toBe(0);
    const [a, b, c] = jobRows(home).map((j) => j.id) as [string, string, string];

    const prefix = uniquePrefix(b, [a, c]);
    expect(cliJson(home, ["status", prefix]).job.id).toBe(b);
    expect(cliJson(home, ["status", prefix.toLowerCase()]).job.id).toBe(b);
    expect(cliJson(home, ["status", "solo"]).job.id).toBe(c);
    expect(cliJson(home, ["logs", "solo"]).id).toBe(c);

    const shared = commonPrefix(a, b);
    expect(shared.length).toBeGreaterThanOrEqual(4);
    for (const reference of [shared, "twin"]) {
      const result = cli(home, ["status", reference, "--json"]);
      expect(result.code).toBe(4);
      const error = JSON.parse(result.stdout).error as { code: string; message: string };
      expect(error.code).toBe("AMBIGUOUS_ID");
      expect(error.message).toContain(a);
      expect(error.message).toContain(b);
      // And never "the newest wins" in the other commands either.
      expect(cli(home, ["wait", reference]).code).toBe(4);
      expect(cli(home, ["logs", reference]).code).toBe(4);
      const plain = cli(home, ["retry", reference]);
      expect(plain.code).toBe(4);
      expect(plain.stderr).toContain(a);
    }
    // Too short to be a prefix: not found, with a hint.
    const short = cli(home, ["status", a.slice(0, 3), "--json"]);
    expect(short.code).toBe(3);
    expect(JSON.parse(short.stdout).error.message).toContain("at least 4");
    expect(cli(home, ["status", "nope-not-a-job"]).code).toBe(3);
  });

  it("--key returns the run with that key instead of starting a second one, live or finished (D52)", async () => {
    const home = newHome();
    const first = cliJson(home, ["run", "--key", "build-123", "--", "sleep", "30"]);
    const second = cliJson(home, ["run", "--key", "build-123", "--", "sleep", "30"]);
    expect(second.id).toBe(first.id);
    expect(second.deduplicated).toBe(true);
    await until("the command to start", () => processRecords(home).length === 1);
    expect(jobRows(home)).toHaveLength(1);
    expect(cliJson(home, ["stop", first.id]).state).toBe("cancelled");
    // Once that run is over, the key still answers with it (until it is cleaned): a caller that
    // re-runs its step after a crash learns the outcome instead of starting the work again.
    const third = cliJson(home, ["run", "--key", "build-123", "--", "true"]);
    expect(third).toMatchObject({ id: first.id, deduplicated: true, state: "cancelled" });
    expect(jobRows(home)).toHaveLength(1);
    // In words too: the finished run is not said to be "already running" (stranger s17f).
    const text = cli(home, ["run", "--key", "build-123", "--", "true"]).stdout;
    expect(text).toContain("cancelled  (deduplicated: the key's existing run, not started again)");
    expect(text).not.toContain("already running");
    // Deleted, the key is free again.
    cliJson(home, ["delete", first.id]);
    const fourth = cliJson(home, ["run", "--key", "build-123", "--", "true"]);
    expect(fourth.id).not.toBe(first.id);
    expect(fourth.deduplicated).toBe(false);
    expect(cli(home, ["wait", fourth.id]).code).toBe(0);
    expect(jobRow(home, fourth.id).state).toBe("succeeded");
  });

  it("retry runs the same command in the same directory as a new attempt", () => {
    const home = newHome();
    const work = join(home.dir, "project");
    mkdirSync(work);
    const first = cli(home, ["run", "--wait", "--name", "flaky", "--", "sh", "-c", "pwd; exit 3"], {
      cwd: work,
    });
    expect(first.code).toBe(3);
    const id = jobRows(home)[0]!.id;
    // From another directory: the job's own directory is kept.
    const retried = cliJson(home, ["retry", "flaky"], { cwd: home.dir });
    expect(retried).toMatchObject({ id, attempt: 2 });
    expect(cli(home, ["wait", id]).code).toBe(3);
    const attempts = attemptRows(home, id);
    expect(attempts.map((a) => [a.n, a.outcome, a.exit_code])).toEqual([
      [1, "failed", 3],
      [2, "failed", 3],
    ]);
    for (const attempt of ["1", "2"])
      expect(cliJson(home, ["logs", id, "--attempt", attempt]).text).toBe(`${realpathSync(work)}\n`);
    expect(jobRow(home, id)).toMatchObject({ state: "failed", attempts: 2 });
  });

  it("stop sends SIGTERM, then SIGKILL after the grace, to a command that ignores SIGTERM; recorded as cancelled", async () => {
    const home = newHome({ BATON_KILL_GRACE_MS: "500" });
    const { id } = cliJson(home, ["run", "--", "sh", join(FIXTURES, "ignore-term.sh")]);
    await until("the fixture to set its trap", () => cliJson(home, ["logs", id]).text === "ready\n");
    const [record] = processRecords(home);
    expect(groupMembers(record!.pid).length).toBeGreaterThan(0);

    const stopped = cli(home, ["stop", id, "--json"]);
    expect(stopped.code).toBe(0);
    expect(JSON.parse(stopped.stdout).data).toEqual({
      id,
      state: "cancelled",
      outcome: "cancelled",
      message: `job ${id} cancelled`,
    });
    expect(groupMembers(record!.pid)).toEqual([]);
    const [attempt] = attemptRows(home, id);
    expect(attempt!.outcome).toBe("cancelled");
    expect(attempt!.error).toContain("stopped by user");
    expect(jobRow(home, id).state).toBe("cancelled");
    // `wait` on it reports the stop (130), not a timeout (124).
    expect(cli(home, ["wait", id]).code).toBe(130);

    // --force: SIGKILL at once.
    const forced = cliJson(home, ["run", "--", "sh", join(FIXTURES, "ignore-term.sh")]);
    await until("the second fixture", () => cliJson(home, ["logs", forced.id]).text === "ready\n");
    expect(cliJson(home, ["stop", forced.id, "--force"]).state).toBe("cancelled");
    expect(attemptRows(home, forced.id)[0]!.error).toContain("SIGKILL");
    for (const r of processRecords(home)) expect(groupMembers(r.pid)).toEqual([]);
    // A queued job is cancelled without ever starting; stopping a finished job changes nothing.
    expect(cliJson(home, ["stop", id]).state).toBe("cancelled");
  });

  it("BATON_MAX_RUNNING=2: of 5 runs only 2 run at once, and status shows the others waiting", async () => {
    const home = newHome({ BATON_MAX_RUNNING: "2" });
    const gate = join(home.dir, "gate");
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push(
        cliJson(home, [
          "run",
          "--name",
          `job${i}`,
          "--",
          "sh",
          "-c",
          `while [ ! -e "${gate}" ]; do sleep 0.1; done`,
        ]).id,
      );
    }
    await until("two commands to start", () => processRecords(home).length === 2);
    const status = cliJson(home, ["status"]);
    expect(status.daemon.running).toBe(true);
    expect(status.running).toHaveLength(2);
    expect(status.queued.map((j: { id: string }) => j.id)).toEqual(ids.slice(2));
    const text = cli(home, ["status"]).stdout;
    expect(text).toContain("2 running");
    expect(text).toContain("3 queued");
    expect(text).toContain("waiting for the daemon to start them (a free run slot)");
    for (const id of ids.slice(2)) expect(text).toContain(id.slice(-6));
    const one = cliJson(home, ["status", ids[4]!]);
    expect(one.job.state).toBe("queued");
    expect(one.waitingReason.join(" ")).toMatch(/limit|slot/);

    mkdirSync(gate);
    for (const id of ids) expect(cli(home, ["wait", id]).code).toBe(0);
    // Never more than two at once, over the whole run: from the recorded attempt intervals.
    const attempts = attemptRows(home);
    expect(attempts).toHaveLength(5);
    const edges = attempts.flatMap((a) => [
      { at: a.started_at, delta: 1 },
      { at: a.ended_at!, delta: -1 },
    ]);
    edges.sort((x, y) => x.at - y.at || x.delta - y.delta);
    let now = 0;
    let most = 0;
    for (const e of edges) most = Math.max(most, (now += e.delta));
    expect(most).toBe(2);
  });
});

describe("baton daemon", () => {
  it("status tells the truth about a stale socket and daemon.json after kill -9", async () => {
    const home = newHome();
    expect(cli(home, ["daemon", "start"]).code).toBe(0);
    const pid = daemonPid(home)!;
    expect(cliJson(home, ["daemon", "status"])).toMatchObject({ running: true, pid });
    process.kill(pid, "SIGKILL");
    await until("the daemon to die", () => !alive(pid));

    const status = cliJson(home, ["daemon", "status"]);
    expect(status.running).toBe(false);
    expect(status.stale.join(" ")).toContain(String(pid));
    expect(status.stale.join(" ")).toContain("socket");
    expect(cli(home, ["daemon", "status"]).stdout).toContain("not running");
    expect(cliJson(home, ["status"]).daemon).toEqual({ running: false });

    // Starting again replaces the stale files.
    expect(cli(home, ["daemon", "start"]).code).toBe(0);
    const again = cliJson(home, ["daemon", "status"]);
    expect(again.running).toBe(true);
    expect(again.pid).not.toBe(pid);
    expect(again.stale).toBeUndefined();
    expect(cli(home, ["run", "--wait", "--", "true"]).code).toBe(0);
  });

  it("ten racing starts (daemon start and run) on a fresh home leave exactly one daemon", async () => {
    const home = newHome();
    const racers = Array.from({ length: 10 }, (_, i) =>
      cliAsync(home, i % 2 === 0 ? ["daemon", "start"] : ["run", "--", "true"]),
    );
    const results = await Promise.all(racers);
    for (const r of results) expect(r, r.stderr).toMatchObject({ code: 0 });
    // Losers exit once they see the lock is taken; give them a moment, then count.
    const daemons = await until("the losing daemons to exit", () => {
      const live = daemonProcesses(home);
      return live.length === 1 ? live : undefined;
    });
    expect(daemons).toEqual([daemonPid(home)]);
    const log = readFileSync(join(home.dir, "daemon.log"), "utf8").split("\n");
    expect(log.filter((l) => l.includes("listening"))).toHaveLength(1);
    // One racer started the daemon (daemon.starting); the others waited for its socket, so no
    // second daemon booted only to find the lock taken. The daemon removed the marker.
    expect(log.filter((l) => l.includes("another daemon holds this home"))).toEqual([]);
    expect(existsSync(join(home.dir, "daemon.starting"))).toBe(false);
    const runs = jobRows(home);
    expect(runs).toHaveLength(5);
    for (const job of runs) expect(cli(home, ["wait", job.id]).code).toBe(0);
  });
});
