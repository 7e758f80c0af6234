/**
 * The real agent host programs (Claude Code, Codex, Gemini CLI, opencode), installed from npm once
 * per machine into a cache folder under the temp dir. They read their MCP config without a model
 * (`<host> mcp list`), which is how tests check that a host's own parser accepts what baton wrote.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Pinned so a host's new release cannot change a test's meaning unnoticed. */
export const HOST_CLI_VERSIONS = {
  "@anthropic-ai/claude-code": "2.1.197",
  "@openai/codex": "0.171.0",
  "@google/gemini-cli": "0.61.0",
  "opencode-ai": "1.18.33",
} as const;

export type HostProgram = "claude" | "codex" | "gemini" | "opencode";

const DIR = join(tmpdir(), "baton-host-clis-v1");

/** Install the host programs (time-boxed) and return the folder holding their executables. */
export function installHostClis(timeoutMs = 400_000): string {
  const bin = join(DIR, "node_modules", ".bin");
  const programs: HostProgram[] = ["claude", "codex", "gemini", "opencode"];
  if (programs.every((p) => existsSync(join(bin, p)))) return bin;
  mkdirSync(DIR, { recursive: true });
  writeFileSync(
    join(DIR, "package.json"),
    JSON.stringify({ name: "baton-host-clis", private: true, dependencies: HOST_CLI_VERSIONS }),
  );
  const result = spawnSync("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], {
    cwd: DIR,
    encoding: "utf8",
    timeout: timeoutMs,
  });
  if (result.status !== 0 || !programs.every((p) => existsSync(join(bin, p)))) {
    throw new Error(`npm install of the host CLIs failed: ${result.error?.message ?? ""} ${result.stderr}`);
  }
  return bin;
}

/** Run `<program> args…` with HOME (and the rest of `env`) as given; output without colours. */
export function runHost(
  bin: string,
  program: HostProgram,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number },
): { code: number; out: string; stdout: string } {
  const result = spawnSync(join(bin, program), args, {
    cwd: options.cwd,
    env: { ...options.env, NO_COLOR: "1", CI: "1" },
    encoding: "utf8",
    timeout: options.timeoutMs ?? 90_000,
  });
  const plain = (text: string | null) => (text ?? "").replace(/\u001b\[[0-9;]*m/g, "");
  return {
    code: result.status ?? -1,
    out: plain(result.stdout) + plain(result.stderr),
    stdout: plain(result.stdout),
  };
}
