/**
 * `baton dashboard`: the daemon hosts the HTTP API, the dashboard and MCP (`/mcp`), over real
 * processes: the built CLI, the daemon it starts, real HTTP. The link is stable while the daemon
 * lives, works once (token → cookie), read-only links are refused changes server-side, and the
 * server goes away with the daemon.
 */
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { request } from "./helpers/http.js";
import { cli, cliJson, newHome } from "./helpers/supervisor.js";

interface Link {
  url: string;
  base: string;
  port: number;
  mcp: string;
  readOnly: boolean;
  started: boolean;
  opened: boolean;
}

function tokenOf(link: Link): string {
  return new URL(link.url).searchParams.get("token")!;
}

const JSON_HEADERS = { "content-type": "application/json" };
const MCP_HEADERS = { "content-type": "application/json", accept: "application/json, text/event-stream" };

/** `tools/list` over the daemon's `/mcp`: the tool names, or the HTTP status when refused. */
async function mcpTools(link: Link, headers: Record<string, string>): Promise<string[] | number> {
  const answer = await request(link.mcp, {
    method: "POST",
    headers: { ...MCP_HEADERS, ...headers },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} }),
  });
  if (answer.status !== 200) return answer.status;
  const data = answer.text
    .split("\n")
    .filter((l) => l.startsWith("data: "))
    .map((l) => JSON.parse(l.slice(6)) as { result: { tools: { name: string }[] } });
  return data[0]!.result.tools.map((t) => t.name);
}

/** Is `port` on 127.0.0.1 taken by someone? */
function portTaken(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(true));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(false)));
  });
}

describe("baton dashboard (the daemon-hosted HTTP server)", () => {
  it("prints the same link twice; the link works once (token → cookie → API); no token is refused", async () => {
    const home = newHome();
    // Not a terminal: the link is printed, never opened, even with a browser configured.
    const marker = join(home.dir, "browser-was-run");
    const browser = join(home.dir, "browser.sh");
    writeFileSync(browser, `#!/bin/sh\ntouch ${marker}\n`, { mode: 0o700 });
    const first = cliJson(home, ["dashboard"], { env: { BROWSER: browser } }) as Link;
    const second = cliJson(home, ["dashboard", "--no-open"]) as Link;
    expect(first.started).toBe(true);
    expect(first.opened).toBe(false);
    expect(existsSync(marker)).toBe(false);
    expect(second).toMatchObject({ url: first.url, started: false, readOnly: false });
    expect(first.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{43}$/);
    expect(first.base).toBe(`http://127.0.0.1:${first.port}/`);
    const token = tokenOf(first);

    // The text form prints the same link.
    const text = cli(home, ["dashboard", "--no-open"]);
    expect(text.code).toBe(0);
    expect(text.stdout.split("\n")[0]).toBe(first.url);

    // Remembered in BATON_HOME, private: the port in dashboard.json, the tokens apart (D42).
    const info = JSON.parse(readFileSync(join(home.dir, "dashboard.json"), "utf8")) as Record<
      string,
      unknown
    >;
    expect(info).toMatchObject({ port: first.port });
    expect(JSON.stringify(info)).not.toContain(token);
    expect(statSync(join(home.dir, "dashboard.json")).mode & 0o777).toBe(0o600);
    const tokens = JSON.parse(readFileSync(join(home.dir, "http-tokens.json"), "utf8")) as Record<
      string,
      unknown
    >;
    expect(tokens).toMatchObject({ full: token });
    expect(statSync(join(home.dir, "http-tokens.json")).mode & 0o777).toBe(0o600);

    // The link: 303 to the page without the token, with an HttpOnly cookie and, in the fragment,
    // the session's key (D109): together they open the API.
    const page = await request(first.url);
    expect(page.status).toBe(303);
    const key = /^\/#baton-session=([\w-]{43})$/.exec(String(page.headers.location))?.[1];
    expect(key).toBeDefined();
    const setCookie = String(page.headers["set-cookie"]);
    expect(setCookie).toContain("HttpOnly");
    const cookie = setCookie.split(";")[0]!;
    expect((await request(`${first.base}`, { headers: { cookie } })).status).toBe(200);
    const enqueued = await request(`${first.base}api/ops/enqueue_task`, {
      method: "POST",
      headers: { ...JSON_HEADERS, cookie, "x-baton-session": key! },
      body: JSON.stringify({ payload: { file: "a.ts" }, workflow: "web", cwd: home.dir }),
    });
    expect(enqueued.status).toBe(200);
    const listed = await request(`${first.base}api/jobs?workflow=web`, {
      headers: { cookie, "x-baton-session": key! },
    });
    expect(listed.status).toBe(200);
    expect(listed.body.data.total).toBe(1);
    expect(cliJson(home, ["list", "--workflow", "web", "--all"]).jobs).toHaveLength(1);

    // Without the token: refused, pages and API alike; a wrong one too.
    for (const path of ["", "api/jobs", "api/stats", "mcp"]) {
      const refused = await request(`${first.base}${path}`);
      expect(refused.status).toBe(401);
      expect(refused.body.error.code).toBe("UNAUTHORIZED");
    }
    expect((await request(`${first.base}?token=${"x".repeat(43)}`)).status).toBe(401);
    // A foreign Host is refused before the token is looked at (DNS rebinding).
    const rebound = await request(`${first.base}api/jobs`, {
      headers: { authorization: `Bearer ${token}`, host: "evil.example" },
    });
    expect(rebound.status).toBe(403);

    // Status names the dashboard, never its token.
    const daemon = cliJson(home, ["daemon", "status"]);
    expect(daemon.dashboard).toBe(first.base);
    const status = cliJson(home, ["status"]);
    expect(status.daemon).toMatchObject({ running: true, dashboard: first.base });
    const statusText = cli(home, ["status"]).stdout;
    expect(statusText).toContain(`dashboard at ${first.base}`);
    for (const shown of [daemon, status, statusText, cli(home, ["daemon", "status"]).stdout])
      expect(JSON.stringify(shown)).not.toContain(token);

    // Once up, the port is fixed until the daemon restarts.
    const moved = cli(home, [
      "dashboard",
      "--no-open",
      "--port",
      String(first.port === 65_000 ? 65_001 : 65_000),
    ]);
    expect(moved.code).toBe(2);
    expect(moved.stderr).toContain(`already listens on port ${first.port}`);
  });

  it("a read-only link reads but is refused every change (API and MCP), by the server", async () => {
    const home = newHome();
    const full = cliJson(home, ["dashboard", "--no-open"]) as Link;
    const viewer = cliJson(home, ["dashboard", "--no-open", "--read-only"]) as Link;
    expect(viewer).toMatchObject({ base: full.base, readOnly: true, started: false });
    expect(tokenOf(viewer)).not.toBe(tokenOf(full));
    const ro = { authorization: `Bearer ${tokenOf(viewer)}` };
    const rw = { authorization: `Bearer ${tokenOf(full)}` };

    expect((await request(`${viewer.base}api/jobs`, { headers: ro })).status).toBe(200);
    expect((await request(`${viewer.base}api/stats`, { headers: ro })).body.data.readOnly).toBe(true);
    expect((await request(`${viewer.base}api/stats`, { headers: rw })).body.data.readOnly).toBe(false);
    for (const [op, input] of [
      ["enqueue_task", { payload: {}, cwd: home.dir }],
      ["pause", {}],
    ] as const) {
      const refused = await request(`${viewer.base}api/ops/${op}`, {
        method: "POST",
        headers: { ...JSON_HEADERS, ...ro },
        body: JSON.stringify(input),
      });
      expect(refused.status).toBe(403);
      expect(refused.body.error).toMatchObject({ code: "FORBIDDEN" });
      expect(refused.body.error.message).toContain("read-only");
    }
    expect(cliJson(home, ["list", "--all"]).jobs).toHaveLength(0);
    // The same link in a browser: the cookie it gets is the read-only token.
    const page = await request(viewer.url);
    const cookie = String(page.headers["set-cookie"]).split(";")[0]!;
    const key = /#baton-session=([\w-]+)$/.exec(String(page.headers.location))![1]!;
    const viaCookie = await request(`${viewer.base}api/ops/pause`, {
      method: "POST",
      headers: { ...JSON_HEADERS, cookie, "x-baton-session": key },
      body: "{}",
    });
    expect(viaCookie.status).toBe(403);
    expect(viaCookie.body.error.message).toContain("read-only");

    // MCP at /mcp: the same token; the read-only token sees read-only tools only.
    const tools = await mcpTools(full, rw);
    const readOnlyTools = await mcpTools(full, ro);
    expect(tools).toContain("enqueue_task");
    expect(tools).toContain("complete_task");
    expect(readOnlyTools).toContain("resume_session");
    expect(readOnlyTools).not.toContain("enqueue_task");
    expect(readOnlyTools).not.toContain("complete_task");
    expect(await mcpTools(full, {})).toBe(401);
    expect(await mcpTools(full, { ...rw, origin: "http://evil.example" })).toBe(403);
    expect(await mcpTools(full, { ...rw, host: "evil.example" })).toBe(403);
  });

  it("dies with the daemon; the next daemon serves the same port and the same tokens until rotated (D42)", async () => {
    const home = newHome();
    const first = cliJson(home, ["dashboard", "--no-open"]) as Link;
    const token = tokenOf(first);
    expect(cliJson(home, ["daemon", "stop"])).toEqual({ stopped: true });
    await expect(
      request(`${first.base}api/jobs`, { headers: { authorization: `Bearer ${token}` } }),
    ).rejects.toThrow(/ECONNREFUSED/);
    // The port is kept for the next daemon, which serves again (D85; no token in the file).
    expect(JSON.parse(readFileSync(join(home.dir, "dashboard.json"), "utf8"))).toEqual({
      port: first.port,
      serve: true,
      cwd: home.dir,
    });
    expect(cliJson(home, ["daemon", "status"]).dashboard).toBeUndefined();

    // The daemon this call starts is serving already (D85), so this call did not start the server.
    const next = cliJson(home, ["dashboard", "--no-open"]) as Link;
    expect(next.started).toBe(false);
    // A host configured once with URL + token keeps connecting: the same token.
    expect(tokenOf(next)).toBe(token);
    // The same port, unless someone else took it in between (then any free one).
    if (next.port !== first.port) expect(await portTaken(first.port)).toBe(true);
    const again = await request(`${next.base}api/jobs`, { headers: { authorization: `Bearer ${token}` } });
    expect(again.status).toBe(200);
    // Rotation reaches the running server at its next request: the old token is refused.
    const rotated = cliJson(home, ["token", "rotate"]) as { token: string };
    expect(rotated.token).not.toBe(token);
    const stale = await request(`${next.base}api/jobs`, { headers: { authorization: `Bearer ${token}` } });
    expect(stale.status).toBe(401);
    const fresh = await request(`${next.base}api/jobs`, {
      headers: { authorization: `Bearer ${rotated.token}` },
    });
    expect(fresh.status).toBe(200);
    expect((cliJson(home, ["dashboard", "--no-open"]) as Link).url).toContain(rotated.token);
  });

  it("a port in use is refused with PORT_IN_USE; nothing is left half-started", async () => {
    const home = newHome();
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const refused = cli(home, ["dashboard", "--no-open", "--port", String(port), "--json"]);
      expect(refused.code).toBe(4);
      expect(JSON.parse(refused.stdout).error).toMatchObject({ code: "PORT_IN_USE" });
      expect(JSON.parse(refused.stdout).error.message).toContain("in use");
      expect(cliJson(home, ["daemon", "status"]).dashboard).toBeUndefined();
      const link = cliJson(home, ["dashboard", "--no-open"]) as Link;
      expect(link.started).toBe(true);
      expect(link.port).not.toBe(port);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});
