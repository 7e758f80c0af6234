/**
 * What an agent pays in context, measured on the wire as the SDK's client receives it (published in
 * docs/mcp.md): the default `tools/list` at most 10,000 characters, and the whole `resume_session`
 * result (text content plus structuredContent) for a 100-task workflow at most 6,000 characters at
 * the default budget.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./helpers/cli.js";
import { connectStdio } from "./helpers/mcp.js";
import { tempDir } from "./helpers/tmp.js";

describe("baton mcp: context cost", () => {
  it("tools/list of the default set ≤ 10,000 characters; resume_session of 100 tasks ≤ 6,000", async () => {
    const home = tempDir();
    const { client, close } = await connectStdio(home);
    try {
      const listed = JSON.stringify(await client.listTools()).length;
      await client.callTool({
        name: "enqueue_task",
        arguments: {
          cwd: home,
          workflow: "big",
          tasks: Array.from({ length: 100 }, (_, i) => ({
            name: `src/module${i}.ts`,
            payload: { file: `src/module${i}.ts` },
          })),
        },
      });
      const resumed = JSON.stringify(
        await client.callTool({ name: "resume_session", arguments: { cwd: home } }),
      ).length;
      process.stderr.write(
        `tools/list (default set): ${listed} chars; resume_session (100 tasks, default budget): ${resumed} chars\n`,
      );
      expect(listed).toBeLessThanOrEqual(10_000);
      expect(resumed).toBeLessThanOrEqual(6_000);
    } finally {
      await close();
    }
  });

  it("docs/mcp.md's table of the default tools says what tools/list advertises (readOnly, destructive, idempotent)", async () => {
    const home = tempDir();
    const { client, close } = await connectStdio(home);
    try {
      const { tools } = await client.listTools();
      const real = tools.map((t) => [
        t.name,
        String(t.annotations?.readOnlyHint ?? false),
        String(t.annotations?.destructiveHint ?? false),
        String(t.annotations?.idempotentHint ?? false),
      ]);
      const doc = readFileSync(join(ROOT, "docs", "mcp.md"), "utf8");
      const rows = [
        ...doc.matchAll(/^\| `([a-z_]+)` \| (true|false) \| (true|false) \| (true|false) \|/gm),
      ].map((m) => m.slice(1, 5));
      expect(rows).toEqual(real);
    } finally {
      await close();
    }
  });

  it("docs/mcp.md names every tool --tools full adds, and no other", async () => {
    const home = tempDir();
    const listed = async (args: string[]) => {
      const { client, close } = await connectStdio(home, args);
      try {
        return (await client.listTools()).tools.map((t) => t.name);
      } finally {
        await close();
      }
    };
    const defaults = new Set(await listed([]));
    const added = (await listed(["--tools", "full"])).filter((name) => !defaults.has(name));
    const doc = readFileSync(join(ROOT, "docs", "mcp.md"), "utf8");
    const start = doc.indexOf("`baton mcp --tools full` adds every other operation meant for agents");
    const end = doc.indexOf('Operations marked `agent: "none"`', start);
    expect(start).toBeGreaterThan(0);
    const documented = [...doc.slice(start, end).matchAll(/`([a-z_]+)`/g)].map((m) => m[1]!);
    expect([...new Set(documented)].sort()).toEqual(added.sort());
  });
});
