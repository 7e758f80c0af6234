/**
 * Agent jobs end to end: `baton agent run` hands instructions to a fake agent CLI (a real child
 * process, test/fixtures/fake-agent.mjs) through the daemon's supervisor; the answer, failures,
 * timeouts and metadata are recorded; the instructions arrive byte-exact, never through a shell.
 */
import { existsSync, readdirSync, readFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { agentArgv, agentResult } from "../src/agents/agents.js";
import { FIXTURES, cli, cliJson, newHome, TERMINAL, until, jobRow } from "./helpers/supervisor.js";
import { tempDir } from "./helpers/tmp.js";

const FAKE = JSON.stringify([process.execPath, join(FIXTURES, "fake-agent.mjs"), "-p", "{instructions}"]);

/** `baton agent run -a fake --command <fake agent> <args…>`. */
const fake = (...args: string[]) => ["agent", "run", "-a", "fake", "--command", FAKE, ...args];

function stop(home: { dir: string; env: Record<string, string> }): void {
  cli(home, ["daemon", "stop"]);
}

describe("agent argv and answers", () => {
  it("puts the instructions into the template as one argument, with no interpretation", () => {
    const text = `it's "quoted" $(touch x) \`y\` $& $1\nsecond line`;
    expect(agentArgv(["claude", "-p", "{instructions}", "--output-format", "json"], text)).toEqual([
      "claude",
      "-p",
      text,
      "--output-format",
      "json",
    ]);
    expect(agentArgv(["my-agent"], text)).toEqual(["my-agent", text]);
    expect(agentArgv(["x", "--prompt={instructions}"], "a$&b")).toEqual(["x", "--prompt=a$&b"]);
  });

  it("reads the last JSON answer, else the text tail", () => {
    expect(agentResult('progress\n{"result":"all good","cost":1}\n')).toEqual({
      summary: "all good",
      json: { result: "all good", cost: 1 },
    });
    expect(agentResult("just text\nthe end\n")).toEqual({ summary: "just text\nthe end" });
  });
});

describe("baton agent", () => {
  it("runs a fake agent CLI: instructions with quotes, $() and newlines arrive intact; the answer is recorded", async () => {
    const home = newHome();
    const out = realpathSync(tempDir("bagent-"));
    const canary = join(out, "canary");
    const instructions = `Review "PR 42" and write it's findings\n$(touch ${canary}) \`touch ${canary}\` ; rm -rf /nope`;
    try {
      const started = cliJson(
        home,
        ["agent", "run", "--agent", "reviewer", "--command", FAKE, "--meta", "pr=42", instructions],
        { env: { FAKE_AGENT_OUT: out } },
      );
      expect(["queued", "running", "succeeded"]).toContain(started.state);
      await until("the agent to finish", () => TERMINAL.includes(jobRow(home, started.id).state));
      const shown = cliJson(home, ["agent", "show", started.id]);
      expect(shown).toMatchObject({
        agent: "reviewer",
        state: "succeeded",
        instructions,
        meta: { pr: "42" },
        summary: `done: ${instructions.slice(0, 40)}`,
        result: { turns: 2 },
      });
      expect(shown.log).toContain("thinking about");
      const received = readdirSync(out).filter((f) => f.endsWith(".txt"));
      expect(received).toHaveLength(1);
      expect(readFileSync(join(out, received[0]!), "utf8")).toBe(instructions);
      expect(existsSync(canary)).toBe(false);

      const listed = cliJson(home, ["agent", "list", "--all"]);
      expect(listed.jobs.map((j: { id: string }) => j.id)).toEqual([started.id]);
      expect(listed.jobs[0].agent).toBe("reviewer");
    } finally {
      stop(home);
    }
  });

  it("--wait prints the answer; a failing agent exits 1 with its error; a hanging one times out", async () => {
    const home = newHome();
    try {
      const ok = cli(home, fake("--wait", "summarise the repo"));
      expect(ok.code).toBe(0);
      expect(ok.stdout).toContain("succeeded: done: summarise the repo");

      const failed = cli(home, fake("--wait", "--json", "FAIL now"));
      expect(failed.code).toBe(1);
      const lines = failed.stdout.trim().split("\n");
      const answer = JSON.parse(lines[lines.length - 1]!);
      expect(answer.data.state).toBe("failed");
      // The reason is the agent's stderr, not the tail of what it printed on stdout.
      expect(answer.data.error).toBe("agent exited with code 3: the agent gave up");

      const hung = cliJson(home, fake("--timeout", "1s", "HANG"));
      await until("the timeout", () => TERMINAL.includes(jobRow(home, hung.id).state));
      expect(jobRow(home, hung.id).state).toBe("timed_out");
    } finally {
      stop(home);
    }
  });

  it("refuses an unknown agent without a command, and a bad --command, with usage errors", () => {
    const home = newHome();
    const unknown = cli(home, ["agent", "run", "-a", "nobody", "hello", "--json"]);
    expect(unknown.code).toBe(2);
    expect(JSON.parse(unknown.stdout).error.message).toMatch(/no agent named 'nobody'/);
    const bad = cli(home, ["agent", "run", "-a", "x", "--command", "not json", "hello"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--command takes a JSON array/);
  });
});
