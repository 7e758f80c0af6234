/**
 * A task run whose process cannot be started (its working directory is gone, or its environment is
 * over the kernel's limit: E2BIG) ends like any failed run: on_failure and on_complete run, its
 * notifications are delivered, and `settled` is its last event; the error says why. What can be
 * known before queueing (a missing cwd, inputs too large together) is refused before anything runs.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { project } from "./helpers/tasks.js";
import { cli, cliAsync, eventRows, newHome } from "./helpers/supervisor.js";

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** A real webhook receiver on 127.0.0.1. */
async function receiver(): Promise<{ url: string; bodies: string[] }> {
  const bodies: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      bodies.push(Buffer.concat(chunks).toString("utf8"));
      res.end("ok");
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, bodies };
}

const SETTLE = [
  '    on_failure: [\'echo "$BATON_STATUS" > "$HOOK_DIR/failure-hook.txt"\']',
  "    on_complete: ['echo done > \"$HOOK_DIR/complete-hook.txt\"']",
  "    notify:",
  "      on: [failure]",
  "      webhook: { url_env: TEST_HOOK_URL }",
];

function expectSettled(home: ReturnType<typeof newHome>, jobId: string, hookDir: string): void {
  expect(readFileSync(join(hookDir, "failure-hook.txt"), "utf8").trim()).toBe("failed");
  expect(readFileSync(join(hookDir, "complete-hook.txt"), "utf8").trim()).toBe("done");
  const events = eventRows(home).filter((e) => e.job_id === jobId);
  expect(events.filter((e) => e.kind === "hook")).toHaveLength(2);
  expect(events.filter((e) => e.kind === "notification").map((e) => JSON.parse(e.details!).ok)).toEqual([
    true,
  ]);
  expect(events[events.length - 1]!.kind).toBe("settled");
}

describe("a task run that cannot start settles like any failed run", () => {
  it("a working directory removed before a retry: hooks, webhook, settled; the error names it", async () => {
    const home = newHome();
    const hooks = project("");
    const hook = await receiver();
    const dir = project(
      [
        "tasks:",
        "  gone:",
        "    cwd: sub",
        // The first attempt removes its own working directory and fails; the retry cannot start.
        '    command: "cd .. && rmdir sub && exit 1"',
        "    retry: { attempts: 2, base: 100ms }",
        ...SETTLE,
      ].join("\n"),
    );
    mkdirSync(join(dir, "sub"));
    const r = await cliAsync(home, ["task", "run", "gone", "--json"], {
      cwd: dir,
      env: { TEST_HOOK_URL: hook.url, HOOK_DIR: hooks },
    });
    expect(existsSync(join(dir, "sub"))).toBe(false);
    const out = JSON.parse(r.stdout);
    const data = out.ok ? out.data : out.error.details;
    expect(data.state, r.stdout).toBe("failed");
    expect(data.error).toContain(`the working directory ${join(dir, "sub")} does not exist`);
    expectSettled(home, data.id, hooks);
    expect(hook.bodies).toHaveLength(1);
    expect(hook.bodies[0]).toContain("does not exist");
  });

  it("an argument over the kernel's limit (E2BIG): hooks, webhook, settled; the error says too large", async () => {
    const home = newHome();
    const hooks = project("");
    const hook = await receiver();
    const dir = project(
      [
        "tasks:",
        "  huge:",
        // One argument over the kernel's 128 KiB limit of a single string.
        `    command: [echo, ${"x".repeat(140_000)}]`,
        ...SETTLE,
      ].join("\n"),
    );
    const r = await cliAsync(home, ["task", "run", "huge", "--json"], {
      cwd: dir,
      env: { TEST_HOOK_URL: hook.url, HOOK_DIR: hooks },
    });
    const out = JSON.parse(r.stdout);
    const data = out.ok ? out.data : out.error.details;
    expect(data.state, r.stdout).toBe("failed");
    expect(data.error).toContain("too large together for the system (E2BIG)");
    expectSettled(home, data.id, hooks);
    expect(hook.bodies).toHaveLength(1);
  });

  it("refuses before queueing a cwd that does not exist and inputs too large together", () => {
    const home = newHome();
    const dir = project(
      [
        "tasks:",
        "  nowhere:",
        "    cwd: missing-dir",
        "    command: [echo, hi]",
        "  three:",
        "    command: [echo, '{{a}}']",
        "    inputs: { a: { type: string }, b: { type: string }, c: { type: string } }",
      ].join("\n"),
    );
    const cwd = cli(home, ["task", "run", "nowhere", "--json"], { cwd: dir });
    expect(cwd.code).toBe(2);
    const error = JSON.parse(cwd.stdout).error;
    expect(error.code).toBe("INVALID_INPUT");
    expect(error.message).toContain("tasks.nowhere.cwd");
    expect(error.message).toContain(join(dir, "missing-dir"));
    const big = "y".repeat(60_000);
    const inputs = cli(
      home,
      ["task", "run", "three", "--input", `a=${big}`, "--input", `b=${big}`, "--input", `c=${big}`, "--json"],
      { cwd: dir },
    );
    expect(inputs.code).toBe(2);
    const e2 = JSON.parse(inputs.stdout).error;
    expect(e2.code).toBe("INVALID_INPUT");
    expect(e2.message).toContain("inputs of task 'three' are too large together");
    expect(e2.details.inputs).toEqual(["a", "b", "c"]);
    // Nothing was queued.
    expect(
      existsSync(join(home.dir, "baton.db")) ? eventRows(home).filter((e) => e.kind === "settled") : [],
    ).toEqual([]);
  });
});
