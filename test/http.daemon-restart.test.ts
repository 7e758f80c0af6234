/**
 * Issue 16, "done when": a host configured once (URL + token) keeps connecting over HTTP across
 * `baton daemon restart`, and across a crash (kill -9) followed by any CLI call that starts the
 * next daemon. The daemon remembers that it served HTTP and serves it again on the same port with
 * the same token (D85), until `baton dashboard --stop`. Driven by the MCP SDK's own client.
 */
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { describe, expect, it } from "vitest";
import { request } from "./helpers/http.js";
import type { Home } from "./helpers/supervisor.js";
import { alive, cliJson, daemonPid, newHome, sleep, until } from "./helpers/supervisor.js";

/** What a host configured once does on each use: connect to the same URL with the same token, call a tool. */
async function useOnce(url: string, token: string, home: Home): Promise<number> {
  const client = new Client({ name: "configured-host", version: "1.0.0" });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  try {
    const result = await client.callTool({
      name: "enqueue_task",
      arguments: { project: home.dir, payload: { from: "host" } },
    });
    expect(result.isError).toBeFalsy();
    const health = await client.callTool({ name: "health", arguments: {} });
    return (health.structuredContent as { counts: Record<string, number> }).counts.queued ?? 0;
  } finally {
    await client.close();
  }
}

describe("the daemon serves HTTP again after a restart (D85)", () => {
  it("an MCP host configured once keeps connecting across `baton daemon restart` and kill -9", async () => {
    const home = newHome();
    const link = cliJson(home, ["dashboard", "--no-open"]) as { mcp: string; port: number };
    const token = cliJson(home, ["token", "show"]).token as string;
    expect(await useOnce(link.mcp, token, home)).toBe(1);

    // A restart: the dashboard, the API and /mcp are back when the command returns.
    const before = daemonPid(home);
    cliJson(home, ["daemon", "restart"]);
    expect(daemonPid(home)).not.toBe(before);
    // The CLI ran synchronously: let this process see the old server's FIN on its pooled
    // keep-alive connection before fetch picks it (a host started anew has no such connection).
    await sleep(200);
    expect(await useOnce(link.mcp, token, home)).toBe(2);
    const api = await request(`http://127.0.0.1:${link.port}/api/jobs`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(api.status).toBe(200);

    // A crash: kill -9, then the next call that needs the daemon (here `baton run`) starts the
    // next one, which serves HTTP again.
    const pid = daemonPid(home)!;
    process.kill(pid, "SIGKILL");
    await until("the daemon to die", () => !alive(pid));
    cliJson(home, ["run", "--wait", "--", "true"]);
    expect(daemonPid(home)).not.toBe(pid);
    await sleep(200);
    expect(await useOnce(link.mcp, token, home)).toBe(3);
    expect(cliJson(home, ["daemon", "status"]).dashboard).toBe(`http://127.0.0.1:${link.port}/`);
  });

  it("`baton dashboard --stop` stops serving, and the next daemon does not serve again", async () => {
    const home = newHome();
    const link = cliJson(home, ["dashboard", "--no-open"]) as { base: string; port: number };
    expect(cliJson(home, ["dashboard", "--stop"])).toEqual({ stopped: true });
    await expect(request(`${link.base}api/jobs`)).rejects.toThrow(/ECONNREFUSED/);
    cliJson(home, ["daemon", "restart"]);
    await sleep(300);
    await expect(request(`${link.base}api/jobs`)).rejects.toThrow(/ECONNREFUSED/);
    expect(cliJson(home, ["daemon", "status"]).dashboard).toBeUndefined();
    // `baton dashboard` turns it on again, on the remembered port.
    const again = cliJson(home, ["dashboard", "--no-open"]) as { port: number; started: boolean };
    expect(again.started).toBe(true);
    expect(again.port).toBe(link.port);
  });
});
