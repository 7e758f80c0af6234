/**
 * R-32 request ids from MCP callers (D50): a mutating tool takes an optional `request_id` argument
 * (derived from the catalogue for every tool that is not read-only), or the request's
 * `_meta["baton/request_id"]`; a repeat under the same id answers the first call and makes nothing new.
 */
import { describe, expect, it } from "vitest";
import { call, connectStdio, toolError } from "./helpers/mcp.js";
import { tempDir } from "./helpers/tmp.js";

describe("R-32 MCP request ids", () => {
  it("R-32 a repeated MCP call with the same request id (argument or _meta) returns the same answer and enqueues once", async () => {
    const home = tempDir();
    const { client, close } = await connectStdio(home);
    try {
      const args = { cwd: home, name: "once", request_id: "agent-step-1" };
      const first = await call(client, "enqueue_task", args);
      expect(first.isError).toBeFalsy();
      const again = await call(client, "enqueue_task", args);
      expect(again.data).toEqual(first.data);

      // The same through the request's _meta (hosts and scripts that build requests themselves).
      const viaMeta = () =>
        client.callTool({
          name: "enqueue_task",
          arguments: { cwd: home, name: "meta" },
          _meta: { "baton/request_id": "host-call-7" },
        });
      const metaFirst = (await viaMeta()) as { structuredContent?: unknown };
      expect((await viaMeta()) as { structuredContent?: unknown }).toMatchObject({
        structuredContent: metaFirst.structuredContent,
      });

      // Two different ids for one call (argument and _meta): refused, nothing enqueued (stranger
      // s18a: the argument won, _meta's id was dropped silently). The same id twice is one id.
      const both = (meta: string) =>
        client.callTool({
          name: "enqueue_task",
          arguments: { cwd: home, name: "both", request_id: "arg-id" },
          _meta: { "baton/request_id": meta },
        }) as Promise<{ isError?: boolean; content: { type: string; text: string }[] }>;
      const differ = await both("meta-id");
      expect(differ.isError).toBe(true);
      expect(differ.content[0]!.text).toContain("two different request ids");
      expect((await both("arg-id")).isError).toBeFalsy();

      const listed = await call(client, "list_tasks", { cwd: home });
      const names = (listed.data.jobs ?? listed.data.tasks ?? []).map((j: { name: string }) => j.name).sort();
      expect(names).toEqual(["both", "meta", "once"]);

      // A bad id is refused with the typed error; read-only tools do not advertise the argument.
      const bad = await call(client, "enqueue_task", { cwd: home, name: "x", request_id: "bad id!" });
      expect(toolError(bad).code).toBe("INVALID_INPUT");
      const tools = (await client.listTools()).tools;
      const props = (name: string) =>
        Object.keys(tools.find((t) => t.name === name)!.inputSchema.properties ?? {});
      expect(props("enqueue_task")).toContain("request_id");
      expect(props("complete_task")).toContain("request_id");
      expect(props("list_tasks")).not.toContain("request_id");
    } finally {
      await close();
    }
  });
});
