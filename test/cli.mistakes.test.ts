/**
 * Issue 19: the command line answers a mistake in the words the user typed. A table walks the
 * commands with their common mistakes (a typo, a bad value, a missing argument, an ambiguous
 * reference, the wrong project) and checks the message (what it must say), the exit code
 * (docs/cli.md) and the `--json` envelope, through the real binary on a real SQLite file. Then
 * the exit codes that mean one thing each: `doctor` with a FAIL, `daemon status` with no daemon,
 * `wait` giving up (75) apart from a job's own timeout (124).
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import type { Command } from "commander";
import { buildProgram } from "../src/cli/main.js";
import { baton, envelope } from "./helpers/cli.js";
import { stopDaemonsIn } from "./helpers/tmp.js";

/** A directory kept for the whole describe block (tempDir's are removed after each test). */
const kept: string[] = [];
function keptDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  kept.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of kept) {
    // Some cases start the home's daemon: stop it before its folder goes (it was left running).
    stopDaemonsIn(dir);
    rmSync(dir, { recursive: true, force: true });
  }
});

interface Mistake {
  kind: "typo" | "bad value" | "missing argument" | "ambiguous reference" | "wrong project";
  args: string[];
  exit: number;
  code: string;
  /** Every one of these must be in the message (text and JSON alike). */
  says: string[];
  /** Run from this project (default: alpha). */
  cwd?: "alpha" | "beta" | "gamma";
}

const STATES = "waiting, queued, running, retrying, succeeded, failed, timed_out, cancelled, skipped";

/**
 * Every flag of the command line that takes a duration (`<duration>`) or a time (`<when>`), with
 * the arguments its command needs: `abc` given to each must be refused naming the flag.
 */
const DURATION_FLAGS: [command: string, flag: string, args: string[], argv?: string[]][] = [
  ["enqueue", "--delay", ["{}"]],
  ["list", "--since", []],
  ["list", "--until", []],
  ["audit", "--since", []],
  ["audit", "--until", []],
  ["resume", "--since", []],
  ["clean", "--older-than", []],
  ["claim", "--lease", []],
  ["heartbeat", "--lease", ["x", "tok"]],
  ["register-agent", "--ttl", ["a1"]],
  ["run", "--timeout", [], ["--", "true"]],
  ["run", "--idle-timeout", [], ["--", "true"]],
  ["wait", "--timeout", ["x"]],
  ["agent submit", "--timeout", ["-a", "claude", "hi"]],
  ["agent delegate", "--timeout", ["-a", "claude", "hi"]],
  ["agent list", "--after", []],
  ["agent list", "--before", []],
  ["search", "--after", []],
  ["search", "--before", []],
];

/** Every command that takes `--project`, with the arguments it needs besides. */
const PROJECT_COMMANDS: [command: string, args: string[]][] = [
  ["enqueue", ["{}"]],
  ["resume", []],
  ["list", []],
  ["audit", []],
  ["receipt", ["w"]],
  ["workflows", []],
  ["archive", ["x"]],
  ["claim", []],
  ["status", []],
  ["complete", ["x"]],
  ["fail", ["x", "err"]],
  ["show", ["x"]],
  ["explain", ["x"]],
  ["skip", ["x"]],
  ["accept-before", ["x"]],
  ["unarchive", ["x"]],
  ["delete", ["x"]],
  ["redrive", ["x"]],
  ["rerun", ["x"]],
  ["heartbeat", ["x", "tok"]],
  ["release", ["x", "tok"]],
  ["logs", ["x"]],
  ["wait", ["x"]],
  ["stop", ["x"]],
  ["retry", ["x"]],
  ["events", ["x"]],
  ["agent continue", ["x"]],
  ["agent show", ["x"]],
  ["agent cancel", ["x"]],
  ["agent pause", ["x"]],
  ["agent resume", ["x"]],
  // Commands whose operation works in a project (D144).
  ["task list", []],
  ["task describe", ["x"]],
  ["task run", ["x"]],
  ["task new", ["x"]],
  ["task import", ["x"]],
  ["runs", []],
  ["capabilities", []],
  ["config validate", []],
  ["schedule list", []],
  ["schedule enable", ["x"]],
  ["schedule disable", ["x"]],
  ["schedule install-units", []],
  ["run", []],
  ["search", []],
  ["agent submit", []],
  ["agent delegate", []],
  ["agent configured", []],
  ["agent list", []],
];

const table: Mistake[] = [
  // typos: commands, flags and values get a "did you mean"
  { kind: "typo", args: ["stauts"], exit: 2, code: "USAGE", says: ["'stauts'", "Did you mean status?"] },
  { kind: "typo", args: ["lsit"], exit: 2, code: "USAGE", says: ["Did you mean list?"] },
  { kind: "typo", args: ["complet", "x"], exit: 2, code: "USAGE", says: ["Did you mean complete?"] },
  {
    kind: "typo",
    args: ["list", "--stat", "queued"],
    exit: 2,
    code: "USAGE",
    says: ["Did you mean --state?"],
  },
  { kind: "typo", args: ["enqueue", "{}", "--workflw", "w"], exit: 2, code: "USAGE", says: ["--workflow"] },
  {
    kind: "typo",
    args: ["list", "-s", "queud"],
    exit: 2,
    code: "INVALID_INPUT",
    says: [STATES, "did you mean queued?"],
  },
  {
    kind: "typo",
    args: ["clean", "-s", "faild"],
    exit: 2,
    code: "INVALID_INPUT",
    says: ["did you mean failed?"],
  },
  // bad values: the flag as typed, its bound in its own unit, the valid values
  {
    kind: "bad value",
    args: ["list", "-s", "bogus"],
    exit: 2,
    code: "INVALID_INPUT",
    says: ["--state 'bogus'", STATES, "live, finished"],
  },
  {
    kind: "bad value",
    args: ["register-agent", "a1", "--ttl", "2s"],
    exit: 2,
    code: "INVALID_INPUT",
    says: ["--ttl must be at least 5s"],
  },
  {
    kind: "bad value",
    args: ["run", "--timeout", "0", "--", "true"],
    exit: 2,
    code: "INVALID_INPUT",
    says: ["--timeout must be more than 0"],
  },
  {
    kind: "bad value",
    args: ["enqueue", "{}", "-p", "5000"],
    exit: 2,
    code: "INVALID_INPUT",
    says: ["--priority must be at most 1000"],
  },
  {
    // Past the safe-integer range, the field's own bound is named, not JavaScript's (issue 17).
    kind: "bad value",
    args: ["enqueue", "{}", "-p", "99999999999999999999"],
    exit: 2,
    code: "INVALID_INPUT",
    says: ["--priority must be at most 1000"],
  },
  {
    kind: "bad value",
    args: ["enqueue", "{}", "-p", "-99999999999999999999"],
    exit: 2,
    code: "INVALID_INPUT",
    says: ["--priority must be at least -1000"],
  },
  {
    kind: "bad value",
    args: ["enqueue", "{}", "-p", "high"],
    exit: 2,
    code: "INVALID_INPUT",
    says: ["--priority must be an integer"],
  },
  {
    kind: "bad value",
    args: ["list", "--limit", "0"],
    exit: 2,
    code: "INVALID_INPUT",
    says: ["--limit must be at least 1"],
  },
  // Every flag that takes a duration or a time names itself when the value is not one.
  ...DURATION_FLAGS.map(([command, flag, args, argv = []]): Mistake => ({
    kind: "bad value",
    args: [...command.split(" "), ...args, flag, "abc", ...argv],
    exit: 2,
    code: "INVALID_INPUT",
    says: [flag, "'abc'"],
  })),
  // A --project that does not exist is refused, not a project with no jobs.
  ...PROJECT_COMMANDS.map(([command, args]): Mistake => ({
    kind: "wrong project",
    // `run`'s options come before its command line.
    args: [
      ...command.split(" "),
      ...args,
      "--project",
      "/nonexistent/baton-project",
      ...(command === "run" ? ["--", "true"] : []),
    ],
    exit: 2,
    code: "INVALID_INPUT",
    says: ["--project '/nonexistent/baton-project' does not exist"],
  })),
  // An empty filter (an unset shell variable, `-w "$WF"`) is refused, not a filter that matches nothing.
  ...(
    [
      ["list", "-w", "--workflow"],
      ["list", "-t", "--type"],
      ["list", "--tag", "--tag"],
      ["list", "-q", "--search"],
      ["list", "--project", "--project"],
      ["audit", "-w", "--workflow"],
      ["audit", "-t", "--type"],
      ["claim", "-w", "--workflow"],
      ["run", "-n", "--name"],
    ] as const
  ).map(([command, flag, named]): Mistake => ({
    kind: "bad value",
    args: command === "run" ? [command, flag, "", "--", "true"] : [command, flag, ""],
    exit: 2,
    code: "INVALID_INPUT",
    says: [`${named} must not be empty`],
  })),
  // missing arguments
  {
    kind: "missing argument",
    args: ["enqueue"],
    exit: 2,
    code: "INVALID_INPUT",
    says: ["payload", "-n", "-t", "--file"],
  },
  {
    kind: "missing argument",
    args: ["show"],
    exit: 2,
    code: "USAGE",
    says: ["missing required argument 'id'"],
  },
  { kind: "missing argument", args: ["fail", "x"], exit: 2, code: "USAGE", says: ["'error'"] },
  { kind: "missing argument", args: ["wait"], exit: 2, code: "USAGE", says: ["'id'"] },
  // ambiguous references name every candidate; nothing is done
  {
    kind: "ambiguous reference",
    args: ["complete", "twin"],
    exit: 4,
    code: "AMBIGUOUS_ID",
    says: ["'twin' matches 2 jobs"],
  },
  {
    kind: "ambiguous reference",
    args: ["show", "twin"],
    exit: 4,
    code: "AMBIGUOUS_ID",
    says: ["use a full id"],
  },
  { kind: "ambiguous reference", args: ["explain", "twin"], exit: 4, code: "AMBIGUOUS_ID", says: ["'twin'"] },
  {
    kind: "ambiguous reference",
    args: ["enqueue", "{}", "--depends-on", "twin"],
    exit: 4,
    code: "AMBIGUOUS_ID",
    says: ["'twin'"],
  },
  // a leased task without its token says how to present it (`complete` has no --force)
  { kind: "missing argument", args: ["complete", "leased"], exit: 4, code: "LEASE_LOST", says: ["--token"] },
  // the wrong project: a name only in other projects, in two of them
  {
    kind: "wrong project",
    args: ["show", "build"],
    cwd: "gamma",
    exit: 4,
    code: "AMBIGUOUS_ID",
    says: ["project", "alpha", "beta"],
  },
  {
    kind: "wrong project",
    args: ["complete", "build"],
    cwd: "gamma",
    exit: 4,
    code: "AMBIGUOUS_ID",
    says: ["alpha", "beta"],
  },
  {
    kind: "wrong project",
    args: ["show", "nothing-here"],
    cwd: "gamma",
    exit: 3,
    code: "JOB_NOT_FOUND",
    says: ["'nothing-here'"],
  },
];

let home = "";
const projects: Record<string, string> = {};

function call(args: string[], cwd: string, json: boolean) {
  // --json after the command's words and before a `--` (subcommands: `agent list --json`).
  const at = args.includes("--") ? args.indexOf("--") : args.length;
  const withJson = json ? [...args.slice(0, at), "--json", ...args.slice(at)] : args;
  return baton(withJson, { home, cwd });
}

describe("issue 19: every command's common mistakes", () => {
  beforeAll(() => {
    home = keptDir("baton-mistakes-home-");
    const root = keptDir("baton-mistakes-projects-");
    for (const p of ["alpha", "beta", "gamma"]) {
      projects[p] = join(root, p);
      mkdirSync(join(projects[p], ".git"), { recursive: true });
    }
    const seed = (args: string[], cwd: string) =>
      expect(baton([...args, "--json"], { home, cwd }).code).toBe(0);
    seed(["enqueue", "{}", "-n", "twin"], projects.alpha!);
    seed(["enqueue", "{}", "-n", "twin"], projects.alpha!);
    seed(["enqueue", "{}", "-n", "build"], projects.alpha!);
    seed(["enqueue", "{}", "-n", "build"], projects.beta!);
    seed(["enqueue", "{}", "-n", "leased", "-t", "leasework"], projects.alpha!);
    // A lease longer than the whole file takes: a 30 s default expired on a loaded machine before
    // the `complete leased` case ran, and complete without a token then (rightly) succeeded.
    seed(["claim", "-t", "leasework", "--lease", "1h"], projects.alpha!);
  });

  for (const m of table) {
    it(`${m.kind}: baton ${m.args.join(" ")} → exit ${m.exit} ${m.code}`, () => {
      const cwd = projects[m.cwd ?? "alpha"]!;
      const text = call(m.args, cwd, false);
      expect({ exit: text.code, stdout: text.stdout }).toEqual({ exit: m.exit, stdout: "" });
      const lines = text.stderr.trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^baton: error: .+ \\(${m.code}\\)$`));
      for (const words of m.says) expect(lines[0]).toContain(words);

      const json = call(m.args, cwd, true);
      expect({ exit: json.code, stderr: json.stderr }).toEqual({ exit: m.exit, stderr: "" });
      const env = envelope(json);
      expect(env.ok).toBe(false);
      expect(env.error?.code).toBe(m.code);
      for (const words of m.says) expect(env.error?.message).toContain(words);
    });
  }

  it("nothing the mistakes said changed a job", () => {
    const listed = envelope(baton(["list", "--all", "--json"], { home, cwd: projects.alpha! })).data;
    expect(listed.total).toBe(5);
    for (const job of listed.jobs as { name: string; state: string }[])
      expect(job.state).toBe(job.name === "leased" ? "running" : "queued");
  });
});

describe("the duration table covers every command", () => {
  it("lists each flag that takes a <duration>, <when> or <cursor> of time", () => {
    const found: string[] = [];
    const walk = (cmd: Command, path: string[]): void => {
      for (const o of cmd.options)
        if (/<(duration|when|cursor)>/.test(o.flags) && !(path[0] === "list" && o.long === "--cursor"))
          found.push(`${path.join(" ")} ${o.long ?? ""}`);
      for (const sub of cmd.commands) walk(sub, [...path, sub.name()]);
    };
    walk(
      buildProgram(() => undefined),
      [],
    );
    const listed = DURATION_FLAGS.map(([command, flag]) => `${command} ${flag}`);
    expect(found.sort()).toEqual(listed.sort());
  });
});

describe("--project on every command that takes it", () => {
  it("the project table lists each command with --project, and every command taking a job has it", () => {
    const found: string[] = [];
    const referenced: string[] = [];
    const walk = (cmd: Command, path: string[]): void => {
      if (cmd.options.some((o) => o.long === "--project")) found.push(path.join(" "));
      if (cmd.registeredArguments.some((a) => /^ids?$/.test(a.name()))) referenced.push(path.join(" "));
      for (const sub of cmd.commands) walk(sub, [...path, sub.name()]);
    };
    walk(
      buildProgram(() => undefined),
      [],
    );
    expect(found.sort()).toEqual(PROJECT_COMMANDS.map(([command]) => command).sort());
    expect(referenced.filter((c) => !found.includes(c))).toEqual([]);
  });

  it("a name in two projects is looked up in --project's, by every command that takes a job", () => {
    const where = keptDir("baton-project-flag-home-");
    const root = keptDir("baton-project-flag-");
    const [p1, p2, other] = ["p1", "p2", "other"].map((p) => {
      mkdirSync(join(root, p, ".git"), { recursive: true });
      return join(root, p);
    }) as [string, string, string];
    const ok = (args: string[], cwd: string) => {
      const at = args.includes("--") ? args.indexOf("--") : args.length;
      const r = baton([...args.slice(0, at), "--json", ...args.slice(at)], { home: where, cwd });
      expect({ args, code: r.code, stderr: r.stderr }).toEqual({ args, code: 0, stderr: "" });
      return envelope(r).data;
    };
    onTestFinished(() => {
      baton(["daemon", "stop"], { home: where });
    });
    const built = [p1, p2].map((p) => ok(["run", "-n", "build", "--", "true"], p).id as string);
    const steps = [p1, p2].map((p) => ok(["enqueue", "{}", "-n", "step"], p).jobs[0].id as string);
    expect(baton(["show", "build", "--json"], { home: where, cwd: other }).code).toBe(4);
    for (const [i, project] of [p1, p2].entries()) {
      const id = built[i]!;
      expect(ok(["wait", "build", "--timeout", "30s", "--project", project], other).id).toBe(id);
      expect(ok(["show", "build", "--project", project], other).job.id).toBe(id);
      expect(ok(["status", "build", "--project", project], other).job.id).toBe(id);
      expect(ok(["explain", "build", "--project", project], other).id).toBe(id);
      expect(ok(["logs", "build", "--project", project], other).id).toBe(id);
      expect(ok(["stop", "build", "--project", project], other)).toMatchObject({
        id,
        outcome: "already_finished",
      });
      expect(ok(["retry", "build", "--project", project], other).id).toBe(id);
    }
    ok(["complete", "step", "--project", p1], other);
    ok(["fail", "step", "boom", "--no-retry", "--project", p2], other);
    expect(ok(["show", steps[0]!], other).job.state).toBe("succeeded");
    expect(ok(["show", steps[1]!], other).job.state).toBe("failed");
  });
});

describe("exit codes that mean one thing each (docs/cli.md)", () => {
  let where = "";
  beforeAll(() => {
    where = keptDir("baton-exit-home-");
  });
  afterAll(() => {
    baton(["daemon", "stop"], { home: where });
  });

  it("doctor exits 1 when a check FAILs, 0 when all pass", async () => {
    expect(baton(["doctor"], { home: where }).code).toBe(0);
    expect(baton(["enqueue", "{}", "--json"], { home: where }).code).toBe(0);
    expect(baton(["claim", "--lease", "1s", "--json"], { home: where }).code).toBe(0);
    await sleep(1500);
    const failing = baton(["doctor"], { home: where });
    expect(failing.code).toBe(1);
    expect(failing.stdout).toMatch(/^FAIL leases:/m);
    const json = baton(["doctor", "--json"], { home: where });
    expect(json.code).toBe(1);
    expect(envelope(json).data.ok).toBe(false);
  });

  it("daemon status exits 3 when no daemon runs, 0 when one does", () => {
    const none = baton(["daemon", "status", "--json"], { home: where });
    expect(none.code).toBe(3);
    expect(envelope(none).data.running).toBe(false);
    expect(baton(["daemon", "start"], { home: where }).code).toBe(0);
    expect(baton(["daemon", "status"], { home: where }).code).toBe(0);
  });

  it("wait exits 75 when it gives up, 124 when the job itself timed out", () => {
    const long = envelope(baton(["run", "--json", "--", "sleep", "30"], { home: where })).data.id as string;
    const gaveUp = baton(["wait", long, "--timeout", "1s"], { home: where });
    expect(gaveUp.code).toBe(75);
    expect(gaveUp.stderr).toContain("gave up waiting");
    const timed = envelope(baton(["run", "--json", "--timeout", "1s", "--", "sleep", "30"], { home: where }))
      .data.id as string;
    expect(baton(["wait", timed, "--timeout", "30s"], { home: where }).code).toBe(124);
    expect(baton(["stop", long], { home: where }).code).toBe(0);
  });
});
