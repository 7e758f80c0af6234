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
import { cli, newHome } from "./helpers/supervisor.js";

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
    expect(byKey["tasks.a.lock"]!.message).toMatch(/expected boolean/);
  });

  it("R-31 a YAML syntax error names the line and the key near it", () => {
    const [p] = problemsOf('tasks:\n  a:\n    command: "unterminated\n    lock: true\n');
    expect(p!.message).toMatch(/YAML syntax error/);
    expect(p!.line).toBeGreaterThanOrEqual(3);
    expect(p!.key).toMatch(/^tasks\.a/);
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
    expect(error.message).toMatch(/^baton\.yaml:4:\d+: tasks\.make\.retry\.attempts: expected number/);
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
