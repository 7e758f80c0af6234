/**
 * `baton retry` of a configured-task run: the new attempt gets the task's `env:` and its `*_env`
 * secret references resolved from the retrying caller's environment, as the first run did, and the
 * secret still never reaches the ledger. Real binary, real daemon, temp BATON_HOME.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { project } from "./helpers/tasks.js";
import { cli, cliJson, newHome } from "./helpers/supervisor.js";

describe("baton retry of a task run", () => {
  it("resolves the task's env: and *_env secrets again from the caller; refuses clearly without them", () => {
    const home = newHome();
    const secret = "retry-secret-canary-9313";
    const dir = project(
      [
        "tasks:",
        "  use:",
        '    command: [\'sh\', \'-c\', \'test -f ready || exit 7; test "$TOKEN" = "$EXPECTED" && test "$MODE" = fixed && echo "ok $BATON_INPUT_WHO"\']',
        "    output: text",
        "    env: { TOKEN_env: MY_SECRET, MODE: fixed }",
        "    inputs: { who: 'who to greet' }",
      ].join("\n"),
    );
    // The daemon starts without the secret in its own environment: only the env file can carry it.
    expect(cli(home, ["daemon", "start"]).code).toBe(0);
    const first = cli(home, ["task", "run", "use", "--input", "who=ann", "--json"], {
      cwd: dir,
      env: { MY_SECRET: secret, EXPECTED: secret },
    });
    expect(first.code).toBe(1);
    const id = JSON.parse(first.stdout).data.id as string;
    writeFileSync(join(dir, "ready"), "");

    // Without the secret the retry is refused before anything runs, naming the variable.
    const refused = cli(home, ["retry", id, "--json"], { cwd: dir, env: { EXPECTED: secret } });
    expect(refused.code).not.toBe(0);
    expect(JSON.parse(refused.stdout).error).toMatchObject({ code: "INVALID_INPUT" });
    expect(JSON.parse(refused.stdout).error.message).toContain("MY_SECRET");
    expect(cliJson(home, ["status", id]).job.state).toBe("failed");

    const retried = cliJson(home, ["retry", id], { cwd: dir, env: { MY_SECRET: secret, EXPECTED: secret } });
    expect(retried.attempt).toBe(2);
    const done = cliJson(home, ["wait", id, "--timeout", "60s"]);
    expect(done.state).toBe("succeeded");
    expect(cliJson(home, ["status", id]).job.result).toMatchObject({ summary: "ok ann" });
    expect(readFileSync(join(home.dir, "baton.db")).includes(secret)).toBe(false);
  });

  it("a retried lock: true run takes its lock again", () => {
    const home = newHome();
    const dir = project(
      "tasks:\n  once:\n    command: ['sh', '-c', 'test -f go || exit 3; sleep 60']\n    lock: true\n",
    );
    const first = cli(home, ["task", "run", "once", "--json"], { cwd: dir });
    expect(first.code).toBe(1);
    const id = JSON.parse(first.stdout).data.id as string;
    writeFileSync(join(dir, "go"), "");
    cliJson(home, ["retry", id], { cwd: dir });
    const second = cli(home, ["task", "run", "once", "--async", "--json"], { cwd: dir });
    expect(JSON.parse(second.stdout).error).toMatchObject({ code: "TASK_LOCKED" });
    expect(JSON.parse(second.stdout).error.message).toContain(id);
    cli(home, ["stop", id, "--force"]);
  });
});
