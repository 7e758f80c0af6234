/**
 * What an agent pays in context, measured on the wire as the SDK's client receives it (published in
 * docs/mcp.md): the default `tools/list` at most 10,000 characters, and the whole `resume_session`
 * result (text content plus structuredContent) for a 100-task workflow at most 6,000 characters at
 * the default budget.
 */
import { describe, expect, it } from "vitest";
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
});
