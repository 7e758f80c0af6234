/**
 * A worker that stops leaves nothing scheduled: a script that stops its worker and closes baton
 * ends as soon as it is done. `stop()` raced its running handlers against a 10 s grace timer and
 * never cancelled it, so such a script exited 10 s late. Measured with a real child process.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FixtureLibrary } from "./fixtures/library.js";
import { buildFixtureLibrary } from "./fixtures/library.js";
import { tempDir } from "./helpers/tmp.js";

const FIXTURE = join(import.meta.dirname, "fixtures", "worker-stop-exit.mjs");
let library: FixtureLibrary | undefined;

beforeAll(async () => {
  library = await buildFixtureLibrary("index.ts");
});
afterAll(() => library?.remove());

/** Run the script; resolve with how long after closing baton the process exited. */
function run(mode: string): Promise<{ code: number | null; stopMs: number; exitLagMs: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FIXTURE, library!.url, tempDir("bws-"), mode], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const killer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(killer);
      const exitedAt = Date.now();
      try {
        const report = JSON.parse(out) as { stopMs: number; closedAt: number };
        resolve({ code, stopMs: report.stopMs, exitLagMs: exitedAt - report.closedAt });
      } catch {
        reject(new Error(`the script printed no report (exit ${code}): ${out}`));
      }
    });
  });
}

describe("Worker.stop() leaves nothing scheduled", () => {
  it("a script that stops an idle worker and closes baton exits at once, not 10 s later", async () => {
    const { code, stopMs, exitLagMs } = await run("idle");
    expect(code).toBe(0);
    expect(stopMs).toBeLessThan(2000);
    expect(exitLagMs).toBeLessThan(2000);
  });

  it("stop() with a 10 s grace returns when the running handler does, and the script exits then", async () => {
    const { code, stopMs, exitLagMs } = await run("busy");
    expect(code).toBe(0);
    expect(stopMs).toBeLessThan(5000);
    expect(exitLagMs).toBeLessThan(2000);
  });
});
