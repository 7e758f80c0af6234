/**
 * An outside client: the MCP Inspector's CLI (a dev dependency, pinned) lists baton's tools and
 * calls one, against the built `baton mcp`.
 *
 * Inspector 2.12.0 declares `node >= 22.19` but its CLI runs on Node 20 (checked on 20.20); if a
 * Node 20 release ever breaks it, this is the test that says so.
 */
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { BIN } from "./helpers/cli.js";
import { tempDir } from "./helpers/tmp.js";

const require = createRequire(import.meta.url);
const inspectorPackage = require.resolve("@modelcontextprotocol/inspector/package.json");
const inspector = join(
  dirname(inspectorPackage),
  (require(inspectorPackage) as { bin: Record<string, string> }).bin["mcp-inspector"]!,
);

function inspect(home: string, args: string[]): { code: number; json: any; stderr: string } {
  const result = spawnSync(
    process.execPath,
    [
      inspector,
      "--cli",
      "-e",
      `BATON_HOME=${home}`,
      process.execPath,
      BIN,
      "mcp",
      ...args,
      "--format",
      "json",
    ],
    { cwd: home, encoding: "utf8", timeout: 60_000, env: { ...process.env, BATON_HOME: home } },
  );
  let json: unknown;
  try {
    json = JSON.parse(result.stdout);
  } catch {
    json = undefined;
  }
  return { code: result.status ?? -1, json, stderr: `${result.stderr}\n${result.stdout}` };
}

describe("MCP Inspector CLI against baton mcp", () => {
  it("lists the default tools and calls health", () => {
    const home = tempDir();
    const listed = inspect(home, ["--method", "tools/list"]);
    expect(listed.code, listed.stderr).toBe(0);
    const names = (listed.json.result.tools as { name: string }[]).map((t) => t.name);
    expect(names).toEqual([
      "enqueue_task",
      "complete_task",
      "fail_task",
      "resume_session",
      "check_task",
      "list_tasks",
      "audit_log",
      "health",
    ]);
    for (const tool of listed.json.result.tools as { outputSchema?: unknown; annotations?: unknown }[]) {
      expect(tool.outputSchema).toBeDefined();
      expect(tool.annotations).toBeDefined();
    }

    const health = inspect(home, ["--method", "tools/call", "--tool-name", "health"]);
    expect(health.code, health.stderr).toBe(0);
    expect(health.json.result.structuredContent.ok).toBe(true);
    expect(health.json.result.structuredContent.store.location).toBe(join(home, "baton.db"));
  });
});
