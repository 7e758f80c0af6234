/**
 * Typed task inputs reach the command exactly as given, or are refused (D133): an integer or number
 * input is never rounded, read as hex or cut to 0 on the way (`{{n}}`, BATON_INPUT_N and
 * BATON_INPUTS_JSON all say the value typed); MCP's `run_task` takes the JSON numbers and booleans
 * its own `describe_task` schema describes, checked by that schema.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { requireTaskConfig } from "../src/tasks/config.js";
import { resolveInputs } from "../src/tasks/runner.js";
import type { InputValue } from "../src/tasks/runner.js";
import { call, connectStdio, toolError } from "./helpers/mcp.js";
import type { Connected } from "./helpers/mcp.js";
import { cli, cliJson, newHome, until } from "./helpers/supervisor.js";
import { project } from "./helpers/tasks.js";

const YAML = [
  "tasks:",
  "  typed:",
  '    command: [\'sh\', \'-c\', \'printf "%s|%s|%s|%s" "$0" "$BATON_INPUT_N" "$BATON_INPUT_F" "$BATON_INPUTS_JSON" > got\', \'{{n}}\']',
  "    inputs:",
  "      n: { type: integer, required: true }",
  "      f: { type: number }",
  "      b: { type: boolean }",
  "      s: { type: string }",
].join("\n");

function resolved(given: Record<string, InputValue>): Record<string, InputValue> {
  const dir = project(YAML);
  const def = requireTaskConfig(dir, { ...process.env, BATON_HOME: dir }).tasks[0]!;
  return resolveInputs(def, given);
}

function refusal(given: Record<string, InputValue>): string {
  try {
    resolved(given);
  } catch (e) {
    expect((e as { code?: string }).code).toBe("INVALID_INPUT");
    return (e as Error).message;
  }
  throw new Error(`not refused: ${JSON.stringify(given)}`);
}

describe("typed inputs are exact (D133)", () => {
  it("refuses an integer or number the command would get as another value, or not in decimal", () => {
    expect(refusal({ n: "12345678901234567" })).toContain("outside the integers a command gets exactly");
    expect(refusal({ n: "99999999999999999999" })).toContain("outside the integers");
    expect(refusal({ n: 12345678901234568 })).toContain("outside the integers");
    expect(refusal({ n: "0x10" })).toContain("must be an integer in decimal");
    expect(refusal({ n: " 5" })).toContain("in decimal");
    expect(refusal({ n: "1e3" })).toContain("in decimal");
    expect(refusal({ n: "007" })).toContain("in decimal");
    expect(refusal({ n: "2.5" })).toContain("in decimal");
    expect(refusal({ n: 2.5 })).toContain("must be an integer");
    expect(refusal({ n: 1, f: "0.1e-400" })).toContain(
      "cannot hold exactly (it would reach the command as 0)",
    );
    expect(refusal({ n: 1, f: "0.10000000000000001" })).toContain("as 0.1)");
    expect(refusal({ n: 1, f: "1e400" })).toContain("must be a number");
    expect(refusal({ n: 1, f: "0x10" })).toContain("must be a number in decimal");
    expect(refusal({ n: 1, f: "Infinity" })).toContain("in decimal");
    expect(refusal({ n: 1, f: "1.50" })).toContain("write it as 1.5");
    expect(refusal({ n: 1, b: "maybe" })).toContain("must be true or false");
    expect(refusal({ n: 1, b: 1 })).toContain("must be true or false");
    expect(refusal({ n: true })).toContain("must be an integer");
    expect(refusal({ n: 1, s: 3 })).toContain("must be a string");
  });

  it("takes the JSON values the schema describes, and the CLI's text, as the same values", () => {
    expect(resolved({ n: 3, f: 0.5, b: true, s: "x" })).toEqual({ n: 3, f: 0.5, b: true, s: "x" });
    expect(resolved({ n: "3", f: "0.5", b: "yes", s: "x" })).toEqual({ n: 3, f: 0.5, b: true, s: "x" });
    expect(resolved({ n: "-9007199254740991", f: "1e-7" })).toEqual({ n: -9007199254740991, f: 1e-7 });
  });

  it("the command gets the integer typed, and a refused one starts nothing", () => {
    const home = newHome();
    const dir = project(YAML);
    const done = cliJson(
      home,
      ["task", "run", "typed", "--input", "n=9007199254740991", "--input", "f=0.1"],
      {
        cwd: dir,
      },
    );
    expect(done.state).toBe("succeeded");
    expect(readFileSync(join(dir, "got"), "utf8")).toBe(
      '9007199254740991|9007199254740991|0.1|{"n":9007199254740991,"f":0.1}',
    );
    for (const input of ["n=12345678901234567", "n=0x10", "f=0.1e-400"]) {
      const r = cli(home, ["task", "run", "typed", "--input", "n=1", "--input", input, "--json"], {
        cwd: dir,
      });
      expect(r.code).toBe(2);
      expect(JSON.parse(r.stdout).error.code).toBe("INVALID_INPUT");
    }
    expect(cliJson(home, ["runs", "typed"], { cwd: dir }).runs).toHaveLength(1);
  });
});

describe("MCP run_task takes what describe_task describes", () => {
  const open: Connected[] = [];
  afterEach(async () => {
    for (const c of open.splice(0)) await c.close().catch(() => undefined);
  });

  it("a JSON integer and boolean for integer and boolean inputs; the schema's refusals name the input", async () => {
    const home = newHome();
    const dir = project(YAML);
    const server = await connectStdio(home.dir, ["--tools", "full"], dir);
    open.push(server);
    const described = await call(server.client, "describe_task", { task: "typed" });
    expect(described.data.inputs.properties.n).toEqual({ type: "integer" });
    const run = await call(server.client, "run_task", { task: "typed", inputs: { n: 3, f: 0.25, b: true } });
    expect(run.isError).not.toBe(true);
    await until("the run succeeded", () => cliJson(home, ["status", run.data.id]).job.state === "succeeded");
    expect(readFileSync(join(dir, "got"), "utf8")).toBe('3|3|0.25|{"n":3,"f":0.25,"b":true}');
    const big = await call(server.client, "run_task", { task: "typed", inputs: { n: 12345678901234567 } });
    expect(big.isError).toBe(true);
    expect(toolError(big)).toMatchObject({ code: "INVALID_INPUT" });
    expect(toolError(big).message).toContain("input 'n' is 12345678901234568, outside the integers");
    const text = await call(server.client, "run_task", { task: "typed", inputs: { n: 1, s: 3 } });
    expect(toolError(text).message).toContain("input 's' must be a string");
  });

  it("a task operation's project that is not a directory is INVALID_INPUT naming it, as --project is", async () => {
    const home = newHome();
    const dir = project(YAML);
    const server = await connectStdio(home.dir, ["--tools", "full"], dir);
    open.push(server);
    for (const [tool, args] of [
      ["run_task", { task: "x" }],
      ["describe_task", { task: "x" }],
      ["list_configured_tasks", {}],
      ["task_runs", {}],
    ] as const) {
      const missing = await call(server.client, tool, { ...args, project: "/nonexistent" });
      expect(toolError(missing)).toMatchObject({
        code: "INVALID_INPUT",
        message: "project '/nonexistent' does not exist: give the path of a project directory",
      });
    }
    const file = await call(server.client, "run_task", { task: "typed", project: join(dir, "baton.yaml") });
    expect(toolError(file).message).toBe(`project '${join(dir, "baton.yaml")}' is not a directory`);
    // A project that is a directory still works, named relative to the caller's cwd too.
    const listed = await call(server.client, "list_configured_tasks", { project: "." });
    expect(listed.data.tasks.map((t: { name: string }) => t.name)).toEqual(["typed"]);
  });
});
