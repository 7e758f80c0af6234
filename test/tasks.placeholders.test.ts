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
    const messages = JSON.parse(r.stdout).data.messages as string[];
    expect(messages).toContain(
      "baton.yaml:3:21: tasks.typo.command.1: unknown placeholder {{missing}} (inputs: present)",
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
