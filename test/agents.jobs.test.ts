/**
 * Agent jobs beyond a single run: agents configured in baton.yaml (env, stdin, limits), cancel,
 * pause/resume, continue, delegate, bulk submit from NDJSON and CSV, and search/list filters. The
 * agent is test/fixtures/fake-agent.mjs, a real child process run by the daemon's supervisor.
 */
import { readdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseCsv, csvJobs } from "../src/agents/bulk.js";
import { parseWhen } from "../src/ops/agent-jobs.js";
import { baton } from "./helpers/cli.js";
import { FIXTURES, cli, cliJson, jobRow, newHome, TERMINAL, until } from "./helpers/supervisor.js";
import type { Home } from "./helpers/supervisor.js";
import { tempDir } from "./helpers/tmp.js";

const FAKE = [process.execPath, join(FIXTURES, "fake-agent.mjs")];

/** A project folder with this baton.yaml text. */
function project(yaml: string): string {
  const dir = realpathSync(tempDir("bagents-"));
  writeFileSync(join(dir, "baton.yaml"), yaml);
  return dir;
}

const finished = (home: Home, id: string) =>
  until(`${id} to finish`, () => TERMINAL.includes(jobRow(home, id).state), 60_000);

/** The state letter of a process (R running, S sleeping, T stopped). */
function procState(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
}

/** Pids of the processes of a group (the wrapper shell and the agent). */
function groupPids(pgid: number): number[] {
  return readdirSync("/proc")
    .filter((n) => /^\d+$/.test(n))
    .filter((n) => {
      try {
        const stat = readFileSync(`/proc/${n}/stat`, "utf8");
        return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2] === String(pgid);
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe("bulk files and time filters", () => {
  it("parses CSV with quotes, commas and newlines; refuses unknown columns", () => {
    expect(parseCsv('a,b\n"x, ""y""","line1\nline2"\n')).toEqual([
      ["a", "b"],
      ['x, "y"', "line1\nline2"],
    ]);
    expect(csvJobs('agent,instructions,meta.pr,retries\nrev,"Review ""it""",42,1\n')).toEqual([
      { agent: "rev", instructions: 'Review "it"', meta: { pr: "42" }, retries: 1 },
    ]);
    expect(() => csvJobs("agent,instrucions\nx,y\n")).toThrow(/unknown CSV column 'instrucions'/);
    expect(() => csvJobs('instructions\n"open')).toThrow(/inside a quoted field/);
  });

  it("reads --after as a date or an age", () => {
    const now = Date.parse("2026-11-10T00:00:00Z");
    expect(parseWhen("2026-11-01", "--after", now)).toBe(Date.parse("2026-11-01"));
    expect(parseWhen("2h", "--after", now)).toBe(now - 2 * 3_600_000);
    expect(() => parseWhen("last tuesday", "--after", now)).toThrow(/takes a date/);
  });
});

describe("agents configured in baton.yaml", () => {
  it("runs a configured agent with its env and instructions on stdin; per-agent max_concurrent holds the rest in the queue and status says why", async () => {
    const home = newHome();
    const out = realpathSync(tempDir("bagent-out-"));
    const dir = project(
      [
        "agents:",
        "  reviewer:",
        `    command: ${JSON.stringify([...FAKE, "--stdin"])}`,
        "    stdin: true",
        "    env:",
        "      FAKE_AGENT_TAG: from-config",
        "      SECRET_env: MY_SECRET",
        "    max_concurrent: 1",
        "    timeout: 2m",
        "",
      ].join("\n"),
    );
    const run = (args: string[]) =>
      cliJson(home, args, { cwd: dir, env: { FAKE_AGENT_OUT: out, MY_SECRET: "s3cr3t-canary" } });
    try {
      const instructions = `Review "PR 42"\n$(touch nope) it's \`fine\``;
      const piped = baton(["agent", "submit", "--agent", "reviewer", "--meta", "pr=42", "--json", "-"], {
        home: home.dir,
        cwd: dir,
        input: instructions,
        env: { FAKE_AGENT_OUT: out, MY_SECRET: "s3cr3t-canary" },
      });
      expect(piped.code, piped.stderr).toBe(0);
      const first = JSON.parse(piped.stdout).data;
      await finished(home, first.id);
      const shown = run(["agent", "show", first.id]);
      expect(shown).toMatchObject({
        state: "succeeded",
        instructions,
        result: { tag: "from-config", args: ["--stdin"] },
      });
      const received = readdirSync(out).map((f) => readFileSync(join(out, f), "utf8"));
      expect(received).toEqual([instructions]);
      // The secret reached the agent's environment, never the ledger.
      for (const file of readdirSync(home.dir).filter((f) => f.startsWith("baton.db")))
        expect(readFileSync(join(home.dir, file)).includes("s3cr3t-canary"), file).toBe(false);

      // max_concurrent: 1 — three jobs run one at a time. The first holds its slot until the gate
      // file exists, so the queued ones are seen waiting with their reason however slow the
      // machine (with sleeps alone, a loaded run could miss every window).
      const gateFile = join(dir, "gate");
      const ids = [`GATE ${gateFile} job 1`, "SLEEP 300 job 2", "SLEEP 300 job 3"].map(
        (text) => run(["agent", "submit", "-a", "reviewer", text]).id as string,
      );
      let maxRunning = 0;
      const sample = () => {
        const states = ids.map((id) => jobRow(home, id).state);
        maxRunning = Math.max(maxRunning, states.filter((s) => s === "running").length);
        return states;
      };
      await until("the first to run", () => sample()[0] === "running", 90_000);
      for (const queued of ids.slice(1)) {
        expect(jobRow(home, queued).state).toBe("queued");
        expect(run(["status", queued]).waitingReason.join(" ")).toMatch(/agent 'reviewer'.*max_concurrent 1/);
        expect(run(["agent", "show", queued]).waiting).toMatch(/max_concurrent 1/);
      }
      expect(sample().filter((s) => s === "running")).toHaveLength(1);
      writeFileSync(gateFile, "");
      await until("the three to finish", () => sample().every((s) => TERMINAL.includes(s)), 90_000);
      expect(maxRunning).toBe(1);
      expect(ids.map((id) => jobRow(home, id).state)).toEqual(["succeeded", "succeeded", "succeeded"]);
    } finally {
      cli(home, ["daemon", "stop"]);
    }
  });

  it("reports a broken agents: section with file, line and key", () => {
    const home = newHome();
    const dir = project("agents:\n  reviewer:\n    comand: [x]\n");
    const r = cli(home, ["agent", "submit", "-a", "reviewer", "hello", "--json"], { cwd: dir });
    expect(r.code).not.toBe(0);
    expect(JSON.parse(r.stdout).error).toMatchObject({ code: "CONFIG_INVALID" });
    expect(JSON.parse(r.stdout).error.message).toMatch(/baton\.yaml:3.*agents\.reviewer/);
  });
});

describe("steering agent jobs", () => {
  const adHoc = ["--command", JSON.stringify([...FAKE, "-p", "{instructions}"])];

  it("pauses (SIGSTOP), resumes (SIGCONT) and cancels a running agent", async () => {
    const home = newHome();
    try {
      const job = cliJson(home, ["agent", "submit", "-a", "fake", ...adHoc, "HANG here"]);
      await until("it to run", () => jobRow(home, job.id).state === "running");
      const processFile = join(home.dir, "runs", job.id, "1", "process.json");
      await until("its process record", () => {
        try {
          return JSON.parse(readFileSync(processFile, "utf8")).pid > 0;
        } catch {
          return false;
        }
      });
      const pgid = JSON.parse(readFileSync(processFile, "utf8")).pid as number;
      expect(cliJson(home, ["agent", "pause", job.id])).toMatchObject({ state: "running", paused: true });
      await until("the group to be stopped", () => groupPids(pgid).every((p) => procState(p) === "T"));
      expect(cliJson(home, ["agent", "show", job.id]).paused).toBe(true);
      expect(cliJson(home, ["agent", "resume", job.id])).toMatchObject({ paused: false });
      await until("the group to run again", () => groupPids(pgid).every((p) => procState(p) !== "T"));
      // A paused agent is cancelled too (SIGCONT follows the SIGTERM).
      cliJson(home, ["agent", "pause", job.id]);
      expect(cliJson(home, ["agent", "cancel", job.id]).state).toBe("cancelled");
      await until("the group to be gone", () => groupPids(pgid).length === 0);

      const queuedPause = cli(home, ["agent", "pause", job.id, "--json"]);
      expect(JSON.parse(queuedPause.stdout).error.code).toBe("INVALID_TRANSITION");
    } finally {
      cli(home, ["daemon", "stop"]);
    }
  });

  it("continue: a linked follow-up that resumes the session (continue_command) or carries the earlier exchange", async () => {
    const home = newHome();
    const dir = project(
      [
        "agents:",
        "  resumer:",
        `    command: ${JSON.stringify([...FAKE, "-p", "{instructions}"])}`,
        `    continue_command: ${JSON.stringify([...FAKE, "--resume", "{session}", "-p", "{instructions}"])}`,
        "",
      ].join("\n"),
    );
    try {
      const first = cliJson(
        home,
        ["agent", "submit", "-a", "resumer", "--meta", "pr=7", "--user", "alice", "Find the bug"],
        { cwd: dir },
      );
      await finished(home, first.id);
      const early = cli(home, ["agent", "continue", first.id, "Now fix it", "--wait", "--json"], {
        cwd: dir,
      });
      expect(early.code, early.stdout + early.stderr).toBe(0);
      const next = cliJson(home, ["agent", "list", "--meta", "pr=7", "--user", "alice"], { cwd: dir }).jobs;
      expect(next).toHaveLength(2);
      const follow = cliJson(home, ["agent", "show", next[0].id], { cwd: dir });
      const session = cliJson(home, ["agent", "show", first.id], { cwd: dir }).result.session_id;
      expect(follow).toMatchObject({
        state: "succeeded",
        continues: first.id,
        instructions: "Now fix it",
        meta: { pr: "7" },
        user: "alice",
        result: { args: ["--resume", session, "-p"] },
      });

      // An ad-hoc agent (no continue command): the follow-up carries the earlier exchange.
      const plain = cliJson(home, ["agent", "submit", "-a", "fake", ...adHoc, "Count the files"]);
      await finished(home, plain.id);
      const again = cliJson(home, ["agent", "continue", plain.id, "And the folders"]);
      await finished(home, again.id);
      const shown = cliJson(home, ["agent", "show", again.id]);
      expect(shown.state).toBe("succeeded");
      expect(shown.instructions).toContain("Count the files");
      expect(shown.instructions).toContain("done: Count the files");
      expect(shown.instructions.endsWith("And the folders")).toBe(true);

      const hang = cliJson(home, ["agent", "submit", "-a", "fake", ...adHoc, "HANG"]);
      const early2 = cli(home, ["agent", "continue", hang.id, "more", "--json"]);
      expect(JSON.parse(early2.stdout).error.code).toBe("INVALID_TRANSITION");
      cliJson(home, ["agent", "cancel", hang.id]);
    } finally {
      cli(home, ["daemon", "stop"]);
    }
  });

  it("delegate waits for the answer", () => {
    const home = newHome();
    try {
      const done = cliJson(home, ["agent", "delegate", "-a", "fake", ...adHoc, "summarise"]);
      expect(done).toMatchObject({ finished: true, state: "succeeded", summary: "done: summarise" });
    } finally {
      cli(home, ["daemon", "stop"]);
    }
  });
});

describe("bulk submit and search", () => {
  it("submits NDJSON and CSV files; search and list filter by meta, user, type, state and date", async () => {
    const home = newHome();
    const dir = project(
      ["agents:", "  bulk:", `    command: ${JSON.stringify([...FAKE, "-p", "{instructions}"])}`, ""].join(
        "\n",
      ),
    );
    writeFileSync(
      join(dir, "jobs.ndjson"),
      [
        JSON.stringify({ instructions: "one", meta: { pr: "42" }, user: "alice" }),
        JSON.stringify({ instructions: "FAIL two", meta: { pr: "42" }, type: "fix" }),
        JSON.stringify({ instructions: "three", meta: { pr: "43" } }),
      ].join("\n"),
    );
    writeFileSync(
      join(dir, "jobs.csv"),
      'instructions,user,meta.pr\n"Review, carefully: ""all"" of it\nplease",bob,42\n',
    );
    try {
      const nd = cliJson(
        home,
        ["agent", "submit", "-a", "bulk", "--type", "review", "--file", "jobs.ndjson"],
        { cwd: dir },
      );
      expect(nd.jobs).toHaveLength(3);
      const csv = cliJson(home, ["agent", "submit", "-a", "bulk", "--file", "jobs.csv"], { cwd: dir });
      expect(csv.jobs).toHaveLength(1);
      for (const j of [...nd.jobs, ...csv.jobs]) await finished(home, j.id);
      expect(cliJson(home, ["agent", "show", csv.id], { cwd: dir }).instructions).toBe(
        'Review, carefully: "all" of it\nplease',
      );

      const ids = (jobs: { id: string }[]) => jobs.map((j) => j.id).sort();
      const search = (args: string[]) => cliJson(home, ["search", ...args], { cwd: dir }).jobs;
      expect(ids(search(["--meta", "pr=42"]))).toEqual(ids([nd.jobs[0], nd.jobs[1], csv.jobs[0]]));
      expect(ids(search(["--meta", "pr=42", "--state", "failed"]))).toEqual([nd.jobs[1].id]);
      expect(ids(search(["--meta", "pr=42", "--user", "bob"]))).toEqual([csv.id]);
      expect(ids(search(["--type", "fix"]))).toEqual([nd.jobs[1].id]);
      expect(ids(search(["--type", "review"]))).toEqual(ids([nd.jobs[0], nd.jobs[2]]));
      expect(search(["--meta", "pr=42", "--after", "2020-01-01"])).toHaveLength(3);
      expect(search(["--meta", "pr=42", "--before", "2020-01-01"])).toHaveLength(0);
      expect(search(["--meta", "pr=42", "--after", "1h"])).toHaveLength(3);
      expect(
        ids(
          cliJson(home, ["agent", "list", "-a", "bulk", "--state", "succeeded", "--meta", "pr=42"], {
            cwd: dir,
          }).jobs,
        ),
      ).toEqual(ids([nd.jobs[0], csv.jobs[0]]));
      const bad = cli(home, ["search", "--after", "someday", "--json"], { cwd: dir });
      expect(JSON.parse(bad.stdout).error.code).toBe("INVALID_INPUT");
    } finally {
      cli(home, ["daemon", "stop"]);
    }
  });
});
