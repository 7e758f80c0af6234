/**
 * Answers an agent can act on without a retry (issue 19): a repeated `complete` is "already done",
 * `explain` names the limit that holds a due job (run slots, per project, an agent's
 * max_per_host) and the pause that holds it, and `pause` says what a bare name is. Real binary,
 * real daemon, real SQLite file.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { baton, envelope } from "./helpers/cli.js";
import { tempDir } from "./helpers/tmp.js";

function world(env: NodeJS.ProcessEnv = {}) {
  const home = tempDir("baton-answers-home-");
  const project = join(tempDir("baton-answers-proj-"), "p");
  mkdirSync(join(project, ".git"), { recursive: true });
  const run = (args: string[]) => baton(args, { home, cwd: project, env });
  const json = (args: string[]) => {
    const r = run([...args, "--json"]);
    return { code: r.code, env: envelope(r), stderr: r.stderr };
  };
  return { home, project, run, json };
}

const homes: string[] = [];
afterAll(() => {
  for (const home of homes) baton(["daemon", "stop"], { home });
});

describe("complete is idempotent for the agent that repeats it", () => {
  it("completing a succeeded task again answers already done (exit 0); fail after success stays a conflict", () => {
    const w = world();
    const id = w.json(["enqueue", "{}", "-n", "unit"]).env.data.jobs[0].id as string;
    const first = w.json(["complete", "unit", "-e", "done"]);
    expect(first.code).toBe(0);
    expect(first.env.data.completed).toEqual([{ id, state: "succeeded" }]);

    const again = w.json(["complete", "unit", "-e", "done"]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.env.ok).toBe(true);
    expect(again.env.data.completed).toEqual([{ id, state: "succeeded", alreadyDone: true }]);
    expect(w.run(["complete", id]).stdout).toContain("(already done)");

    // Evidence is not rewritten by the repeat: one completed event.
    const events = w.json(["audit"]).env.data.events as { kind: string; jobId?: string }[];
    expect(events.filter((e) => e.kind === "completed")).toHaveLength(1);

    const fail = w.json(["fail", id, "boom"]);
    expect(fail.code).toBe(4);
    expect(fail.env.error?.code).toBe("INVALID_TRANSITION");
    const skip = w.json(["skip", id]);
    expect(skip.code).not.toBe(0);
  });

  it("in a batch, an already succeeded item is marked, the others are done", () => {
    const w = world();
    const [a, b] = ["a", "b"].map((n) => w.json(["enqueue", "{}", "-n", n]).env.data.jobs[0].id as string);
    expect(w.json(["complete", a!]).code).toBe(0);
    const both = w.json(["complete", a!, b!]);
    expect(both.code).toBe(0);
    expect(both.env.data.completed).toEqual([
      { id: a, state: "succeeded", alreadyDone: true },
      { id: b, state: "succeeded" },
    ]);
    expect(both.env.data.errors).toEqual([]);
  });
});

describe("explain names what holds a due job", () => {
  it("a command held by BATON_MAX_RUNNING is waiting for a run slot, not 'ready; nothing has claimed it'", () => {
    const w = world({ BATON_MAX_RUNNING: "1" });
    homes.push(w.home);
    expect(w.run(["run", "-n", "first", "--", "sleep", "30"]).code).toBe(0);
    // Wait until the first holds the slot.
    for (let i = 0; i < 100; i++) {
      if (w.json(["show", "first"]).env.data.job.state === "running") break;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    }
    expect(w.run(["run", "-n", "second", "--", "sleep", "30"]).code).toBe(0);
    const r = w.json(["explain", "second"]);
    expect(r.code).toBe(0);
    expect(r.env.data.state).toBe("queued");
    const reasons = (r.env.data.reasons as string[]).join("\n");
    expect(reasons).toContain("waiting for a run slot: 1 of at most 1");
    expect(reasons).toContain("BATON_MAX_RUNNING");
    expect(reasons).not.toContain("nothing has claimed it");
    // status <id> gives the same reason.
    expect(w.json(["status", "second"]).env.data.waitingReason).toEqual(r.env.data.reasons);
    w.run(["stop", "first"]);
    w.run(["stop", "second"]);
  });

  it("a command behind a pause of its workflow or of everything says so", () => {
    const w = world();
    expect(w.run(["pause", "--all"]).code).toBe(0);
    expect(w.run(["run", "-n", "held", "--", "true"]).code).toBe(0);
    homes.push(w.home);
    expect(w.json(["explain", "held"]).env.data.reasons).toEqual(["everything is paused"]);
    expect(w.run(["unpause", "--all"]).code).toBe(0);
    expect(w.run(["pause", "-w", "wf"]).code).toBe(0);
    w.json(["enqueue", "{}", "-n", "t", "-w", "wf"]);
    expect(w.json(["explain", "t"]).env.data.reasons).toEqual(["workflow 'wf' is paused"]);
  });
});

describe("pause names its target explicitly", () => {
  it("a bare name is the workflow or type the ledger knows; unknown or both is refused with the flags to use", () => {
    const w = world();
    w.json(["enqueue", "{}", "-n", "a", "-w", "docs"]);
    w.json(["enqueue", "{}", "-n", "b", "-t", "lint"]);
    expect(w.json(["pause", "docs"]).env.data).toEqual({ paused: "workflow:docs", changed: true });
    expect(w.json(["pause", "lint"]).env.data).toEqual({ paused: "type:lint", changed: true });
    expect(w.json(["pause", "-w", "docs"]).env.data).toEqual({ paused: "workflow:docs", changed: false });
    expect(w.json(["unpause", "docs"]).env.data).toEqual({ unpaused: "workflow:docs", changed: true });

    const unknown = w.json(["pause", "nothing"]);
    expect(unknown.code).toBe(2);
    expect(unknown.env.error?.message).toContain("say --type nothing or --workflow nothing");
    expect(w.json(["pause", "--type", "nothing"]).env.data).toEqual({
      paused: "type:nothing",
      changed: true,
    });
    // Now that a pause names it, the bare name finds it.
    expect(w.json(["unpause", "nothing"]).env.data).toEqual({ unpaused: "type:nothing", changed: true });

    w.json(["enqueue", "{}", "-n", "c", "-t", "docs"]);
    const both = w.json(["pause", "docs"]);
    expect(both.code).toBe(2);
    expect(both.env.error?.message).toContain("names both a type and a workflow");

    const two = w.json(["pause", "-t", "x", "-w", "y"]);
    expect(two.code).toBe(2);
    expect(two.env.error?.code).toBe("USAGE");
  });
});
