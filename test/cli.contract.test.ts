/**
 * docs/cli.md as a contract, from a fresh-context tester's findings: short ids in `runs` and
 * `task run`, `wait` saying how a finished job ended (and how its exit code is told from baton's
 * own, D113), `completion --json`, usage errors naming the subcommand's help, and an unknown task
 * name in `runs` being NOT_FOUND. Real binary, real daemon, temp SQLite homes.
 */
import { describe, expect, it } from "vitest";
import { project } from "./helpers/tasks.js";
import { cli, cliJson, newHome } from "./helpers/supervisor.js";

const YAML = "tasks:\n  hello:\n    command: [echo, hi]\n  three:\n    command: [sh, -c, 'exit 3']\n";

describe("short ids where docs/cli.md says (D95)", () => {
  it("runs' table shows short ids only; task run (waiting and --async) prints the id with its short id and hints with the short id", () => {
    const home = newHome();
    const dir = project(YAML);
    const done = cli(home, ["task", "run", "hello"], { cwd: dir });
    expect(done.code, done.stderr).toBe(0);
    const id = /^([0-9A-Z]{26}) \(([0-9A-Z]{6})\) {2}hello {2}succeeded/.exec(done.stdout);
    expect(id, done.stdout).not.toBeNull();
    expect(id![2]).toBe(id![1]!.slice(-6));

    const started = cli(home, ["task", "run", "hello", "--async"], { cwd: dir });
    expect(started.code, started.stderr).toBe(0);
    const [full, short] = /^([0-9A-Z]{26}) \(([0-9A-Z]{6})\) {2}hello /.exec(started.stdout)!.slice(1);
    expect(started.stdout).toContain(`logs: baton logs ${short} -f`);
    expect(started.stdout).toContain(`wait: baton wait ${short}`);
    expect(started.stdout.split("\n")[1]).not.toContain(full);
    expect(cli(home, ["wait", short!], { cwd: dir }).code).toBe(0);

    const table = cli(home, ["runs"], { cwd: dir }).stdout;
    expect(table).toMatch(/^ID\s+TASK/);
    expect(table).toContain(short);
    expect(table).not.toMatch(/[0-9A-Z]{26}/);
    // --json keeps full ids.
    expect(cliJson(home, ["runs"], { cwd: dir }).runs.map((r: { id: string }) => r.id)).toContain(full);
  });
});

describe("wait on a finished job (D113)", () => {
  it("prints its id, state and exit code as run --wait does; exit 3 from the job and from 'not found' are told apart by --json and stderr", () => {
    const home = newHome();
    const dir = project(YAML);
    const id = cliJson(home, ["task", "run", "three", "--async"], { cwd: dir }).id as string;
    const first = cli(home, ["wait", id], { cwd: dir });
    expect(first.code).toBe(3);
    const again = cli(home, ["wait", id], { cwd: dir });
    expect(again.code).toBe(3);
    expect(again.stdout).toBe(`${id} (${id.slice(-6)})  failed  exit 3\n`);
    expect(again.stderr).toBe("");

    const missing = cli(home, ["wait", "ZZZZZZ"], { cwd: dir });
    expect(missing.code).toBe(3);
    expect(missing.stdout).toBe("");
    expect(missing.stderr).toMatch(/^baton: error: .*\(JOB_NOT_FOUND\)/);
    const asJson = cli(home, ["wait", id, "--json"], { cwd: dir });
    expect(JSON.parse(asJson.stdout)).toMatchObject({ ok: true, data: { state: "failed", exitCode: 3 } });
    const missingJson = cli(home, ["wait", "ZZZZZZ", "--json"], { cwd: dir });
    expect(JSON.parse(missingJson.stdout)).toMatchObject({ ok: false, error: { code: "JOB_NOT_FOUND" } });
  });
});

describe("every command takes --json; errors name the help that helps", () => {
  it("completion <shell> --json answers {shell, script}; a bad shell is an envelope too", () => {
    const home = newHome();
    const r = cli(home, ["completion", "bash", "--json"]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const env = JSON.parse(r.stdout);
    expect(env.ok).toBe(true);
    expect(env.data.shell).toBe("bash");
    expect(env.data.script).toContain("complete ");
    expect(env.data.script).toBe(cli(home, ["completion", "bash"]).stdout);
    const bad = cli(home, ["completion", "tcsh", "--json"]);
    expect([bad.code, JSON.parse(bad.stdout).error.code]).toEqual([2, "INVALID_INPUT"]);
  });

  it("a usage error in a subcommand points at that subcommand's --help", () => {
    const home = newHome();
    const dir = project(YAML);
    const missing = cli(home, ["task", "run"], { cwd: dir });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("(see baton task run --help)");
    const unknown = cli(home, ["resume", "--bogus"], { cwd: dir });
    expect(unknown.stderr).toContain("(see baton resume --help)");
    const top = cli(home, ["nosuchcommand"], { cwd: dir });
    expect(top.stderr).toContain("(see baton --help)");
  });

  it("runs <unknown task> is NOT_FOUND (exit 3) with did-you-mean, as task describe is; a task with runs but no config still lists them", () => {
    const home = newHome();
    const dir = project(YAML);
    const r = cli(home, ["runs", "helo"], { cwd: dir });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("no task 'helo'");
    expect(r.stderr).toContain("did you mean 'hello'?");
    expect(cli(home, ["task", "describe", "helo"], { cwd: dir }).stderr).toContain("did you mean 'hello'?");
    const json = cli(home, ["runs", "nope", "--json"], { cwd: dir });
    expect(JSON.parse(json.stdout).error.code).toBe("NOT_FOUND");
    // A configured task with no runs yet is an empty list, not an error.
    expect(cli(home, ["runs", "hello"], { cwd: dir })).toMatchObject({ code: 0, stdout: "no runs\n" });
  });
});
