import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";

export const ROOT = join(import.meta.dirname, "..", "..");
export const BIN = join(ROOT, "bin", "baton.js");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the built `baton` binary synchronously. */
export function baton(
  args: string[],
  options: { home: string; cwd?: string; input?: string; env?: NodeJS.ProcessEnv },
): CliResult {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? options.home,
    env: { ...process.env, ...options.env, BATON_HOME: options.home, NO_COLOR: "1" },
    input: options.input ?? "",
    encoding: "utf8",
    timeout: 60_000,
  });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** Run it asynchronously (for concurrency tests). */
export function batonAsync(
  args: string[],
  options: { home: string; cwd?: string; env?: NodeJS.ProcessEnv },
): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: options.cwd ?? options.home,
      env: { ...process.env, ...options.env, BATON_HOME: options.home, NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Parse the `--json` envelope, failing loudly if stdout is not exactly one JSON document. */
export function envelope(result: CliResult): {
  ok: boolean;
  data?: any;
  error?: { code: string; message: string };
} {
  return JSON.parse(result.stdout) as { ok: boolean; data?: any; error?: { code: string; message: string } };
}
