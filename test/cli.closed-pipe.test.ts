/**
 * A reader that goes away (`baton logs <id> | head -c 200`): the CLI ends quietly with exit 0, no
 * EPIPE stack, whether the daemon served the call or it ran here, following or not.
 */
import { spawn, spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { BIN } from "./helpers/cli.js";
import { cliAsync, cliJson, newHome } from "./helpers/supervisor.js";
import type { Home } from "./helpers/supervisor.js";

const env = (home: Home, extra: Record<string, string> = {}) => ({
  ...process.env,
  ...home.env,
  ...extra,
  BATON_HOME: home.dir,
  NO_COLOR: "1",
});

/** `baton <args> | head -c 200` in a real shell: the exit code of baton and what it printed on stderr. */
function throughHead(home: Home, args: string[], extra: Record<string, string> = {}) {
  const quoted = [process.execPath, BIN, ...args].map((a) => `'${a}'`).join(" ");
  const result = spawnSync(
    "bash",
    ["-c", `${quoted} 2>"$0" | head -c 200 >/dev/null; echo "\${PIPESTATUS[0]}"`, `${home.dir}/stderr.txt`],
    {
      env: env(home, extra),
      cwd: home.dir,
      encoding: "utf8",
      timeout: 60_000,
    },
  );
  const stderr = spawnSync("cat", [`${home.dir}/stderr.txt`], { encoding: "utf8" }).stdout;
  return { code: Number(result.stdout.trim()), stderr };
}

/** Run `baton <args>` with its stdout pipe closed before it writes anything. */
function closedBeforeWrite(home: Home, args: string[], extra: Record<string, string> = {}) {
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: env(home, extra),
      cwd: home.dir,
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.destroy();
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code, signal) => resolve({ code, signal, stderr }));
  });
}

describe("CLI output to a closed pipe", () => {
  it("logs, logs -f, list and show end with exit 0 and no stack", { timeout: 120_000 }, async () => {
    const home = newHome();
    const { id } = cliJson(home, ["run", "--", "sh", "-c", "yes 0123456789abcdef | head -c 600000"]);
    expect((await cliAsync(home, ["wait", id])).code).toBe(0);
    for (let i = 0; i < 5; i++) cliJson(home, ["run", "--name", `echo-${i}`, "--", "echo", String(i)]);
    const modes: Record<string, string>[] = [{}, { BATON_DIRECT: "1" }];
    for (const extra of modes) {
      for (const args of [
        ["logs", id, "-n", "all"],
        ["logs", id, "-n", "all", "-f"],
      ]) {
        const piped = throughHead(home, args, extra);
        expect({ args, extra, ...piped }).toEqual({ args, extra, code: 0, stderr: "" });
      }
      for (const args of [
        ["logs", id, "-n", "all"],
        ["logs", id, "-f"],
        ["list"],
        ["show", id],
        ["list", "--json"],
      ]) {
        const closed = await closedBeforeWrite(home, args, extra);
        expect({ args, extra, ...closed }).toEqual({ args, extra, code: 0, signal: null, stderr: "" });
      }
    }
  });
});
