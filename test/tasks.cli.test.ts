/**
 * Configured-task commands end to end through the real binary and a real daemon (temp BATON_HOME):
 * `task new` (both scaffolds validate and run), `schedule install-units` (into --dir or $HOME's
 * default, idempotent), a plugin task from an npm package name, the daemon firing a cron slot, and
 * `events -f` following a run's events as they come.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { project } from "./helpers/tasks.js";
import { cli, cliAsync, cliJson, eventRows, newHome, until } from "./helpers/supervisor.js";
import { tempDir } from "./helpers/tmp.js";

describe("baton task new", () => {
  it("scaffolds a command task into a new or existing baton.yaml; it validates and runs", () => {
    const home = newHome();
    const dir = tempDir("btnew-");
    expect(cliJson(home, ["task", "new", "hello"], { cwd: dir })).toMatchObject({ kind: "command" });
    expect(cliJson(home, ["config", "validate"], { cwd: dir })).toMatchObject({ ok: true, tasks: ["hello"] });
    const done = cliJson(home, ["task", "run", "hello"], { cwd: dir });
    expect(done).toMatchObject({ state: "succeeded", result: { summary: "hello: replace this command" } });
    // A second task goes under the same tasks: key; the first is kept as it was.
    cliJson(home, ["task", "new", "two", "--command", "echo two", "--description", "The second"], {
      cwd: dir,
    });
    expect(cliJson(home, ["task", "list"], { cwd: dir }).tasks.map((t: { name: string }) => t.name)).toEqual([
      "hello",
      "two",
    ]);
    expect(cliJson(home, ["task", "run", "two"], { cwd: dir }).result.summary).toBe("two");
    const again = cli(home, ["task", "new", "two", "--json"], { cwd: dir });
    expect(JSON.parse(again.stdout).error.code).toBe("NAME_TAKEN");
  });

  it("a name taken says which file defines it: baton.yaml and its line, or the plugin module", () => {
    const home = newHome();
    const dir = project("tasks:\n  build:\n    command: [echo, hi]\n");
    const yaml = cli(home, ["task", "new", "build", "--json"], { cwd: dir });
    expect(JSON.parse(yaml.stdout).error).toMatchObject({
      code: "NAME_TAKEN",
      message: "a task 'build' exists already (baton.yaml:2)",
    });
    cliJson(home, ["task", "new", "greet", "--plugin"], { cwd: dir });
    const plugin = cli(home, ["task", "new", "greet", "--plugin"], { cwd: dir });
    expect(plugin.stderr).toContain(
      `a task 'greet' exists already (${join(".baton", "tasks", "greet.mjs")})`,
    );
  });

  it("scaffolds into an empty tasks: {} map and after the last task of a 4-space file", () => {
    const home = newHome();
    const dir = project("tasks: {}\n");
    cliJson(home, ["task", "new", "hello"], { cwd: dir });
    expect(cliJson(home, ["config", "validate"], { cwd: dir }).tasks).toEqual(["hello"]);
    // Four-space indentation and comments are kept; the new task follows the last one.
    const spaced = project("# mine\ntasks:\n    first:\n        command: [echo, one]\n\n# end\n");
    cliJson(home, ["task", "new", "second"], { cwd: spaced });
    expect(cliJson(home, ["config", "validate"], { cwd: spaced }).tasks).toEqual(["first", "second"]);
    const text = readFileSync(join(spaced, "baton.yaml"), "utf8");
    expect(text.startsWith("# mine\ntasks:\n    first:\n        command: [echo, one]\n    second:\n")).toBe(
      true,
    );
    expect(text).toContain("# end");
  });

  it("--plugin --typescript scaffolds a TypeScript plugin task that validates, describes, dry-runs and runs", () => {
    const home = newHome();
    const dir = project("tasks: {}\n");
    const made = cliJson(home, ["task", "new", "greet", "--plugin", "--typescript"], { cwd: dir });
    expect(made.file).toBe(join(dir, ".baton", "tasks", "greet.ts"));
    expect(cliJson(home, ["config", "validate"], { cwd: dir }).tasks).toEqual(["greet"]);
    const described = cliJson(home, ["task", "describe", "greet"], { cwd: dir });
    expect(described).toMatchObject({ kind: "plugin", dryRun: "function" });
    expect(described.inputs.properties.who).toMatchObject({ type: "string" });
    const dry = cli(home, ["task", "run", "greet", "--dry-run"], { cwd: dir });
    expect(dry.code, dry.stdout + dry.stderr).toBe(2);
    expect(dry.stdout).toContain("would greet world");
    const done = cliJson(home, ["task", "run", "greet", "--input", "who=ann"], { cwd: dir });
    expect(done).toMatchObject({ state: "succeeded", result: { summary: "hello ann" } });
  });
});

describe("plugin tasks from npm packages", () => {
  it("plugin: <package name> loads an .mjs module from the project's node_modules", () => {
    const home = newHome();
    const dir = project("tasks:\n  pkg:\n    plugin: baton-task-sample\n    with: { greeting: hi }\n");
    const pkg = join(dir, "node_modules", "baton-task-sample");
    mkdirSync(pkg, { recursive: true });
    writeFileSync(
      join(pkg, "package.json"),
      JSON.stringify({ name: "baton-task-sample", version: "1.0.0", type: "module", exports: "./task.mjs" }),
    );
    writeFileSync(
      join(pkg, "task.mjs"),
      [
        "export default {",
        "  description: 'A task from a package',",
        "  network: true,",
        "  async run({ with: settings, inputs }) {",
        "    return { summary: `${settings.greeting} ${inputs.who ?? 'nobody'}` };",
        "  },",
        "};",
      ].join("\n"),
    );
    expect(cliJson(home, ["task", "describe", "pkg"], { cwd: dir })).toMatchObject({
      kind: "plugin",
      description: "A task from a package",
      network: true,
    });
    const done = cliJson(home, ["task", "run", "pkg", "--input", "who=bo"], { cwd: dir });
    expect(done).toMatchObject({ state: "succeeded", result: { summary: "hi bo" } });
  });
});

describe("baton schedule install-units", () => {
  it("writes systemd units into --dir (or $HOME's default) and rewrites them identically", () => {
    const home = newHome();
    const dir = project(
      "tasks:\n  nightly:\n    command: [echo, night]\n    schedule: '0 2 * * *'\n  plain:\n    command: [echo]\n",
    );
    const units = join(tempDir("btunits-"), "units");
    const first = cliJson(home, ["schedule", "install-units", "--format", "systemd", "--dir", units], {
      cwd: dir,
    });
    expect(first.written).toBe(true);
    const names = readdirSync(units).sort();
    expect(names).toHaveLength(2);
    expect(names.some((n) => n.endsWith(".service")) && names.some((n) => n.endsWith(".timer"))).toBe(true);
    const texts = names.map((n) => readFileSync(join(units, n), "utf8"));
    expect(texts.join("\n")).toContain("nightly");
    expect(texts.join("\n")).toContain("OnCalendar=");
    const second = cliJson(home, ["schedule", "install-units", "--format", "systemd", "--dir", units], {
      cwd: dir,
    });
    expect(second.files).toEqual(first.files);
    expect(readdirSync(units).sort()).toEqual(names);
    expect(names.map((n) => readFileSync(join(units, n), "utf8"))).toEqual(texts);

    // launchd plists; the default folder comes from $HOME.
    const fakeHome = tempDir("bthome-");
    const plists = cliJson(home, ["schedule", "install-units", "--format", "launchd"], {
      cwd: dir,
      env: { HOME: fakeHome },
    });
    expect(plists.dir).toBe(join(fakeHome, "Library", "LaunchAgents"));
    expect(readdirSync(plists.dir).every((n: string) => n.endsWith(".plist"))).toBe(true);
    // --dry-run writes nothing.
    const nowhere = join(tempDir("btdry-"), "x");
    const dry = cliJson(home, ["schedule", "install-units", "--dir", nowhere, "--dry-run"], { cwd: dir });
    expect(dry.written).toBe(false);
    expect(existsSync(nowhere)).toBe(false);
  });
});

describe("baton schedule disable|enable", () => {
  it("switches a schedule off and on in the ledger; no schedule is INVALID_INPUT, no task NOT_FOUND", () => {
    const home = newHome();
    const dir = project(
      "tasks:\n  nightly:\n    command: [echo, night]\n    schedule: '0 2 * * *'\n  plain:\n    command: [echo]\n",
    );
    const off = cli(home, ["schedule", "disable", "nightly"], { cwd: dir });
    expect([off.code, off.stdout]).toEqual([0, "schedule of nightly: off\n"]);
    expect(cliJson(home, ["schedule", "disable", "nightly"], { cwd: dir })).toEqual({
      task: "nightly",
      enabled: false,
      changed: false,
    });
    // A later command (a new process) reads the switch from the ledger.
    expect(cliJson(home, ["schedule", "list"], { cwd: dir }).schedules).toMatchObject([
      { task: "nightly", enabled: false },
    ]);
    expect(cli(home, ["schedule", "list"], { cwd: dir }).stdout).toMatch(/nightly .* no +\(switched off\)/);
    for (const [task, exit, code] of [
      ["plain", 2, "INVALID_INPUT"],
      ["nope", 3, "NOT_FOUND"],
    ] as const) {
      const refused = cli(home, ["schedule", "disable", task, "--json"], { cwd: dir });
      expect([refused.code, JSON.parse(refused.stdout).error.code]).toEqual([exit, code]);
    }
    expect(cli(home, ["schedule", "enable", "nightly"], { cwd: dir }).stdout).toBe(
      "schedule of nightly: on\n",
    );
    expect(cliJson(home, ["schedule", "list"], { cwd: dir }).schedules[0].enabled).toBe(true);
    expect(
      eventRows(home)
        .map((e) => e.kind)
        .filter((k) => k.startsWith("schedule_")),
    ).toEqual(["schedule_disabled", "schedule_enabled"]);
  });

  it("the first enable in a project is a change: it answers 'on', changed, and is audited", () => {
    const home = newHome();
    const dir = project("tasks:\n  rep:\n    command: [echo, rep]\n    schedule: '0 3 * * *'\n");
    expect(cliJson(home, ["schedule", "list"], { cwd: dir }).schedules).toMatchObject([{ enabled: false }]);
    expect(cliJson(home, ["schedule", "enable", "rep"], { cwd: dir })).toEqual({
      task: "rep",
      enabled: true,
      changed: true,
    });
    expect(cliJson(home, ["schedule", "list"], { cwd: dir }).schedules).toMatchObject([{ enabled: true }]);
    expect(eventRows(home).map((e) => e.kind)).toContain("schedule_enabled");
    expect(cli(home, ["schedule", "enable", "rep"], { cwd: dir }).stdout).toBe(
      "schedule of rep: on (already)\n",
    );
  });
});

describe("a schedule that never fires", () => {
  it("is a CONFIG_INVALID naming the task and the schedule, at load, in config validate and in schedule enable", () => {
    const home = newHome();
    const dir = project(
      "tasks:\n  ok:\n    command: [echo, ok]\n    schedule: '0 0 29 2 *'\n  feb30:\n    command: [echo, never]\n    schedule: '0 0 30 2 *'\n",
    );
    const expected =
      "baton.yaml:7:5: tasks.feb30.schedule: invalid cron expression '0 0 30 2 *': it never fires: no date has that day in that month (such as 30 February)";
    const validate = cli(home, ["config", "validate"], { cwd: dir });
    expect(validate.code).toBe(2);
    expect(validate.stdout).toContain(expected);
    for (const task of ["feb30", "ok"]) {
      const enable = cli(home, ["schedule", "enable", task, "--json"], { cwd: dir });
      expect(enable.code).toBe(2);
      const error = JSON.parse(enable.stdout).error;
      expect(error.code).toBe("CONFIG_INVALID");
      expect(error.message).toContain(expected);
    }
    // Nothing was registered, so the daemon has no slot to wait for.
    expect(eventRows(home).filter((e) => e.kind.startsWith("schedule_"))).toEqual([]);
  });
});

describe("the daemon fires schedules", () => {
  it("runs a task whose cron slot comes due (a seconds-field cron), once per slot", async () => {
    const home = newHome();
    const dir = project(
      "tasks:\n  tick:\n    command: ['sh', '-c', 'echo \"$BATON_RUN_ID\" >> fired.log']\n    schedule: '*/2 * * * * *'\n",
    );
    // `schedule enable` registers the task's schedule (listing and validating do not, D79, D108); the daemon fires it.
    expect(cliJson(home, ["schedule", "list"], { cwd: dir }).schedules).toMatchObject([{ enabled: false }]);
    expect(cliJson(home, ["schedule", "enable", "tick"], { cwd: dir })).toMatchObject({ enabled: true });
    expect(cli(home, ["daemon", "start"]).code).toBe(0);
    await until(
      "two scheduled runs to finish",
      () => {
        const runs = cliJson(home, ["runs", "tick"], { cwd: dir }).runs as { state: string }[];
        return runs.filter((r) => r.state === "succeeded").length >= 2;
      },
      60_000,
      250,
    );
    cli(home, ["daemon", "stop"]);
    const runs = cliJson(home, ["runs", "tick"], { cwd: dir }).runs as { id: string; type: string }[];
    expect(runs.every((r) => r.type === "task:tick")).toBe(true);
    const fired = readFileSync(join(dir, "fired.log"), "utf8").trim().split("\n");
    // Every line is a distinct run: no slot fired twice.
    expect(new Set(fired).size).toBe(fired.length);
  });
});

describe("baton events -f", () => {
  it("follows a run's events as they are written and ends when the run and its hooks are done", async () => {
    const home = newHome();
    const dir = project(
      [
        "tasks:",
        "  steps:",
        '    command: [\'sh\', \'-c\', \'echo "{\\"step\\":1}"; while [ ! -f go ]; do sleep 0.05; done; echo "{\\"step\\":2}"\']',
        "    output: jsonl",
        // Written after the run has ended: the follower must wait for it too.
        "    on_success: ['sleep 0.5; echo hooked']",
      ].join("\n"),
    );
    const run = cliJson(home, ["task", "run", "steps", "--async"], { cwd: dir });
    const following = cliAsync(home, ["events", run.id, "-f", "--json"], { cwd: dir });
    await until("the first step's event", () => eventRows(home, "output").length >= 1, 30_000);
    writeFileSync(join(dir, "go"), "");
    const followed = await following;
    expect(followed.code, followed.stderr).toBe(0);
    const lines = followed.stdout.trim().split("\n");
    const followedEvents = lines.flatMap((l) => {
      const parsed = JSON.parse(l);
      // One event a line, then the envelope (which names the state, not events).
      return (parsed.ok === undefined ? [parsed] : []) as {
        kind: string;
        details?: { line?: { step?: number } };
      }[];
    });
    const steps = followedEvents.filter((e) => e.kind === "output").map((e) => e.details?.line?.step);
    expect(steps).toEqual([1, 2]);
    // The hook's result came after the state change, and the follower stayed for it.
    const kinds = followedEvents.map((e) => e.kind);
    expect(kinds).toContain("hook");
    expect(kinds[kinds.length - 1]).toBe("settled");
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({
      ok: true,
      data: { finished: true, state: "succeeded" },
    });
  });
});

describe("--project on the commands that work in a project (D144)", () => {
  it("task list, describe, run, runs, config validate, schedule list and capabilities work on the named project from anywhere", () => {
    const home = newHome();
    const a = project("tasks:\n  hello:\n    command: [echo, from-a]\n");
    const b = project(
      "tasks:\n  hello:\n    command: [echo, from-b]\n  nightly:\n    command: [echo, n]\n    schedule: '0 3 * * *'\n",
    );
    const elsewhere = tempDir("btproject-");
    const at = (dir: string, args: string[]) =>
      cliJson(home, [...args, "--project", dir], { cwd: elsewhere });
    const names = (d: { tasks: ({ name: string } | string)[] }) =>
      d.tasks.map((t) => (typeof t === "string" ? t : t.name));

    expect(names(at(a, ["task", "list"]))).toEqual(["hello"]);
    expect(names(at(b, ["task", "list"]))).toEqual(["hello", "nightly"]);
    expect(at(b, ["task", "describe", "hello"]).command).toEqual(["echo", "from-b"]);
    expect(at(a, ["task", "run", "hello"])).toMatchObject({
      state: "succeeded",
      result: { summary: "from-a" },
    });
    expect(at(b, ["task", "run", "hello"])).toMatchObject({
      state: "succeeded",
      result: { summary: "from-b" },
    });
    // Each project's runs of its own `hello`, not the other's.
    expect(at(a, ["runs", "hello"]).runs.map((r: { summary: string }) => r.summary)).toEqual(["from-a"]);
    expect(at(b, ["runs"]).runs.map((r: { summary: string }) => r.summary)).toEqual(["from-b"]);
    expect(at(b, ["config", "validate"])).toMatchObject({ ok: true, tasks: ["hello", "nightly"] });
    expect(at(b, ["schedule", "list"]).schedules.map((s: { task: string }) => s.task)).toEqual(["nightly"]);
    expect(names(at(b, ["capabilities"]))).toEqual(["hello", "nightly"]);
    // Without --project, the cwd (no baton.yaml there) is the project.
    expect(cliJson(home, ["task", "list"], { cwd: elsewhere }).tasks).toEqual([]);
    // A path that is no directory is refused, as for every --project.
    const missing = cli(home, ["task", "list", "--project", join(elsewhere, "nope"), "--json"], {
      cwd: elsewhere,
    });
    expect(missing.code).toBe(2);
    expect(JSON.parse(missing.stdout).error.message).toMatch(/--project '.*nope' does not exist/);
  });
});
