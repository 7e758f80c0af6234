/**
 * Configured tasks end to end through the real binary and a real daemon: runs as `task:<name>`
 * jobs, inputs, output parsing and JSONL events, exit codes (0 ok, 1 failed, 2 dry run), dry runs
 * without side effects, `lock: true` in the ledger (released when its holder dies, bypassed by
 * --force), hooks that get data only through environment variables, plugin tasks.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { project } from "./helpers/tasks.js";
import { cli, cliJson, jobRow, newHome, processRecords, until } from "./helpers/supervisor.js";

describe("baton task run", () => {
  it("runs a task as a task:<name> job: inputs as env, jsonl lines as events, the last line as result", () => {
    const home = newHome();
    const dir = project(
      [
        "tasks:",
        "  report:",
        "    description: A report",
        '    command: [\'sh\', \'-c\', \'echo "{\\"step\\":1}"; echo "{\\"summary\\":\\"for $BATON_INPUT_WHO\\",\\"n\\":2}"\']',
        "    output: jsonl",
        "    inputs:",
        "      who: { type: string, required: true, pattern: '^[a-z]+$' }",
      ].join("\n"),
    );
    const done = cliJson(home, ["task", "run", "report", "--input", "who=ann"], { cwd: dir });
    expect(done.state).toBe("succeeded");
    expect(done.result).toMatchObject({ summary: "for ann", n: 2, exitCode: 0 });
    expect(cliJson(home, ["status", done.id]).job.type).toBe("task:report");
    const events = cliJson(home, ["events", done.id]).events as { kind: string; details?: any }[];
    expect(events.filter((e) => e.kind === "output").map((e) => e.details.line)).toEqual([
      { step: 1 },
      { summary: "for ann", n: 2 },
    ]);
    const runs = cliJson(home, ["runs", "report"], { cwd: dir }).runs as { id: string }[];
    expect(runs.map((r) => r.id)).toEqual([done.id]);
    // Inputs are checked before anything runs.
    const bad = cli(home, ["task", "run", "report", "--input", "who=A1", "--json"], { cwd: dir });
    expect(bad.code).toBe(2);
    expect(JSON.parse(bad.stdout).error.code).toBe("INVALID_INPUT");
    const unknown = cli(home, ["task", "run", "report", "--input", "whom=x", "--json"], { cwd: dir });
    expect(JSON.parse(unknown.stdout).error.message).toContain("has no input 'whom'");
  });

  it("exits 1 when the run fails, and honours success_exit_codes", () => {
    const home = newHome();
    const dir = project(
      "tasks:\n  bad: { command: 'exit 3' }\n  fine: { command: 'exit 3', success_exit_codes: [0, 3] }\n",
    );
    expect(cli(home, ["task", "run", "bad"], { cwd: dir }).code).toBe(1);
    expect(cli(home, ["task", "run", "fine"], { cwd: dir }).code).toBe(0);
  });

  it("a dry run has no side effects: the real command would create a file, the dry run creates nothing", () => {
    const home = newHome();
    const dir = project(
      [
        "tasks:",
        "  make:",
        "    command: [touch, made.txt]",
        "  safe:",
        "    command: [touch, made.txt]",
        "    dry_run_command: [echo, would touch made.txt]",
      ].join("\n"),
    );
    const preview = cli(home, ["task", "run", "make", "--dry-run", "--json"], { cwd: dir });
    expect(preview.code).toBe(2);
    expect(JSON.parse(preview.stdout).data.preview.argv).toEqual(["touch", "made.txt"]);
    const dry = cli(home, ["task", "run", "safe", "--dry-run"], { cwd: dir });
    expect(dry.code).toBe(2);
    expect(dry.stdout).toContain("would touch made.txt");
    expect(readdirSync(dir)).toEqual(["baton.yaml"]);
    expect(cli(home, ["task", "run", "safe"], { cwd: dir }).code).toBe(0);
    expect(existsSync(join(dir, "made.txt"))).toBe(true);
  });

  it("lock: true refuses a second concurrent run (TASK_LOCKED); --force bypasses; a SIGKILLed holder frees it", async () => {
    const home = newHome();
    const dir = project("tasks:\n  long:\n    command: [sleep, '60']\n    lock: true\n");
    const first = cliJson(home, ["task", "run", "long", "--async"], { cwd: dir });
    const second = cli(home, ["task", "run", "long", "--async", "--json"], { cwd: dir });
    expect(second.code).toBe(4);
    expect(JSON.parse(second.stdout).error).toMatchObject({ code: "TASK_LOCKED" });
    expect(JSON.parse(second.stdout).error.message).toContain(first.id);
    const forced = cliJson(home, ["task", "run", "long", "--async", "--force"], { cwd: dir });
    expect(forced.id).not.toBe(first.id);
    // Kill the holder's process group with SIGKILL: the lock is free for the next run.
    const record = await until("the first run to start", () =>
      processRecords(home).find((r) => r.jobId === first.id),
    );
    process.kill(-record.pid, "SIGKILL");
    await until(
      "the killed run to end",
      () => jobRow(home, first.id).state !== "running" && jobRow(home, first.id).state,
    );
    const next = cliJson(home, ["task", "run", "long", "--async"], { cwd: dir });
    expect(next.id).toBeTruthy();
    for (const id of [forced.id, next.id]) cli(home, ["stop", id, "--force"]);
  });

  it("R-27 hooks get hostile run data only through environment variables; the canary never appears", () => {
    const home = newHome();
    const hostile = `$(touch pwned) \`touch pwned2\` '; touch pwned3; ' "; rm -rf x;"\nline2`;
    const dir = project(
      [
        "tasks:",
        "  evil:",
        "    command: ['sh', '-c', 'printf \"%s\\n\" \"$PAYLOAD\"; exit 1']",
        "    output: text",
        "    on_failure:",
        '      - \'printf "%s|%s|%s" "$BATON_STATUS" "$BATON_EXIT_CODE" "$BATON_SUMMARY" > hook-failure.txt\'',
        '    on_complete: [[sh, -c, \'printf "%s" "$BATON_RESULT_JSON" > hook-result.json\', hook]]',
      ].join("\n"),
    );
    mkdirSync(join(dir, "x"));
    const r = cli(home, ["task", "run", "evil"], { cwd: dir, env: { PAYLOAD: hostile } });
    expect(r.code).toBe(1);
    expect(readFileSync(join(dir, "hook-failure.txt"), "utf8")).toContain("failed|1|");
    expect(readFileSync(join(dir, "hook-failure.txt"), "utf8")).toContain("line2");
    expect(JSON.parse(readFileSync(join(dir, "hook-result.json"), "utf8"))).toBeNull();
    for (const canary of ["pwned", "pwned2", "pwned3"]) expect(existsSync(join(dir, canary))).toBe(false);
    expect(existsSync(join(dir, "x"))).toBe(true);
  });

  it("a plugin task in .baton/tasks/ is loaded when used, validates inputs with its schema, and dry-runs", () => {
    const home = newHome();
    const dir = project("tasks: {}\n");
    mkdirSync(join(dir, ".baton", "tasks"), { recursive: true });
    const zod = join(import.meta.dirname, "..", "node_modules", "zod", "index.js");
    writeFileSync(
      join(dir, ".baton", "tasks", "greet.mjs"),
      [
        `import { z } from ${JSON.stringify(zod)};`,
        "export default {",
        "  description: 'Greet someone',",
        "  inputs: z.object({ who: z.string().min(2) }),",
        "  network: true,",
        "  async run({ inputs }) { return { summary: `hello ${inputs.who}` }; },",
        "  async dryRun({ inputs }) { return { summary: `would greet ${inputs.who}` }; },",
        "};",
      ].join("\n"),
    );
    const described = cliJson(home, ["task", "describe", "greet"], { cwd: dir });
    expect(described).toMatchObject({
      kind: "plugin",
      description: "Greet someone",
      network: true,
      dryRun: "function",
    });
    expect(described.inputs.properties.who.type).toBe("string");
    const done = cliJson(home, ["task", "run", "greet", "--input", "who=bo"], { cwd: dir });
    expect(done.result).toMatchObject({ summary: "hello bo" });
    const dry = cli(home, ["task", "run", "greet", "--dry-run", "--input", "who=bo"], { cwd: dir });
    expect(dry.code).toBe(2);
    expect(dry.stdout).toContain("would greet bo");
    const bad = cli(home, ["task", "run", "greet", "--input", "who=b", "--json"], { cwd: dir });
    expect(JSON.parse(bad.stdout).error.code).toBe("INVALID_INPUT");
  });

  it("capabilities --json lists every operation and every task with inputs, env and flags", () => {
    const home = newHome();
    const dir = project(
      "tasks:\n  deploy:\n    description: Deploy\n    command: [echo]\n    env: { TOKEN_env: DEPLOY_TOKEN }\n    destructive: true\n    network: true\n",
    );
    const caps = cliJson(home, ["capabilities"], { cwd: dir });
    const names = (caps.operations as { name: string }[]).map((o) => o.name);
    expect(names).toEqual(
      expect.arrayContaining(["run_task", "describe_task", "list_configured_tasks", "task_runs"]),
    );
    expect(caps.tasks).toEqual([
      expect.objectContaining({
        name: "deploy",
        requiredEnv: ["DEPLOY_TOKEN"],
        destructive: true,
        network: true,
      }),
    ]);
  });

  it("secrets from *_env references reach the command but never the ledger", () => {
    const home = newHome();
    const secret = "s3cr3t-canary-4711";
    const dir = project(
      "tasks:\n  use:\n    command: ['sh', '-c', 'test \"$TOKEN\" = \"$EXPECTED\"']\n    env: { TOKEN_env: MY_SECRET }\n",
    );
    const r = cli(home, ["task", "run", "use"], { cwd: dir, env: { MY_SECRET: secret, EXPECTED: secret } });
    expect(r.code).toBe(0);
    expect(readFileSync(join(home.dir, "baton.db")).includes(secret)).toBe(false);
  });
});
