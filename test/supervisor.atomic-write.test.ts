/**
 * Two processes replacing the same file of a job's run folder (a thin client that took over a call
 * while the daemon it gave up on still writes) never rename each other's temporary: each write uses
 * its own temporary name. Real child processes on the built library, one temp home.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./helpers/cli.js";
import { tempDir } from "./helpers/tmp.js";

const WRITER = `
const { saveEnv } = await import(${JSON.stringify(join(ROOT, "dist", "supervisor", "run-dir.js"))});
const [home, job, n, at] = process.argv.slice(1);
while (Date.now() < Number(at)); // start together
for (let i = 0; i < Number(n); i++) saveEnv(home, job, { WRITER: String(process.pid), I: String(i) });
`;

function writer(home: string, job: string, n: number, at: number): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ["--input-type=module", "-e", WRITER, home, job, String(n), String(at)],
      {
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolve({ code: code ?? -1, stderr }));
  });
}

describe("atomic writes in run folders", () => {
  it("concurrent writers of the same file all succeed and leave one whole file", async () => {
    const home = tempDir("baton-atomic-");
    const job = "01JTESTATOMICWRITE00000000";
    const at = Date.now() + 1500;
    const results = await Promise.all(Array.from({ length: 4 }, () => writer(home, job, 2000, at)));
    for (const r of results) expect(r.stderr).toBe("");
    expect(results.map((r) => r.code)).toEqual([0, 0, 0, 0]);
    const env = JSON.parse(readFileSync(join(home, "runs", job, "env"), "utf8")) as { I: string };
    expect(env.I).toBe("1999");
  }, 60_000);
});
