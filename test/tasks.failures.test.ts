/**
 * Every failure says why: a run's error carries the last lines of its stderr (a thrown error's
 * message, a tool's complaint), and a command that does not exist is `command not found: X`,
 * not only `exit code N`.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { project } from "./helpers/tasks.js";
import { cli, newHome } from "./helpers/supervisor.js";

describe("a failed run says why", () => {
  it("stderr's last lines, command not found, a plugin's thrown message", () => {
    const home = newHome();
    const dir = project(
      [
        "tasks:",
        "  complains:",
        "    command: ['sh', '-c', 'echo progress; echo \"warning: low disk\" >&2; echo \"refusing to run: /data is read-only\" >&2; exit 3']",
        "  nobinary:",
        "    command: [no-such-binary-baton-test, --flag]",
        "  nobinary-sh:",
        "    command: 'no-such-binary-baton-test --flag'",
      ].join("\n"),
    );
    mkdirSync(join(dir, ".baton", "tasks"), { recursive: true });
    writeFileSync(
      join(dir, ".baton", "tasks", "thrower.mjs"),
      'export default { description: "throws", async run() { throw new Error("refusing to delete /: not allowed"); } };\n',
    );
    const error = (task: string) => {
      const r = cli(home, ["task", "run", task, "--json"], { cwd: dir });
      expect(r.code).toBe(1);
      return JSON.parse(r.stdout).data.error as string;
    };
    expect(error("complains")).toBe("exit code 3: warning: low disk | refusing to run: /data is read-only");
    expect(error("nobinary")).toBe("command not found: no-such-binary-baton-test");
    expect(error("nobinary-sh")).toMatch(/^exit code 127: .*no-such-binary-baton-test.*not found/);
    expect(error("thrower")).toMatch(/^exit code 1: .*refusing to delete \/: not allowed/);
  });
});
