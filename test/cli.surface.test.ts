/**
 * What the CLI prints, read as a person reads it (issue 19): `list` says what a command is and
 * how it ended, tables line up with CJK and emoji, `resume` says what its budget left out and lists
 * failed tasks, `status` groups waiting jobs by what they wait for and marks a dead daemon's host
 * row, `--since` takes today / yesterday, and short ids are printed where ids are. Real binary,
 * real daemon, real SQLite files.
 */
import { mkdirSync } from "node:fs";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { baton, envelope } from "./helpers/cli.js";
import { tempDir } from "./helpers/tmp.js";

function world(env: NodeJS.ProcessEnv = {}) {
  const home = tempDir("baton-surface-home-");
  const project = join(tempDir("baton-surface-proj-"), "p");
  mkdirSync(join(project, ".git"), { recursive: true });
  const run = (args: string[], extra: NodeJS.ProcessEnv = {}) =>
    baton(args, { home, cwd: project, env: { ...env, ...extra } });
  const json = (args: string[]) => {
    const r = run([...args, "--json"]);
    return { code: r.code, env: envelope(r), stderr: r.stderr };
  };
  return { home, project, run, json };
}

const homes: string[] = [];
afterEach(() => {
  for (const home of homes.splice(0)) baton(["daemon", "stop"], { home });
});

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * Terminal columns of a string, counted here without baton's code: per grapheme, a combining mark
 * alone 0, CJK, full-width and emoji (a ZWJ sequence is one) 2, anything else 1.
 */
function columns(text: string): number {
  let n = 0;
  for (const { segment } of new Intl.Segmenter("en", { granularity: "grapheme" }).segment(text)) {
    const cp = segment.codePointAt(0)!;
    if (cp >= 0x300 && cp <= 0x36f) continue;
    n += (cp >= 0x3000 && cp <= 0x9fff) || (cp >= 0xff00 && cp <= 0xff60) || cp >= 0x1f300 ? 2 : 1;
  }
  return n;
}

function settle(w: ReturnType<typeof world>, ref: string): Record<string, any> {
  for (let i = 0; i < 200; i++) {
    const job = w.json(["show", ref]).env.data.job;
    if (!["queued", "running", "waiting", "retrying"].includes(job.state)) return job;
    sleep(100);
  }
  throw new Error(`${ref} did not finish`);
}

describe("list shows what a command is and how it ended", () => {
  it("an unnamed command's row has its command line and exit code; --json carries both", () => {
    const w = world();
    homes.push(w.home);
    expect(w.run(["run", "--", "sh", "-c", "echo hi; exit 3"]).code).toBe(0);
    expect(w.run(["run", "-n", "ok", "--", "true"]).code).toBe(0);
    settle(w, "ok");
    const listed = w.json(["list"]).env.data.jobs as { command?: string; exitCode?: number; name?: string }[];
    const failed = listed.find((j) => j.name === undefined)!;
    for (let i = 0; i < 100 && w.json(["list"]).env.data.jobs.some((j: any) => j.state === "running"); i++)
      sleep(100);
    const jobs = w.json(["list"]).env.data.jobs as { command?: string; exitCode?: number; name?: string }[];
    // A `sh -c` script shows as its script (docs/cli.md).
    expect(failed.command).toBe("echo hi; exit 3");
    expect(jobs.find((j) => j.name === undefined)!.exitCode).toBe(3);
    expect(jobs.find((j) => j.name === "ok")).toMatchObject({ command: "true", exitCode: 0 });

    const text = w.run(["list"]).stdout.split("\n");
    expect(text[0]).toMatch(/^ID\s+STATE\s+EXIT\s+TYPE\s+NAME\s+WORKFLOW\s+TRIES\s+CREATED\s+COMMAND$/);
    const row = text.find((l) => l.includes("exit 3"))!;
    expect(row).toMatch(/\bfailed\s+3\s+command\b/);
    expect(row.endsWith(" echo hi; exit 3")).toBe(true);

    // On a narrow terminal (COLUMNS), the command line is cut to fit, with an ellipsis.
    const long = "x".repeat(300);
    expect(w.run(["run", "--", "echo", long]).code).toBe(0);
    const narrow = w.run(["list"], { COLUMNS: "100" }).stdout.split("\n");
    expect(narrow.every((l) => columns(l) <= 100)).toBe(true);
    expect(narrow.find((l) => l.includes("echo xxx"))).toMatch(/…$/);
  });

  it("a list of checkpoints alone has no EXIT or COMMAND column", () => {
    const w = world();
    w.run(["enqueue", "{}", "-n", "a"]);
    expect(w.run(["list"]).stdout.split("\n")[0]).toMatch(
      /^ID\s+STATE\s+TYPE\s+NAME\s+WORKFLOW\s+TRIES\s+CREATED$/,
    );
  });
});

describe("tables line up with CJK and emoji", () => {
  it("every row's columns start at the same terminal column in list, status and audit", () => {
    const w = world();
    for (const [name, workflow] of [
      ["ビルド", "文書"],
      ["🚀 rocket", "w"],
      ["plain", "ｗｉｄｅ"],
      ["👩‍💻 dev", "e\u0301"],
    ] as const)
      expect(w.run(["enqueue", "{}", "-n", name, "-w", workflow]).code).toBe(0);
    const check = (text: string, marker: RegExp) => {
      const rows = text.split("\n").filter((l) => marker.test(l));
      expect(rows.length).toBeGreaterThanOrEqual(4);
      // The column after NAME and WORKFLOW (TRIES, "0") starts at one terminal column on every row.
      const starts = rows.map((l) => columns(l.slice(0, l.search(/ 0 {2,}\d{4}-/) + 1)));
      expect(new Set(starts).size, text).toBe(1);
    };
    check(w.run(["list"]).stdout, / 0 {2,}\d{4}-/);
    const status = w.run(["status"]).stdout;
    const rows = status.split("\n").filter((l) => / task {2}queued$/.test(l));
    expect(rows).toHaveLength(4);
    expect(new Set(rows.map((l) => columns(l.slice(0, l.indexOf(" task  queued"))))).size, status).toBe(1);
  });
});

describe("resume says what its budget left out", () => {
  it("names the tasks and workflows left out with the command that shows them, lists failed tasks, ends with the complete hint", () => {
    const w = world();
    for (let i = 0; i < 14; i++)
      w.run(["enqueue", JSON.stringify({ path: `src/file-${i}.ts` }), "-w", "docs", "-n", `d${i}`]);
    for (const wf of ["lint", "tests", "types"]) w.run(["enqueue", "{}", "-w", wf, "-n", `${wf}-1`]);
    w.run(["enqueue", "{}", "-w", "docs", "-n", "broken"]);
    expect(w.run(["fail", "broken", "disk on fire", "--no-retry"]).code).toBe(0);
    // docs is the most recently active workflow: it comes first.
    w.run(["enqueue", "{}", "-w", "docs", "-n", "last"]);

    const json = w.json(["resume", "--budget", "200"]).env.data;
    expect(json.workflows).toHaveLength(1);
    expect(json.workflows[0].failedTasks).toHaveLength(1);
    expect(json.workflows[0].failedTasks[0]).toContain("disk on fire");
    expect(json.notShown).toEqual({
      workflows: 3,
      first: expect.arrayContaining([{ workflow: "lint", remaining: 1 }]),
    });

    const text = w.run(["resume", "--budget", "200"]).stdout;
    const more = json.workflows[0].more as number;
    expect(more).toBeGreaterThan(0);
    expect(text).toContain(`… ${more} more left, not shown — baton list -w docs -s live`);
    expect(text).toMatch(/^ {2}✗ [0-9A-Z]{6} failed "broken" .*disk on fire/m);
    expect(text).toMatch(
      /^3 more workflow\(s\) not shown: .*lint \(1 left\).* — baton resume -w <workflow>, or a larger --budget$/m,
    );
    expect(text.trimEnd().split("\n").at(-1)).toBe(
      'Next: do the first task above, then baton complete <id> --evidence "what you did"',
    );
    // Task lines start with the short id, which the CLI takes back.
    const first = /^ {2}([0-9A-Z]{6}) "d0"/m.exec(text)![1]!;
    expect(w.json(["show", first]).env.data.job.name).toBe("d0");
  });

  it("the tasks in no workflow: the hint names -w '', which (and -w '(none)') lists them; an unknown workflow is said so, not 'nothing left'", () => {
    const w = world();
    for (let i = 0; i < 3; i++) w.run(["enqueue", JSON.stringify({ i }), "-n", `loose${i}`]);
    for (let i = 0; i < 5; i++)
      w.run(["enqueue", JSON.stringify({ path: `src/file-${i}.ts` }), "-w", "docs"]);
    for (const wf of ["lint", "tests", "types"]) w.run(["enqueue", "{}", "-w", wf]);
    const text = w.run(["resume", "--budget", "160"]).stdout;
    expect(text).toMatch(
      /not shown: .*\(none\) \(3 left\).* — baton resume -w <workflow> \(-w '' for the tasks in no workflow\), or a larger --budget$/m,
    );
    // --json names them "(none)", which passed back as workflow lists them too.
    expect(w.json(["resume", "--budget", "160"]).env.data.notShown.first).toContainEqual({
      workflow: "(none)",
      remaining: 3,
    });
    for (const flag of ["", "(none)"]) {
      const r = w.run(["resume", "-w", flag]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^\(none\): 3 left, 0 done$/m);
      expect(r.stdout).toContain('"loose2"');
      expect(r.stdout).not.toContain("Nothing left");
      expect(r.stdout).not.toContain("file-");
    }
    const cursor = w.json(["resume"]).env.data.cursor as string;
    w.run(["enqueue", "{}", "-n", "loose3"]);
    w.run(["enqueue", "{}", "-w", "docs", "-n", "docs-late"]);
    const since = w.json(["resume", "-w", "", "--since", cursor]).env.data;
    expect(since.remaining).toBe(4);
    expect(since.workflows.map((x: { workflow: string }) => x.workflow)).toEqual(["(none)"]);
    expect(since.workflows[0].tasks.join("\n")).toContain('"loose3"');
    const unknown = w.run(["resume", "-w", "nosuch"]);
    expect(unknown.stdout).toContain(`workflow named "nosuch"`);
    expect(unknown.stdout).not.toContain("Nothing left");
    expect(w.json(["resume", "-w", "nosuch"]).env.data.unknownWorkflow).toBe("nosuch");
    // A workflow really named "(none)" is that workflow.
    w.run(["enqueue", "{}", "-w", "(none)", "-n", "named"]);
    const named = w.run(["resume", "-w", "(none)"]).stdout;
    expect(named).toContain('"named"');
    expect(named).not.toContain('"loose0"');
  });

  it("more failed tasks than it lists: says how many and how to list them", () => {
    const w = world();
    for (let i = 0; i < 5; i++) {
      w.run(["enqueue", "{}", "-w", "ops", "-n", `f${i}`]);
      w.run(["fail", `f${i}`, `broke ${i}`, "--no-retry"]);
    }
    w.run(["enqueue", "{}", "-w", "ops", "-n", "left"]);
    const text = w.run(["resume"]).stdout;
    expect(text.match(/^ {2}✗ [0-9A-Z]{6} failed /gm)).toHaveLength(3);
    expect(text).toContain(
      "… 2 more failed, not shown — baton list -w ops -s failed -s timed_out -s cancelled",
    );
  });
});

describe("status groups what waits by what it waits for", () => {
  it("agent tasks wait for an agent, delayed ones for their time, commands for the daemon; a killed daemon's row is marked, then replaced", () => {
    const w = world();
    homes.push(w.home);
    w.run(["enqueue", "{}", "-n", "for-agent"]);
    w.run(["enqueue", "{}", "-n", "later", "--delay", "1h"]);
    expect(w.run(["run", "-n", "cmd", "--", "true"]).code).toBe(0);
    settle(w, "cmd");
    const status = w.json(["status"]).env.data;
    const byName = Object.fromEntries(status.queued.map((j: any) => [j.name, j.waitingFor]));
    expect(byName).toEqual({ "for-agent": "agent", later: "due time" });
    const text = w.run(["status"]).stdout;
    expect(text).toMatch(/waiting for an agent to claim them[^\n]*\nID[^\n]*\n[0-9A-Z]{6}\s+for-agent/);
    expect(text).toMatch(/due later[^\n]*\nID[^\n]*\n[0-9A-Z]{6}\s+later/);
    expect(text).not.toContain("waiting for a slot");

    // kill -9 the daemon: its host row is marked gone, not shown as up.
    const pid = (JSON.parse(readFileSync(join(w.home, "daemon.json"), "utf8")) as { pid: number }).pid;
    process.kill(pid, "SIGKILL");
    for (let i = 0; i < 50; i++) {
      try {
        process.kill(pid, 0);
        sleep(50);
      } catch {
        break;
      }
    }
    const dead = w.json(["status"]).env.data;
    expect(dead.daemon.running).toBe(false);
    expect(dead.hosts).toHaveLength(1);
    expect(dead.hosts[0]).toMatchObject({ pid, gone: true });
    expect(w.run(["status"]).stdout).toMatch(new RegExp(`gone \\(pid ${pid} is not running`));

    // A new daemon replaces the row at once (it used to show the dead pid until the row expired).
    expect(w.run(["daemon", "start"]).code).toBe(0);
    let hosts: { pid: number; gone?: boolean }[] = [];
    for (let i = 0; i < 50; i++) {
      hosts = w.json(["status"]).env.data.hosts;
      if (hosts.length === 1 && hosts[0]!.pid !== pid) break;
      sleep(100);
    }
    expect(hosts).toHaveLength(1);
    expect(hosts[0]!.pid).not.toBe(pid);
    expect(hosts[0]!.gone).toBeUndefined();
  });
});

describe("--since takes today and yesterday", () => {
  it("list, audit and resume read today / yesterday; a wrong word lists what is taken", () => {
    const w = world();
    w.run(["enqueue", "{}", "-n", "a", "-w", "x"]);
    for (const when of ["today", "yesterday", "2h"]) {
      expect(w.json(["list", "--since", when]).env.data.total, when).toBe(1);
      expect(w.json(["audit", "--since", when]).env.data.events.length, when).toBeGreaterThan(0);
    }
    expect(w.json(["list", "--until", "yesterday"]).env.data.total).toBe(0);
    const resumed = w.json(["resume", "--since", "yesterday"]).env.data;
    expect(resumed.workflows[0].tasks[0]).toContain('"a"');
    const bad = w.json(["list", "--since", "tomorrow"]);
    expect(bad.code).toBe(2);
    expect(bad.env.error?.message).toMatch(/today or yesterday/);
  });
});

describe("short ids in run, enqueue and resume output", () => {
  it("enqueue and run print the id with its short form, and the hints use the short form", () => {
    const w = world();
    homes.push(w.home);
    const enq = w.run(["enqueue", "{}", "-n", "a"]).stdout.trim();
    const [, id, short] = /^([0-9A-Z]{26}) \(([0-9A-Z]{6})\) {2}queued$/.exec(enq)!;
    expect(id!.endsWith(short!)).toBe(true);
    const run = w.run(["run", "-n", "r", "--", "true"]).stdout;
    const m = /^([0-9A-Z]{26}) \(([0-9A-Z]{6}), r\) {2}queued\nlogs: baton logs (\2) -f/.exec(run);
    expect(m, run).not.toBeNull();
    const waited = w.run(["run", "--wait", "--", "true"]).stdout.trim();
    expect(waited).toMatch(/^[0-9A-Z]{26} \([0-9A-Z]{6}\) {2}succeeded {2}exit 0$/);
  });
});
