import { spawn } from "node:child_process";

/**
 * Run `node <args>` and resolve with the JSON of the last line it prints. A non-zero exit still
 * resolves when there is a report (benchmark scripts exit 1 when a verdict fails; the test checks
 * its own); without one, rejects with what the process printed.
 */
export function jsonReport<T>(args: readonly string[], what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      const line = stdout.trim().split("\n").pop() ?? "";
      try {
        resolve(JSON.parse(line) as T);
      } catch {
        reject(new Error(`${what} exited ${code ?? signal} without a report: ${stderr}${stdout}`));
      }
    });
  });
}
