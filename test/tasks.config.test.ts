/**
 * baton.yaml loading and validation: every problem names the file, line, key and what was
 * expected; unknown keys are errors except under a plugin task's `with:`; a broken config runs
 * nothing; `config validate | schema | edit` and `doctor` through the real binary.
 */
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { project } from "./helpers/tasks.js";
import { loadTaskConfig, parseConfig } from "../src/tasks/config.js";
import { cli, cliJson, newHome } from "./helpers/supervisor.js";

function problemsOf(yaml: string) {
  const parsed = parseConfig(yaml, "/p/baton.yaml");
  expect(parsed.ok).toBe(false);
  return parsed.ok ? [] : parsed.problems;
}

describe("R-31 baton.yaml validation", () => {
  it("R-31 an unknown key names file, line, key, a suggestion and the expected keys", () => {
    const [p] = problemsOf("tasks:\n  backup:\n    command: [rclone]\n    timout: 2h\n");
    expect(p).toMatchObject({ file: "/p/baton.yaml", line: 4, key: "tasks.backup.timout" });
    expect(p!.message).toContain("did you mean 'timeout'?");
    expect(p!.message).toContain("expected one of:");
  });

  it("names a list item as 'item N' of the key the user wrote, in the file's words, never zod's", () => {
    const cases: [string, { line: number; key: string; message: string }][] = [
      [
        "tasks: []\n",
        {
          line: 1,
          key: "tasks",
          message: "expected a map of task names to tasks (build: {command: …}), got a list",
        },
      ],
      [
        "tasks:\n  b:\n    command: [echo]\n    args: [x, 1]\n",
        { line: 4, key: "tasks.b.args", message: "item 2: expected a string, got number 1" },
      ],
      [
        "tasks:\n  b:\n    command: [echo]\n    success_exit_codes: [0, 300]\n",
        { line: 4, key: "tasks.b.success_exit_codes", message: "item 2: must be at most 255" },
      ],
      [
        "tasks:\n  b:\n    command: [echo]\n    success_exit_codes: []\n",
        { line: 4, key: "tasks.b.success_exit_codes", message: "must not be an empty list" },
      ],
      [
        "tasks:\n  b:\n    command: [echo]\n    timeout: true\n",
        {
          line: 4,
          key: "tasks.b.timeout",
          message: "expected a duration such as 30s, 10m or 2h, or a number of seconds, got boolean true",
        },
      ],
      [
        "tasks:\n  b:\n    command: [echo]\n    required_env: [A, 'b c']\n",
        { line: 4, key: "tasks.b.required_env", message: "item 2: expected an environment variable name" },
      ],
    ];
    for (const [yaml, expected] of cases) {
      const [p] = problemsOf(yaml);
      expect({ ...p, message: p!.message.slice(0, expected.message.length) }).toMatchObject(expected);
      expect(p!.message).not.toMatch(/record|Too (big|small)|\.\d+:|\[\d+\]/);
    }
  });

  it("a union's problem is said at the key inside the branch the value's shape selects", () => {
    const problems = problemsOf(
      [
        "tasks:",
        "  mytask:",
        "    command: [echo, x, {a: b}]",
        "    on_success: [[sh, 5]]",
        "    inputs:",
        "      Dest: { type: strin }",
      ].join("\n"),
    );
    expect(problems.map((p) => [p.line, p.key, p.message])).toEqual([
      [3, "tasks.mytask.command", "item 3: expected a string, got a map"],
      [4, "tasks.mytask.on_success", "item 1.2: expected a string, got number 5"],
      [
        6,
        "tasks.mytask.inputs.Dest.type",
        'expected "string" | "number" | "integer" | "boolean", got the string "strin"',
      ],
    ]);
    // A value of neither shape still says what the key takes.
    const [p] = problemsOf("tasks:\n  b:\n    command: 5\n");
    expect(p!.message).toBe("expected a shell command string or an argv list of strings, got number 5");
  });

  it("a bad task or agent name does not hide the problems inside its entry", () => {
    const problems = problemsOf(
      [
        "tasks:",
        '  "my task":',
        "    command: 5",
        "    timout: 3",
        "  ok:",
        "    command: [echo]",
        "agents:",
        '  "bad agent":',
        "    command: 7",
      ].join("\n"),
    );
    expect(problems.map((p) => [p.line, p.key, p.message.split(";")[0]])).toEqual([
      [
        2,
        "tasks.my task",
        "invalid name 'my task': expected a task name: letters, digits, _ . - (at most 64)",
      ],
      [
        3,
        "tasks.my task.command",
        "expected a shell command string or an argv list of strings, got number 5",
      ],
      [4, "tasks.my task.timout", "unknown key 'timout'"],
      [
        8,
        "agents.bad agent",
        "invalid name 'bad agent': expected an agent name: letters, digits, _ . - (at most 64)",
      ],
      [9, "agents.bad agent.command", "expected a list, got number 7"],
    ]);
  });

  it("R-31 wrong types, bad durations and a bad cron name the key and what was expected", () => {
    const problems = problemsOf(
      [
        "tasks:",
        "  a:",
        "    command: 42",
        "    timeout: soon",
        '    schedule: "61 * * * *"',
        "    lock: yes please",
      ].join("\n"),
    );
    const byKey = Object.fromEntries(problems.map((p) => [p.key, p]));
    expect(byKey["tasks.a.command"]).toMatchObject({ line: 3 });
    expect(byKey["tasks.a.command"]!.message).toMatch(/expected a shell command string or an argv list/);
    expect(byKey["tasks.a.timeout"]).toMatchObject({ line: 4 });
    expect(byKey["tasks.a.timeout"]!.message).toMatch(/expected a duration/);
    expect(byKey["tasks.a.schedule"]).toMatchObject({ line: 5 });
    expect(byKey["tasks.a.schedule"]!.message).toMatch(/invalid cron expression/);
    expect(byKey["tasks.a.lock"]).toMatchObject({ line: 6 });
    expect(byKey["tasks.a.lock"]!.message).toMatch(/expected true or false/);
  });

  it("R-31 a YAML syntax error is where the parser finds it, with no key guessed", () => {
    // An unclosed flow list on tasks.a.command: the parser finds it at the next key (4:3); that
    // line is named, and not as a problem of task b.
    const [p, more] = problemsOf("tasks:\n  a:\n    command: [echo, hi\n  b:\n    command: echo\n");
    expect(more).toBeUndefined();
    expect(p).toMatchObject({ line: 4, column: 3, key: "" });
    expect(p!.message).toMatch(/^YAML syntax error: Flow sequence .* end with a \]/);
    const [q] = problemsOf('tasks:\n  a:\n    command: "unterminated\n    lock: true\n');
    expect(q).toMatchObject({ line: 5, column: 1, key: "" });
    expect(q!.message).toMatch(/YAML syntax error: Missing closing "quote/);
  });

  it("lists every problem at once: one wrong key does not hide a cross-key check of its task", () => {
    const problems = problemsOf(
      [
        "tasks:",
        "  a:",
        "    command: [echo, '{{nope}}']",
        "    inputs: { n: { type: float }, m: { type: integer, default: x } }",
        "    timeout: soon",
      ].join("\n"),
    );
    expect(problems.map((p) => [p.line, p.key, p.message.split(" (")[0]])).toEqual([
      [3, "tasks.a.command", "item 2: unknown placeholder {{nope}}"],
      [
        4,
        "tasks.a.inputs.n.type",
        'expected "string" | "number" | "integer" | "boolean", got the string "float"',
      ],
      [4, "tasks.a.inputs.m.default", "the default does not match type integer"],
      [
        5,
        "tasks.a.timeout",
        "expected a duration such as 30s, 10m, 2h or 1h30m, or a number of seconds, at most 10 years",
      ],
    ]);
  });

  it("a retry beyond the engine's backoff limits is refused at its key as written, with its line", () => {
    const problems = problemsOf(
      [
        "tasks:",
        "  a:",
        "    command: [echo]",
        "    retry: {attempts: 2, backoff: exponential, base: 1ms, factor: 11}",
        "  b:",
        "    command: [echo]",
        "    retry:",
        "      attempts: 2",
        "      backoff: fixed",
        "      base: 2d",
        "  c:",
        "    command: [echo]",
        "    retry: { attempts: 3, max: 10y }",
        "  d:",
        "    command: [echo]",
        "    retry: { attempts: 3, base: 86401, max: 8d }",
      ].join("\n"),
    );
    expect(problems.map((p) => [p.line, p.key, p.message])).toEqual([
      [4, "tasks.a.retry.factor", "must be at most 10"],
      [10, "tasks.b.retry.base", "must be at most 1d, got 2d"],
      [13, "tasks.c.retry.max", "must be at most 7d, got 10y"],
      [16, "tasks.d.retry.base", "must be at most 1d, got 86401"],
      [16, "tasks.d.retry.max", "must be at most 7d, got 8d"],
    ]);
    const atLimit = parseConfig(
      "tasks:\n  a:\n    command: [echo]\n    retry: { attempts: 2, base: 1d, max: 7d, factor: 10 }\n",
      "f",
    );
    expect(atLimit.ok).toBe(true);
  });

  it("a duration may be a YAML number of seconds, the same as its string form, wherever one is taken", () => {
    const parsed = parseConfig(
      [
        "tasks:",
        "  a:",
        "    command: [echo]",
        "    timeout: 2",
        "    idle_timeout: 1.5",
        "    retry: { attempts: 2, base: 3, max: 60 }",
        "agents:",
        "  x: { preset: claude, timeout: 90 }",
      ].join("\n"),
      "f",
    );
    expect(parsed.ok && parsed.value).toMatchObject({
      tasks: { a: { timeout: "2", idle_timeout: "1.5", retry: { base: "3", max: "60" } } },
      agents: { x: { timeout: "90" } },
    });
    const problems = problemsOf(
      "tasks:\n  a:\n    command: [echo]\n    timeout: 0\n    idle_timeout: 0.0001\n",
    );
    expect(problems.map((p) => [p.line, p.key])).toEqual([
      [4, "tasks.a.timeout"],
      [5, "tasks.a.idle_timeout"],
    ]);
  });

  it("R-31 unknown keys under a plugin task's `with:` are allowed; elsewhere they are errors", () => {
    const ok = parseConfig(
      "tasks:\n  p:\n    plugin: ./p.js\n    with: { anything: 1, nested: { x: 2 } }\n",
      "f",
    );
    expect(ok.ok).toBe(true);
    const [p] = problemsOf(
      "tasks:\n  p:\n    command: x\n    notify: { slack: { webhook_url_env: X, extra: 1 } }\n",
    );
    expect(p!.key).toBe("tasks.p.notify.slack.extra");
    expect(p!.message).toContain("unknown key 'extra'");
  });

  it("R-31 a broken config runs nothing: task run refuses with CONFIG_INVALID naming file:line", () => {
    const home = newHome();
    const dir = project("tasks:\n  make:\n    command: touch made.txt\n    retry: { attempts: zero }\n");
    const r = cli(home, ["task", "run", "make", "--json"], { cwd: dir });
    expect(r.code).toBe(2);
    const error = JSON.parse(r.stdout).error;
    expect(error.code).toBe("CONFIG_INVALID");
    expect(error.message).toMatch(
      /^baton\.yaml:4:\d+: tasks\.make\.retry\.attempts: expected a number, got the string "zero"/,
    );
    expect(existsSync(join(dir, "made.txt"))).toBe(false);
  });

  it("R-31 config validate lists every problem and exits 2; doctor reports the config too", () => {
    const home = newHome();
    const dir = project("tasks:\n  a:\n    comand: x\n  b:\n    command: y\n    output: xml\n");
    const r = cli(home, ["config", "validate"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stdout).toContain(
      "baton.yaml:3:5: tasks.a.comand: unknown key 'comand'; did you mean 'command'?",
    );
    expect(r.stdout).toContain(
      'baton.yaml:6:5: tasks.b.output: expected "text" | "json" | "jsonl" | "auto", got the string "xml"',
    );
    const doctor = cli(home, ["doctor", "--json"], { cwd: dir });
    const checks = JSON.parse(doctor.stdout).data.checks as { name: string; ok: boolean; detail: string }[];
    const config = checks.find((c) => c.name === "config")!;
    expect(config.ok).toBe(false);
    expect(config.detail).toContain("tasks.a.comand");
  });

  it("config validate, schedule enable and doctor refuse a retry the engine would refuse; one at its limits runs", () => {
    const home = newHome();
    const dir = project(
      [
        "tasks:",
        "  a:",
        "    command: [echo, hi]",
        "    schedule: '0 2 * * *'",
        "    retry: {attempts: 2, backoff: exponential, base: 1ms, factor: 11}",
        "  b:",
        "    command: [echo, hi]",
        "    retry: {attempts: 2, backoff: fixed, base: 2d}",
        "  c:",
        "    command: [echo, hi]",
        "    retry: {attempts: 2, max: 10y}",
      ].join("\n"),
    );
    const r = cli(home, ["config", "validate"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stdout.trim().split("\n")).toEqual([
      expect.stringMatching(/^baton\.yaml:5:\d+: tasks\.a\.retry\.factor: must be at most 10$/),
      expect.stringMatching(/^baton\.yaml:8:\d+: tasks\.b\.retry\.base: must be at most 1d, got 2d$/),
      expect.stringMatching(/^baton\.yaml:11:\d+: tasks\.c\.retry\.max: must be at most 7d, got 10y$/),
    ]);
    expect(cli(home, ["schedule", "enable", "a"], { cwd: dir }).code).toBe(2);
    const doctor = cli(home, ["doctor", "--json"], { cwd: dir });
    const checks = JSON.parse(doctor.stdout).data.checks as { name: string; ok: boolean; detail: string }[];
    expect(checks.find((c) => c.name === "config")!.ok).toBe(false);

    const limits = project(
      [
        "tasks:",
        "  top:",
        "    command: [echo, hi]",
        "    timeout: 2",
        "    retry: {attempts: 2, backoff: exponential, base: 1d, max: 7d, factor: 10}",
      ].join("\n"),
    );
    expect(cli(home, ["config", "validate"], { cwd: limits }).code).toBe(0);
    const run = cli(home, ["task", "run", "top", "--json"], { cwd: limits });
    expect(run.code).toBe(0);
    const job = cliJson(home, ["status", JSON.parse(run.stdout).data.id as string]).job;
    // The engine took the backoff at its limits (beyond them it was INVALID_INPUT at every run).
    expect(job).toMatchObject({ state: "succeeded", maxAttempts: 2, payload: { timeoutMs: 2000 } });
  });

  it("loads the personal $BATON_HOME/config.yaml too; a project task shadows a personal one", () => {
    const home = newHome();
    writeFileSync(
      join(home.dir, "config.yaml"),
      "tasks:\n  mine: { command: echo personal }\n  both: { command: echo p }\n",
    );
    const dir = project("tasks:\n  both: { command: echo project }\n");
    const loaded = loadTaskConfig(dir, { ...process.env, BATON_HOME: home.dir });
    expect(loaded.ok).toBe(true);
    if (!loaded.ok) return;
    expect(loaded.value.tasks.map((t) => [t.name, t.scope])).toEqual([
      ["both", "project"],
      ["mine", "personal"],
    ]);
  });
});

describe("baton config schema | edit", () => {
  it("schema prints the JSON Schema of baton.yaml (tasks, strict keys)", () => {
    const home = newHome();
    const r = cli(home, ["config", "schema"]);
    expect(r.code).toBe(0);
    const schema = JSON.parse(r.stdout);
    expect(schema.title).toBe("baton.yaml");
    const task = schema.properties.tasks.additionalProperties;
    expect(task.additionalProperties).toBe(false);
    expect(Object.keys(task.properties)).toEqual(
      expect.arrayContaining(["command", "schedule", "lock", "on_failure"]),
    );
  });

  it("edit saves a valid edit and refuses an invalid one (the file is unchanged, the edit kept)", () => {
    const home = newHome();
    const dir = project("tasks:\n  a: { command: echo a }\n");
    const bin = mkdtempSync(join(tmpdir(), "bted-"));
    const editor = join(bin, "editor.sh");
    // The "editor" replaces the file with $NEW_TEXT.
    writeFileSync(editor, '#!/bin/sh\nprintf "%s" "$NEW_TEXT" > "$1"\n');
    chmodSync(editor, 0o755);
    mkdirSync(join(dir, "sub"));
    const good = "tasks:\n  a: { command: echo a }\n  b: { command: echo b }\n";
    const ok = cli(home, ["config", "edit"], { cwd: dir, env: { EDITOR: editor, NEW_TEXT: good } });
    expect(ok.code).toBe(0);
    expect(readFileSync(join(dir, "baton.yaml"), "utf8")).toBe(good);
    const bad = "tasks:\n  a: { command: echo a, lok: true }\n";
    const refused = cli(home, ["config", "edit"], { cwd: dir, env: { EDITOR: editor, NEW_TEXT: bad } });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("not saved");
    expect(refused.stderr).toContain("tasks.a.lok");
    expect(readFileSync(join(dir, "baton.yaml"), "utf8")).toBe(good);
  });
});
