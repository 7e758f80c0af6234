/**
 * The checkpoint commands end to end, through the real `bin/baton.js` (a child process per call)
 * on a real SQLite file in a temporary BATON_HOME.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import type { CliResult } from "./helpers/cli.js";
import { BIN, baton, envelope } from "./helpers/cli.js";
import { tempDir } from "./helpers/tmp.js";

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;
const ANSI = /\u001b\[/;

/** The `data` of a `--json` envelope (loosely typed: the tests assert its shape). */
type Data = ReturnType<typeof envelope>["data"];

interface World {
  home: string;
  /** A git project (has `.git`). */
  projA: string;
  /** Another git project. */
  projB: string;
  /** Run baton in `cwd` (default projA); asserts no ANSI escapes ever reach the output. */
  run(args: string[], options?: { cwd?: string; input?: string }): CliResult;
  /** Run with `--json`, expect exit 0 and `{ok:true,data}`; returns data. */
  ok(args: string[], options?: { cwd?: string; input?: string }): Data;
  /** Run with `--json`, expect `exit` and `{ok:false,error:{code}}`; returns the error. */
  err(
    args: string[],
    exit: number,
    code: string,
    options?: { cwd?: string; input?: string },
  ): { code: string; message: string };
  /** Enqueue one named task; returns its id. */
  add(name: string, extra?: string[], cwd?: string): string;
}

function world(): World {
  const home = tempDir("baton-cli-home-");
  const root = tempDir("baton-cli-projects-");
  const projA = join(root, "alpha");
  const projB = join(root, "beta");
  for (const p of [projA, projB]) mkdirSync(join(p, ".git"), { recursive: true });
  const run: World["run"] = (args, options = {}) => {
    const r = baton(args, {
      home,
      cwd: options.cwd ?? projA,
      ...(options.input === undefined ? {} : { input: options.input }),
    });
    expect(r.stdout, `stdout of baton ${args.join(" ")}`).not.toMatch(ANSI);
    expect(r.stderr, `stderr of baton ${args.join(" ")}`).not.toMatch(ANSI);
    return r;
  };
  const ok: World["ok"] = (args, options) => {
    const r = run([...args, "--json"], options);
    expect({ code: r.code, stderr: r.stderr }, `baton ${args.join(" ")} --json`).toEqual({
      code: 0,
      stderr: "",
    });
    const env = envelope(r);
    expect(env.ok).toBe(true);
    expect(Object.keys(env).sort()).toEqual(["data", "ok"]);
    return env.data;
  };
  const err: World["err"] = (args, exit, code, options) => {
    const r = run([...args, "--json"], options);
    const env = envelope(r);
    expect({ exit: r.code, ok: env.ok, code: env.error?.code }, `baton ${args.join(" ")} --json`).toEqual({
      exit,
      ok: false,
      code,
    });
    expect(env.error!.message).not.toBe("");
    return env.error!;
  };
  const add: World["add"] = (name, extra = [], cwd) => {
    const data = ok(
      ["enqueue", JSON.stringify({ file: `${name}.ts` }), "-n", name, ...extra],
      cwd === undefined ? {} : { cwd },
    );
    const id = data.jobs[0].id as string;
    expect(id).toMatch(ULID);
    return id;
  };
  return { home, projA, projB, run, ok, err, add };
}

/** Human error output: exactly one non-empty line on stderr, nothing on stdout, no stack frames. */
function expectOneLineError(r: CliResult, exit: number, code: string): void {
  expect(r.code).toBe(exit);
  expect(r.stdout).toBe("");
  const lines = r.stderr.split("\n").filter((l) => l.trim() !== "");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toContain(`(${code})`);
  expect(r.stderr).not.toMatch(/^\s+at /m);
}

describe("baton CLI: checkpoints end to end", () => {
  it("enqueues one task (JSON payload) and batches from a JSON array file and from NDJSON on stdin", () => {
    const w = world();
    const single = w.ok([
      "enqueue",
      '{"file":"src/a.ts","lines":[1,2]}',
      "-w",
      "refactor",
      "-n",
      "a",
      "--tag",
      "ts",
      "-p",
      "5",
    ]);
    expect(single.project).toBe(w.projA);
    expect(single.jobs).toHaveLength(1);
    expect(single.jobs[0]).toMatchObject({ state: "queued", deduplicated: false });
    const shown = w.ok(["show", single.jobs[0].id]);
    expect(shown.job).toMatchObject({
      name: "a",
      workflow: "refactor",
      tags: ["ts"],
      priority: 5,
      payload: { file: "src/a.ts", lines: [1, 2] },
      project: w.projA,
    });

    // Human output: one `<id> (<short id>)  <state>` line per job.
    const human = w.run(["enqueue", '"plain string payload"', "-n", "plain"]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^[0-9A-Z]{20}([0-9A-Z]{6}) \(\1\) {2}queued\n$/);

    // An idempotency key returns the live job instead of a second one.
    const k1 = w.ok(["enqueue", "{}", "-n", "keyed", "-k", "build:1"]);
    const k2 = w.ok(["enqueue", "{}", "-n", "keyed-again", "-k", "build:1"]);
    expect(k2.jobs[0]).toEqual({ id: k1.jobs[0].id, state: "queued", deduplicated: true });
    expect(w.run(["enqueue", "{}", "-k", "build:1"]).stdout).toContain("deduplicated");

    // A JSON array file.
    const file = join(w.home, "jobs.json");
    writeFileSync(
      file,
      JSON.stringify([
        { payload: { file: "b.ts" }, name: "b" },
        { payload: { file: "c.ts" }, name: "c", priority: 3 },
        { payload: { file: "d.ts" }, name: "d", workflow: "other" },
      ]),
    );
    const batch = w.ok(["enqueue", "--file", file, "-w", "batch"]);
    expect(batch.jobs).toHaveLength(3);
    expect(new Set(batch.jobs.map((j: { id: string }) => j.id)).size).toBe(3);
    // --workflow applies to items that do not name their own.
    expect(w.ok(["list", "-w", "batch"]).total).toBe(2);
    expect(w.ok(["list", "-w", "other"]).total).toBe(1);

    // NDJSON on stdin.
    const ndjson = [
      '{"payload":{"file":"e.ts"},"name":"e"}',
      "",
      '{"payload":{"file":"f.ts"},"name":"f"}',
      "",
    ].join("\n");
    const piped = w.ok(["enqueue", "--file", "-", "-w", "piped"], { input: ndjson });
    expect(piped.jobs.map((j: { state: string }) => j.state)).toEqual(["queued", "queued"]);
    const listed = w.ok(["list", "-w", "piped"]);
    expect(listed.jobs.map((j: { name: string }) => j.name).sort()).toEqual(["e", "f"]);
    expect(w.ok(["list"]).total).toBe(8);
  });

  it("completes one and many with text and JSON evidence, and items from a file; fails; shows", () => {
    const w = world();
    const [a, b, c, d, e, f] = ["a", "b", "c", "d", "e", "f"].map((n) => w.add(n, ["-w", "wf"])) as [
      string,
      string,
      string,
      string,
      string,
      string,
    ];

    // One, by name, with text evidence (human output).
    const one = w.run(["complete", "a", "--evidence", "edited a.ts: added docstrings"]);
    expect(one.code).toBe(0);
    expect(one.stdout).toBe(`${a}  succeeded\n`);
    expect(w.ok(["show", a]).job).toMatchObject({
      state: "succeeded",
      evidence: "edited a.ts: added docstrings",
    });

    // Many, by id, with shared JSON evidence and a result.
    const many = w.ok([
      "complete",
      b,
      c,
      "-e",
      '{"files":["b.ts","c.ts"],"tests":"pass"}',
      "-r",
      '{"lines":42}',
    ]);
    expect(many).toEqual({
      completed: [
        { id: b, state: "succeeded" },
        { id: c, state: "succeeded" },
      ],
      errors: [],
    });
    expect(w.ok(["show", c]).job).toMatchObject({
      evidence: { files: ["b.ts", "c.ts"], tests: "pass" },
      result: { lines: 42 },
    });

    // Items, each with its own evidence, from NDJSON on stdin and from a JSON file.
    const items = [
      JSON.stringify({ id: d, evidence: "d done" }),
      JSON.stringify({ id: "e", evidence: { n: 5 }, result: true }),
    ];
    expect(w.ok(["complete", "--file", "-"], { input: items.join("\n") }).completed).toHaveLength(2);
    expect(w.ok(["show", "d"]).job.evidence).toBe("d done");
    expect(w.ok(["show", e]).job).toMatchObject({ evidence: { n: 5 }, result: true });

    // A batch with a bad item: the good ones complete, the bad ones are listed, exit 1.
    const g = w.add("g");
    const partial = w.run(["complete", g, a, "NOSUCHJOB", "--json"]);
    expect(partial.code).toBe(1);
    const env = envelope(partial);
    expect(env.ok).toBe(true);
    // `a` succeeded above: completing it again is "already done" (D60), not an error.
    expect(env.data.completed).toEqual([
      { id: g, state: "succeeded" },
      { id: a, state: "succeeded", alreadyDone: true },
    ]);
    expect(env.data.errors.map((x: { id: string; code: string }) => [x.id, x.code])).toEqual([
      ["NOSUCHJOB", "JOB_NOT_FOUND"],
    ]);
    const partialHuman = w.run(["complete", a, "NOSUCHJOB2"]);
    expect(partialHuman.code).toBe(1);
    expect(partialHuman.stdout).toContain("NOSUCHJOB2  error:");

    // Failing a succeeded task is a conflict (4; completing it again is "already done", D60);
    // an unknown one is not found (3).
    w.err(["fail", a, "late"], 4, "INVALID_TRANSITION");
    w.err(["complete", "NOSUCHJOB"], 3, "JOB_NOT_FOUND");
    expectOneLineError(w.run(["fail", a, "late"]), 4, "INVALID_TRANSITION");

    // Fail records the error.
    const failed = w.ok(["fail", f, "tests broke: 3 failures", "--no-retry"]);
    expect(failed).toEqual({ id: f, state: "failed" });
    const shownF = w.ok(["show", "f"]);
    expect(shownF.job).toMatchObject({ state: "failed", error: "tests broke: 3 failures" });
    expect(shownF.events.map((x: { kind: string }) => x.kind)).toEqual(["enqueued", "failed"]);

    // Show, human: readable key/value lines.
    const show = w.run(["show", a]);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain(`id: ${a}`);
    expect(show.stdout).toContain("state: succeeded");
    expect(show.stdout).toContain("evidence: edited a.ts: added docstrings");
    expect(w.ok(["show", a, "--events", "1"]).events).toHaveLength(1);
    expect(w.ok(["show", a, "--events", "0"]).events).toHaveLength(0);
    expectOneLineError(w.run(["show", "NOSUCHJOB"]), 3, "JOB_NOT_FOUND");
  });

  it("resume: what is left, human and --json, within --budget, and only changes --since a cursor", () => {
    const w = world();
    const ids = Array.from({ length: 5 }, (_, i) => w.add(`f${i + 1}`, ["-w", "docs"]));
    w.ok(["complete", ids[0]!, ids[1]!, "-e", "documented"]);

    const r = w.ok(["resume"]);
    expect(r.project).toBe(w.projA);
    expect(r.remaining).toBe(3);
    expect(r.cursor).toMatch(/^e\d+$/);
    expect(r.workflows).toHaveLength(1);
    expect(r.workflows[0]).toMatchObject({ workflow: "docs", done: 2, remaining: 3, failed: 0, more: 0 });
    expect(r.workflows[0].tasks.map((t: string) => t.split(" ")[0])).toEqual(ids.slice(2));
    expect(r.workflows[0].lastDone).toContain("documented");

    const human = w.run(["resume"]);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain("docs: 3 left, 2 done");
    // One indented line per remaining task, starting with its short id, in order.
    const taskLines = human.stdout.split("\n").filter((l) => /^ {2}[0-9A-Z]{6} /.test(l));
    expect(taskLines.map((l) => l.trim().split(" ")[0])).toEqual(ids.slice(2).map((id) => id.slice(-6)));
    expect(taskLines.every((l, i) => l.includes(`f${i + 3}`))).toBe(true);
    expect(human.stdout).toContain(`cursor: ${r.cursor}`);

    // A small budget trims the task lines and says how many were left out.
    const small = w.ok(["resume", "--budget", "50"]);
    expect(small.remaining).toBe(3);
    expect(small.workflows[0].tasks.length).toBeLessThan(3);
    expect(small.workflows[0].tasks.length + small.workflows[0].more).toBe(3);
    expect(w.run(["resume", "--budget", "50"]).stdout).toMatch(
      /… \d more left, not shown — baton list -w docs -s live/,
    );

    // --since: only what changed after the cursor is listed; `remaining` still counts all that is left.
    const unchanged = w.ok(["resume", "--since", r.cursor]);
    expect(unchanged.remaining).toBe(3);
    expect(unchanged.workflows).toEqual([]);
    expect(unchanged.finishedSince).toBeUndefined();
    w.ok(["complete", ids[2]!, "-e", "done after the cursor"]);
    const added = w.add("f6", ["-w", "docs"]);
    const since = w.ok(["resume", "--since", r.cursor]);
    expect(since.remaining).toBe(3);
    expect(since.workflows[0].tasks.map((t: string) => t.split(" ")[0])).toEqual([added]);
    expect(since.finishedSince.map((t: string) => t.split(" ")[0])).toEqual([ids[2]]);
    expect(since.cursor).not.toBe(r.cursor);
    expect(w.run(["resume", "--since", r.cursor]).stdout).toMatch(
      new RegExp(`^finished: ${ids[2]!.slice(-6)} `, "m"),
    );

    // Per workflow, and from another project: nothing there.
    expect(w.ok(["resume", "-w", "nope"]).remaining).toBe(0);
    const elsewhere = w.run(["resume"], { cwd: w.projB });
    expect(elsewhere.code).toBe(0);
    expect(elsewhere.stdout).toContain(`Nothing left to do in ${w.projB}.`);
    w.err(["resume", "--since", "tomorrow"], 2, "INVALID_INPUT");
  });

  it("list: filters, pagination with --limit/--cursor, and a plain readable table", () => {
    const w = world();
    const a = w.add("a", ["-w", "one", "--tag", "red"]);
    const b = w.add("b", ["-w", "one", "-t", "build"]);
    const c = w.add("c", ["-w", "two", "--tag", "red"]);
    const d = w.add("d", ["-w", "two"]);
    const e = w.add("e", ["-w", "two"]);
    w.ok(["complete", a, "-e", "ok"]);
    w.ok(["fail", d, "broken", "--no-retry"]);

    const all = w.ok(["list"]);
    expect(all.total).toBe(5);
    // Newest first.
    expect(all.jobs.map((j: { id: string }) => j.id)).toEqual([e, d, c, b, a]);
    expect(all.nextCursor).toBeUndefined();
    const ids = (args: string[]) => w.ok(["list", ...args]).jobs.map((j: { id: string }) => j.id);
    expect(ids(["-s", "queued"])).toEqual([e, c, b]);
    expect(ids(["-s", "succeeded"])).toEqual([a]);
    expect(ids(["-s", "succeeded", "-s", "failed"])).toEqual([d, a]);
    expect(ids(["-s", "live"])).toEqual([e, c, b]);
    expect(ids(["-s", "finished"])).toEqual([d, a]);
    expect(ids(["-t", "build"])).toEqual([b]);
    expect(ids(["-w", "two"])).toEqual([e, d, c]);
    expect(ids(["--tag", "red"])).toEqual([c, a]);
    expect(ids(["-q", "broken"])).toEqual([d]);
    expect(ids(["-w", "two", "-s", "queued"])).toEqual([e, c]);
    expect(w.ok(["ls", "-w", "one"]).total).toBe(2);

    // Pagination: pages of 2 cover everything once, in order.
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = w.ok(["list", "--limit", "2", ...(cursor === undefined ? [] : ["--cursor", cursor])]);
      expect(page.total).toBe(5);
      expect(page.jobs.length).toBeLessThanOrEqual(2);
      seen.push(...page.jobs.map((j: { id: string }) => j.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== undefined && pages < 10);
    expect(pages).toBe(3);
    expect(seen).toEqual([e, d, c, b, a]);

    // Human: a header row, one row per job, columns aligned, the next-page hint; no colour codes.
    const human = w.run(["list", "--limit", "2"]);
    expect(human.code).toBe(0);
    const lines = human.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^ID\s+STATE\s+TYPE\s+NAME\s+WORKFLOW\s+TRIES\s+CREATED$/);
    expect(lines[1]).toMatch(
      new RegExp(`^${e.slice(-6)}\\s+queued\\s+task\\s+e\\s+two\\s+0\\s+\\d{4}-\\d\\d-\\d\\dT`),
    );
    expect(lines[2]).toMatch(new RegExp(`^${d.slice(-6)}\\s+failed\\s+task\\s+d\\s+two\\s+0\\s+`));
    expect(lines[1]!.indexOf("queued")).toBe(lines[0]!.indexOf("STATE"));
    expect(lines[2]!.indexOf("two")).toBe(lines[0]!.indexOf("WORKFLOW"));
    expect(lines[3]).toBe(`5 in all; next page: --cursor ${d}`);
    expect(w.run(["list", "-w", "none"]).stdout).toBe("no jobs\n");
  });

  it("scopes lists to the git project of the working directory unless --all", () => {
    const w = world();
    const sub = join(w.projA, "src", "deep");
    mkdirSync(sub, { recursive: true });
    const inA = w.add("in-a", [], sub);
    expect(w.ok(["show", inA]).job.project).toBe(w.projA);
    const inB = w.add("in-b", [], w.projB);

    expect(w.ok(["list"]).jobs.map((j: { id: string }) => j.id)).toEqual([inA]);
    expect(w.ok(["list"], { cwd: sub }).jobs.map((j: { id: string }) => j.id)).toEqual([inA]);
    expect(w.ok(["list"], { cwd: w.projB }).jobs.map((j: { id: string }) => j.id)).toEqual([inB]);
    expect(w.ok(["list", "--all"], { cwd: w.projB }).jobs.map((j: { id: string }) => j.id)).toEqual([
      inB,
      inA,
    ]);
    expect(
      w.ok(["list", "--project", w.projA], { cwd: w.projB }).jobs.map((j: { id: string }) => j.id),
    ).toEqual([inA]);
    // A directory outside any git repository is its own project.
    const loose = tempDir("baton-cli-loose-");
    expect(w.run(["list"], { cwd: loose }).stdout).toBe("no jobs\n");
    expect(w.ok(["list", "-a"], { cwd: loose }).total).toBe(2);
    expect(w.ok(["resume"], { cwd: w.projB }).remaining).toBe(1);
    expect(w.ok(["audit", "--summary"], { cwd: w.projB }).summary.jobs).toBe(1);
    expect(w.ok(["audit", "--summary", "--all"], { cwd: w.projB }).summary.jobs).toBe(2);
  });

  it("complete or fail of a task still waiting on its dependencies exits 4 naming them; --force does it", () => {
    const w = world();
    const a = w.add("a");
    const b = w.add("b", ["--depends-on", a]);
    const refused = w.err(["complete", b, "-e", "done?"], 4, "DEPENDENCIES_UNFINISHED");
    expect(refused.message).toContain(`${a} (queued)`);
    // Said once, in the command line's words, alone and inside a batch (issue 17 #4).
    expect(refused.message).toMatch(/or pass --force to complete it anyway$/);
    expect(refused.message).not.toContain("on the command line");
    const d = w.add("d");
    const batch = w.run(["complete", d, b, "-e", "both?", "--json"]);
    expect(batch.code).toBe(1);
    const errors = (JSON.parse(batch.stdout) as { data: { errors: { code: string; message: string }[] } })
      .data.errors;
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toMatch(/or pass --force to complete it anyway$/);
    expect(errors[0]!.message).not.toContain("on the command line");
    expect(w.run(["complete", d, b, "-e", "both?"]).stdout).toContain(
      "or pass --force to complete it anyway",
    );
    w.err(["fail", b, "cannot"], 4, "DEPENDENCIES_UNFINISHED");
    const human = w.run(["complete", b]);
    expect(human.code).toBe(4);
    expect(human.stderr).toContain(`waiting on 1 unfinished dependency: ${a} (queued)`);
    expect(w.ok(["show", b]).job.state).toBe("waiting");
    expect(w.ok(["complete", b, "-e", "by hand", "--force"]).completed).toEqual([
      { id: b, state: "succeeded" },
    ]);
    const c = w.add("c", ["--depends-on", a]);
    expect(w.ok(["fail", c, "not possible", "--force"])).toMatchObject({ id: c, state: "failed" });
  });

  it("explain, audit (--summary, --since 1h) and receipt", () => {
    const w = world();
    const a = w.add("a", ["-w", "ship"]);
    const b = w.add("b", ["-w", "ship"]);
    const c = w.add("c", ["-w", "ship", "--depends-on", b]);
    w.ok(["complete", a, "-e", "shipped a"]);
    w.ok(["fail", b, "no network", "--no-retry"]);

    const ex = w.ok(["explain", c]);
    expect(ex).toMatchObject({ id: c, state: "waiting" });
    expect(ex.reasons.join(" ")).toContain(b);
    const human = w.run(["explain", "c"]);
    expect(human.code).toBe(0);
    expect(human.stdout.split("\n")[0]).toBe(`${c} is waiting:`);
    expect(human.stdout).toMatch(/^ {2}- /m);
    expect(w.ok(["explain", b]).reasons.join(" ")).toContain("redrive");

    const audit = w.ok(["audit"]);
    const kinds = audit.events.map((x: { kind: string; jobId: string }) => `${x.kind}:${x.jobId}`);
    expect(kinds).toEqual([
      `enqueued:${a}`,
      `enqueued:${b}`,
      `enqueued:${c}`,
      `completed:${a}`,
      `failed:${b}`,
    ]);
    expect(audit.events[3].details.evidence).toBe("shipped a");
    expect(audit.events[3].actor).toBe("cli");
    const summary = w.ok(["audit", "--summary"]).summary;
    expect(summary).toEqual({ total: 5, jobs: 3, byKind: { enqueued: 3, completed: 1, failed: 1 } });
    expect(w.ok(["audit", "--since", "1h"]).events).toHaveLength(5);
    expect(w.ok(["audit", "--since", "1h", "--summary"]).summary.total).toBe(5);
    expect(w.ok(["audit", "--until", "1h"]).events).toHaveLength(0);
    expect(w.ok(["audit", "--limit", "2"]).events.map((x: { kind: string }) => x.kind)).toEqual([
      "completed",
      "failed",
    ]);
    const auditHuman = w.run(["audit", "--since", "1h"]);
    expect(auditHuman.stdout.split("\n")[0]).toMatch(/^TIME\s+EVENT\s+JOB\s+ACTOR\s+DETAILS$/);
    expect(auditHuman.stdout).toContain("shipped a");
    const summaryHuman = w.run(["audit", "--summary"]);
    expect(summaryHuman.stdout.split("\n")[0]).toBe("5 events on 3 job(s)");
    expect(summaryHuman.stdout).toMatch(/^ {2}enqueued\s+3$/m);

    const receipt = w.ok(["receipt", "ship"]);
    expect(receipt).toMatchObject({
      workflow: "ship",
      total: 3,
      done: 1,
      remaining: 1,
      failed: 1,
      remainingIds: [c],
    });
    expect(receipt.failures).toEqual([{ id: b, error: "no network" }]);
    expect(w.run(["receipt", "ship"]).stdout).toContain("remaining: 1");
    w.err(["receipt", "ship"], 3, "NOT_FOUND", { cwd: w.projB });
    expectOneLineError(w.run(["receipt", "nope"]), 3, "NOT_FOUND");
  });

  it("rerun: a new task like the original, with its payload or an edited one; commands are not enqueued", () => {
    const w = world();
    const original = w.ok(["enqueue", "--type", "lint", "-w", "again", "--tag", "x", '{"file":"a.ts"}'])
      .jobs[0].id as string;
    const same = w.ok(["rerun", original]);
    expect(same).toMatchObject({ from: original, state: "queued" });
    expect(w.ok(["show", same.id]).job).toMatchObject({
      type: "lint",
      workflow: "again",
      tags: ["x"],
      payload: { file: "a.ts" },
    });
    const edited = w.run(["rerun", original, '{"file":"b.ts"}']);
    expect(edited.stdout).toMatch(/^[0-9A-HJKMNP-TV-Z]{26} {2}queued\n$/);
    expect(w.ok(["show", edited.stdout.slice(0, 26)]).job.payload).toEqual({ file: "b.ts" });
    expect(w.ok(["show", original]).job.payload).toEqual({ file: "a.ts" });
    // Executor-run types are not the checkpoint operations' to create (R-37); rerun of one is
    // covered in security.executor-types.test.ts.
    w.err(["enqueue", "--type", "command", "{}"], 2, "RESERVED_TYPE");
  });

  it("skip, accept-before, archive (ids and --workflow), delete and redrive", () => {
    const w = world();
    const x = w.add("x");
    expect(w.run(["skip", "x", "--reason", "already done upstream"]).stdout).toBe(`${x}  skipped\n`);
    expect(w.ok(["show", x]).job).toMatchObject({
      state: "skipped",
      result: { reason: "already done upstream" },
    });

    const steps = ["s1", "s2", "s3", "s4"].map((n) => w.add(n, ["-w", "steps"]));
    const accepted = w.ok(["accept-before", "s3"]);
    expect(accepted.accepted).toEqual(steps.slice(0, 2));
    expect(w.run(["accept-before", "s1"]).stdout).toBe("nothing earlier to accept\n");
    expect(w.ok(["list", "-w", "steps", "-s", "succeeded"]).total).toBe(2);
    expect(w.ok(["show", "s3"]).job.state).toBe("queued");

    // Archive by id hides from lists; --archived shows it again.
    expect(w.ok(["archive", steps[0]!])).toEqual({ archived: 1 });
    expect(w.ok(["list", "-w", "steps"]).total).toBe(3);
    expect(w.ok(["list", "-w", "steps", "--archived"]).total).toBe(4);
    expect(w.ok(["show", steps[0]!]).job.archived).toBe(true);
    // Archive a whole workflow: its unfinished tasks are cancelled first.
    expect(w.ok(["archive", "--workflow", "steps"]).archived).toBe(3);
    expect(w.ok(["list", "-w", "steps"]).total).toBe(0);
    expect(w.ok(["show", "s4"]).job).toMatchObject({ state: "cancelled", archived: true });
    w.err(["archive"], 2, "INVALID_INPUT");
    // Unarchive brings jobs back as they were; one not archived is left alone.
    expect(w.ok(["unarchive", steps[0]!, "s4"])).toEqual({ unarchived: 2 });
    expect(w.ok(["unarchive", "s4"])).toEqual({ unarchived: 0 });
    expect(w.ok(["list", "-w", "steps"]).total).toBe(2);
    expect(w.ok(["show", "s4"]).job).toMatchObject({ state: "cancelled" });
    expect(w.ok(["show", "s4"]).job.archived).toBeUndefined();
    w.err(["unarchive", "NOSUCHJOB"], 3, "JOB_NOT_FOUND");

    // Delete: gone for good, but the audit trail remembers.
    const y = w.add("y");
    expect(w.ok(["delete", y])).toEqual({ deleted: 1 });
    w.err(["show", y], 3, "JOB_NOT_FOUND");
    expect(w.ok(["audit", "--summary"]).summary.byKind.deleted).toBe(1);

    // Redrive a dead task; redriving a live one is a conflict.
    const z = w.add("z");
    w.ok(["fail", z, "flaky", "--no-retry"]);
    expect(w.run(["redrive", "z"]).stdout).toBe(`${z}  queued\n`);
    expect(w.ok(["show", z]).job).toMatchObject({ state: "queued", attempts: 0 });
    w.err(["redrive", z], 4, "INVALID_TRANSITION");
    // A batch reports per-item errors and exits 1.
    const batch = w.run(["redrive", z, "NOSUCHJOB", "--json"]);
    expect(batch.code).toBe(1);
    expect(envelope(batch).data.errors.map((x: { code: string }) => x.code)).toEqual([
      "INVALID_TRANSITION",
      "JOB_NOT_FOUND",
    ]);
  });

  it("pause/unpause, claim/heartbeat/release with tokens, LEASE_LOST on a stale token", async () => {
    const w = world();
    const spec = {
      type: "work",
      name: "w1",
      payload: { n: 1 },
      backoff: { baseMs: 0, factor: 1, maxMs: 0, jitter: 0 },
    };
    const [{ id }] = w.ok(["enqueue", "--file", "-"], { input: JSON.stringify(spec) }).jobs;

    expect(w.ok(["pause", "work", "--scope", "type"])).toEqual({ paused: "type:work", changed: true });
    expect(w.ok(["health"]).paused).toEqual(["type:work"]);
    expect(w.ok(["claim", "-t", "work"]).claimed).toEqual([]);
    expect(w.run(["explain", id]).stdout).toMatch(/paused/);
    expect(w.ok(["unpause", "work", "--scope", "type"])).toEqual({ unpaused: "type:work", changed: true });
    expect(w.ok(["pause"])).toEqual({ paused: "all", changed: true });
    expect(w.run(["pause"]).stdout).toBe("paused: all\nchanged: false\n");
    expect(w.ok(["claim", "-t", "work"]).claimed).toEqual([]);
    expect(w.ok(["unpause"])).toEqual({ unpaused: "all", changed: true });

    // Claim with a short lease; heartbeat with the token extends it; a wrong token is LEASE_LOST.
    const [first] = w.ok(["claim", "-t", "work", "--lease", "1s", "--owner", "agent-1"]).claimed;
    expect(first).toMatchObject({ attempt: 1, job: { id, state: "running", leaseOwner: "agent-1" } });
    const t1 = first.token as string;
    expect(t1.length).toBeGreaterThan(8);
    const beat = w.ok(["heartbeat", id, t1, "--lease", "1s"]);
    expect(beat.id).toBe(id);
    expect(Date.parse(beat.leaseExpiresAt)).toBeGreaterThanOrEqual(Date.parse(first.leaseExpiresAt));
    w.err(["heartbeat", id, "not-the-token"], 4, "LEASE_LOST");
    expectOneLineError(w.run(["heartbeat", id, "not-the-token"]), 4, "LEASE_LOST");
    // Completing a running job without its token is refused too.
    w.err(["complete", id, "-e", "sneaky"], 4, "LEASE_LOST");

    // The lease runs out; the next claim recovers the job and takes it under a new token.
    await sleep(1500);
    const [second] = w.ok(["claim", "-t", "work", "--owner", "agent-2", "--lease", "5m"]).claimed;
    expect(second).toMatchObject({ attempt: 2, job: { id, leaseOwner: "agent-2" } });
    const t2 = second.token as string;
    expect(t2).not.toBe(t1);
    // The first worker wakes up: its stale token gets LEASE_LOST (exit 4) and changes nothing.
    w.err(["complete", id, "--token", t1, "-e", "stale"], 4, "LEASE_LOST");
    w.err(["heartbeat", id, t1], 4, "LEASE_LOST");
    w.err(["release", id, t1], 4, "LEASE_LOST");
    expect(w.ok(["show", id]).job).toMatchObject({ state: "running", leaseOwner: "agent-2" });

    // The owner releases it: back to the queue; its old token is now stale too.
    expect(w.ok(["release", id, t2])).toEqual({ id, state: "queued" });
    w.err(["complete", id, "--token", t2], 4, "LEASE_LOST");
    w.err(["release", "NOSUCHJOB", t2], 3, "JOB_NOT_FOUND");
    expect(w.ok(["show", id]).job.state).toBe("queued");

    // A released job can be claimed again and completed with the new token.
    const [third] = w.ok(["claim", "-t", "work", "--owner", "agent-3"]).claimed;
    expect(third.job.id).toBe(id);
    const t3 = third.token as string;
    expect([t1, t2]).not.toContain(t3);
    w.err(["complete", id, "--token", t2, "-e", "stale"], 4, "LEASE_LOST");
    expect(w.run(["complete", id, "--token", t3, "-e", "done by agent-3"]).stdout).toBe(`${id}  succeeded\n`);
    const shown = w.ok(["show", id]);
    expect(shown.job).toMatchObject({ state: "succeeded", evidence: "done by agent-3" });
    expect(
      shown.attempts.map((a: { n: number; owner: string; outcome: string }) => [a.n, a.owner, a.outcome]),
    ).toEqual([
      [1, "agent-1", "crashed"],
      [2, "agent-2", "released"],
      [3, "agent-3", "succeeded"],
    ]);
    expect(shown.events.filter((e: { kind: string }) => e.kind === "completed")).toHaveLength(1);
    expect(w.ok(["recover"])).toEqual({ recovered: [] });
  });

  it("health, doctor and clean", () => {
    const w = world();
    // An empty ledger: an empty section reads "(none)", never a key followed by a blank line.
    const empty = w.run(["health"]).stdout;
    expect(empty).toMatch(/^counts: \(none\)$/m);
    expect(empty.trimEnd()).not.toMatch(/\n\s*\n/);
    const a = w.add("a");
    w.add("b");
    w.ok(["complete", a, "-e", "ok"]);

    const health = w.ok(["health"]);
    expect(health).toMatchObject({
      ok: true,
      store: { kind: "sqlite" },
      counts: { queued: 1, succeeded: 1 },
      paused: [],
    });
    expect(health.store.location.startsWith(w.home)).toBe(true);
    expect(health.store.schemaVersion).toBeGreaterThanOrEqual(1);
    expect(w.run(["health"]).stdout).toContain("ok: true");

    const doctor = w.ok(["doctor"]);
    expect(doctor.ok).toBe(true);
    expect(doctor.checks.map((c: { name: string }) => c.name)).toContain("integrity");
    const doctorHuman = w.run(["doctor"]);
    expect(doctorHuman.code).toBe(0);
    for (const line of doctorHuman.stdout.trimEnd().split("\n")) expect(line).toMatch(/^(ok {3}|FAIL )\w+: /);

    // Nothing is a week old; `--older-than 0s` removes every finished job but not live ones.
    expect(w.ok(["clean"])).toEqual({ deleted: 0, olderThan: "7d" });
    expect(w.ok(["clean", "--older-than", "0s", "-s", "failed"]).deleted).toBe(0);
    expect(w.ok(["clean", "--older-than", "0s"])).toEqual({ deleted: 1, olderThan: "0s" });
    expect(w.ok(["list", "--all"]).jobs.map((j: { name: string }) => j.name)).toEqual(["b"]);
    w.err(["show", a], 3, "JOB_NOT_FOUND");
  });

  it("human output is plain text without ANSI codes when NO_COLOR is set or stdout is not a TTY", () => {
    const w = world();
    w.add("a", ["-w", "wf"]);
    // The helper sets NO_COLOR=1; here stdout and stderr are pipes (not a TTY) and NO_COLOR is unset.
    const { NO_COLOR: _n, FORCE_COLOR: _f, ...env } = process.env;
    for (const args of [
      ["list"],
      ["resume"],
      ["doctor"],
      ["audit"],
      ["show", "a"],
      ["show", "NOSUCHJOB"],
      ["bogus"],
    ]) {
      const withNoColor = w.run(args);
      expect(withNoColor.stdout.length + withNoColor.stderr.length).toBeGreaterThan(0);
      const piped = spawnSync(process.execPath, [BIN, ...args], {
        cwd: w.projA,
        env: { ...env, BATON_HOME: w.home },
        encoding: "utf8",
      });
      expect(piped.stdout + piped.stderr).not.toMatch(ANSI);
      expect(piped.stdout).toBe(withNoColor.stdout);
      expect(piped.stderr).toBe(withNoColor.stderr);
    }
  });
});
