/**
 * `baton serve` is the same server as the daemon's (D42), `/mcp` included: the SDK's own client
 * connects with the home's token, lists the default tools (the full set with `?tools=full`, the
 * read-only ones with the read-only token), and calls one; without the token it is refused.
 */
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { spawn } from "node:child_process";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { afterEach, describe, expect, it } from "vitest";
import { BIN } from "./helpers/cli.js";
import type { Home } from "./helpers/supervisor.js";
import { cliJson, newHome } from "./helpers/supervisor.js";

const children: ChildProcessWithoutNullStreams[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode !== null) continue;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
  }
});

/** Start `baton serve --port 0 <args>` and answer its base URL once it listens. */
async function serve(home: Home, args: string[] = []): Promise<string> {
  const child = spawn(process.execPath, [BIN, "serve", "--port", "0", ...args], {
    env: { ...process.env, ...home.env, BATON_HOME: home.dir, BATON_DURABILITY: "normal" },
    cwd: home.dir,
  });
  children.push(child);
  child.stderr.resume();
  return new Promise<string>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`no URL within 20 s: ${out}`)), 20_000);
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /(http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
  });
}

async function connect(url: string, token: string | undefined): Promise<Client> {
  const client = new Client({ name: "serve-test", version: "1.0.0" });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), {
      requestInit: { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } },
    }),
  );
  return client;
}

describe("baton serve /mcp", () => {
  it("serves MCP to the SDK client with the home's token, like the daemon's /mcp", async () => {
    const home = newHome();
    const base = await serve(home);
    const full = cliJson(home, ["token", "show"]).token as string;
    const readOnly = cliJson(home, ["token", "show", "--read-only"]).token as string;

    const client = await connect(`${base}/mcp`, full);
    try {
      const tools = (await client.listTools()).tools.map((t) => t.name);
      expect(tools).toContain("enqueue_task");
      expect(tools).not.toContain("run_command");
      const result = await client.callTool({
        name: "enqueue_task",
        arguments: { project: home.dir, payload: { n: 1 } },
      });
      expect(result.isError).toBeFalsy();
      const health = await client.callTool({ name: "health", arguments: {} });
      expect((health.structuredContent as { counts: Record<string, number> }).counts).toEqual({ queued: 1 });
    } finally {
      await client.close();
    }

    const all = await connect(`${base}/mcp?tools=full`, full);
    try {
      expect((await all.listTools()).tools.map((t) => t.name)).toContain("run_command");
    } finally {
      await all.close();
    }

    const viewer = await connect(`${base}/mcp?tools=full`, readOnly);
    try {
      const tools = (await viewer.listTools()).tools.map((t) => t.name);
      expect(tools).toContain("health");
      expect(tools).not.toContain("enqueue_task");
      expect(tools).not.toContain("run_command");
    } finally {
      await viewer.close();
    }

    await expect(connect(`${base}/mcp`, undefined)).rejects.toThrow(/401|Unauthorized/i);
    await expect(connect(`${base}/mcp`, "wrong-token-0123456789abcdef")).rejects.toThrow(/401|Unauthorized/i);
  });

  it("a read-only server offers only the read-only tools, whatever the token", async () => {
    const home = newHome();
    const base = await serve(home, ["--read-only"]);
    const full = cliJson(home, ["token", "show"]).token as string;
    const client = await connect(`${base}/mcp?tools=full`, full);
    try {
      const tools = (await client.listTools()).tools.map((t) => t.name);
      expect(tools).toContain("health");
      expect(tools).not.toContain("enqueue_task");
    } finally {
      await client.close();
    }
  });

  it("refuses a ?tools= that is not default or full (400 INVALID_INPUT), as baton mcp refuses --tools", async () => {
    const home = newHome();
    const base = await serve(home);
    const full = cliJson(home, ["token", "show"]).token as string;
    for (const query of ["tools=bogus", "tools=ful", "tools=", "tools=full&tools=default"]) {
      const answer = await fetch(`${base}/mcp?${query}`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${full}`,
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
        },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
      });
      expect(answer.status, query).toBe(400);
      const body = (await answer.json()) as { ok: boolean; error: { code: string; message: string } };
      expect(body.ok).toBe(false);
      expect(body.error.code).toBe("INVALID_INPUT");
      expect(body.error.message).toMatch(/tools= takes one of default, full/);
    }
    // The valid ones still serve.
    const client = await connect(`${base}/mcp?tools=default`, full);
    await client.close();
  });
});
