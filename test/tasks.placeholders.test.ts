/**
 * Placeholders: `{{name}}` inside an argv element is replaced by the input (`--name={{who}}`), and
 * a placeholder no input defines, or one in a shell command line, is a config error naming file,
 * line and key instead of an empty or literal argument.
 */
import { describe, expect, it } from "vitest";
import { project } from "./helpers/tasks.js";
import { cli, cliJson, newHome } from "./helpers/supervisor.js";

describe("placeholders in commands", () => {
  it("substitutes {{name}} inside an argument", () => {
    const home = newHome();
    const dir = project(
      [
        "tasks:",
        "  greet:",
        "    command: [echo, '--name={{who}}', '{{who}}-{{n}}']",
        "    output: text",
        "    inputs:",
        "      who: { default: ann }",
        "      n: { type: integer, default: 2 }",
      ].join("\n"),
    );
    const run = cliJson(home, ["task", "run", "greet", "--input", "who=bo"], { cwd: dir });
    expect(run.result.summary).toBe("--name=bo bo-2");
  });

  it("a given value beginning with '-' as a whole argument is refused before queuing, unless the input allows it", () => {
    const home = newHome();
    const dir = project(
      [
        "tasks:",
        "  copy:",
        "    command: [echo, '{{dest}}', '--name={{who}}', '{{n}}', '{{flag}}']",
        "    output: text",
        "    inputs:",
        "      dest: { default: out }",
        "      who: { default: ann }",
        "      n: { type: integer, default: 1 }",
        "      flag: { default: '-q', allow_dash: true }",
      ].join("\n"),
    );
    const refused = cli(home, ["task", "run", "copy", "--input", "dest=--delete", "--json"], { cwd: dir });
    expect(refused.code).toBe(2);
    const error = JSON.parse(refused.stdout).error;
    expect(error.code).toBe("INVALID_INPUT");
    expect(error.message).toContain(
      "input 'dest' is '--delete', which begins with '-': it is a whole argument of task 'copy' ({{dest}})",
    );
    expect(error.message).toContain("allow_dash: true");
    expect(cliJson(home, ["runs", "copy"], { cwd: dir }).runs).toEqual([]);
    // Inside an argument, a number, and an input that allows it: passed as given.
    const run = cliJson(
      home,
      [
        "task",
        "run",
        "copy",
        "--input",
        "who=-x",
        "--input",
        "n=-5",
        "--input",
        "flag=-v",
        "--input",
        "dest=./-d",
      ],
      { cwd: dir },
    );
    expect(run.result.summary).toBe("./-d --name=-x -5 -v");
  });

  it("an unknown placeholder, or one in a shell line, is CONFIG_INVALID with file, line and key", () => {
    const home = newHome();
    const dir = project(
      [
        "tasks:",
        "  typo:",
        "    command: [echo, '{{missing}}']",
        "    inputs:",
        "      present: x",
        "  shell:",
        "    command: 'echo {{who}}'",
        "    inputs:",
        "      who: x",
      ].join("\n"),
    );
    const r = cli(home, ["config", "validate", "--json"], { cwd: dir });
    expect(r.code).toBe(2);
    // Exit 2 is an error envelope (docs/cli.md): CONFIG_INVALID with every problem in its details.
    const body = JSON.parse(r.stdout);
    expect(body.ok).toBe(false);
    expect(body.error.code).toBe("CONFIG_INVALID");
    expect(body.error.details.problems.map((p: { key: string }) => p.key)).toContain("tasks.typo.command");
    const messages = body.error.details.messages as string[];
    expect(messages).toContain(
      "baton.yaml:3:21: tasks.typo.command: item 2: unknown placeholder {{missing}} (inputs: present)",
    );
    expect(
      messages.some((m) =>
        m.startsWith(
          'baton.yaml:7:5: tasks.shell.command: a shell command line gets inputs as "$BATON_INPUT_WHO"',
        ),
      ),
    ).toBe(true);
    // Nothing runs.
    expect(cli(home, ["task", "run", "typo", "--json"], { cwd: dir }).code).toBe(2);
  });
});
