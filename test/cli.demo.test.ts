/**
 * `baton demo`: the checkpoint story with real processes and a real SIGKILL — 20 tasks, 12 done,
 * the agent is killed, a new one resumes exactly the 8 left, nothing lost, nothing done twice.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { baton, envelope } from "./helpers/cli.js";
import { tempDir } from "./helpers/tmp.js";

describe("baton demo", () => {
  it("--json: 20 tasks, 8 left after the SIGKILL, all 20 succeeded, 0 lost, 0 done twice, exit 0", () => {
    const home = tempDir("baton-demo-home-");
    const r = baton(["demo", "--json"], { home });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
    const env = envelope(r);
    expect(env.ok).toBe(true);
    expect(env.data).toMatchObject({ tasks: 20, succeeded: 20, leftAfterCrash: 8, lost: 0, doneTwice: 0 });
    // Enqueued 20, completed 20: at least 40 events, every one of them in the trail.
    expect(env.data.events).toBeGreaterThanOrEqual(40);
    // The demo works in its own temporary ledger, removed afterwards; the caller's is untouched.
    expect(env.data.home.startsWith(home)).toBe(false);
    expect(existsSync(env.data.home)).toBe(false);
    expect(existsSync(join(home, "baton.db"))).toBe(false);
  });

  it("human: tells the story step by step and ends with the verdict", () => {
    const home = tempDir("baton-demo-home-");
    const r = baton(["demo"], { home });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).not.toMatch(/\u001b\[/);
    const lines = r.stdout.split("\n");
    const story = [
      /^baton demo — BATON_HOME=/,
      /^1\. An agent enqueues 20 file tasks \(workflow 'add-docstrings'\) and completes 12 with evidence/,
      /^2\. The agent's process was killed with SIGKILL \(pid \d+\) while working on file 13\.$/,
      /^3\. A new chat runs `baton resume`: 8 task\(s\) left\.$/,
      /^4\. A second agent process finished what was left \(exit 0\)\.$/,
      /^5\. Audit of 'add-docstrings':$/,
      /^Result: 20\/20 done, 0 lost, 0 done twice\.$/,
    ];
    // Each step appears, in order.
    let at = -1;
    for (const step of story) {
      const found = lines.findIndex((l, i) => i > at && step.test(l));
      expect(found, `story line ${String(step)} in:\n${r.stdout}`).toBeGreaterThan(at);
      at = found;
    }
    expect(r.stdout).toMatch(/^ {5}enqueued\s+20$/m);
    expect(r.stdout).toMatch(/^ {5}completed\s+20$/m);
    expect(r.stdout).toMatch(
      /e\.g\. [0-9A-Z]{26} completed with evidence "appended a docstring to src\/file\d\d\.ts"/,
    );
  });
});
