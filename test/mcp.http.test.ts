/**
 * `baton mcp --http`: Streamable HTTP on 127.0.0.1, driven by the SDK's own client, and R-25 (DNS
 * rebinding and CSRF) checked with raw requests whose Host and Origin headers we control.
 */
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/client";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHttp } from "./helpers/mcp.js";

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

let child: ChildProcessWithoutNullStreams;
let url: URL;
let home: string;

/** One raw HTTP request to the server, with exactly the headers given (Host included). */
function raw(method: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port: Number(url.port), path: url.pathname, method, headers, setHost: false },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (text += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on("error", reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

const initialize = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "r25", version: "1" } },
});
const enqueue = JSON.stringify({
  jsonrpc: "2.0",
  id: 2,
  method: "tools/call",
  params: { name: "enqueue_task", arguments: { payload: { from: "attacker" }, project: "/tmp/r25" } },
});
/** Every raw request below carries the token: Host and Origin are checked on their own. */
let auth: { authorization: string };
let jsonHeaders: Record<string, string>;

const answers: Answer[] = [];
async function send(method: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  const answer = await raw(method, headers, body);
  answers.push(answer);
  return answer;
}

beforeAll(async () => {
  // One server for the file, so not tempDir() (removed after each test).
  home = mkdtempSync(join(tmpdir(), "baton-http-"));
  const started = await startHttp(home);
  child = started.child;
  url = started.url;
  auth = { authorization: `Bearer ${started.token}` };
  jsonHeaders = {
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    ...auth,
  };
});

/** The SDK's client with the token header, as a host configured with URL + token sends it. */
function transport(): StreamableHTTPClientTransport {
  return new StreamableHTTPClientTransport(url, { requestInit: { headers: auth } });
}

afterAll(async () => {
  if (child.exitCode === null) {
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
  }
  rmSync(home, { recursive: true, force: true });
});

describe("baton mcp --http", () => {
  it("serves the SDK client on 127.0.0.1", async () => {
    expect(url.hostname).toBe("127.0.0.1");
    const client = new Client({ name: "baton-test", version: "1.0.0" });
    await client.connect(transport());
    try {
      const tools = (await client.listTools()).tools.map((t) => t.name);
      expect(tools).toContain("enqueue_task");
      const result = await client.callTool({
        name: "enqueue_task",
        arguments: { project: home, payload: { n: 1 } },
      });
      expect(result.isError).toBeFalsy();
      const health = await client.callTool({ name: "health", arguments: {} });
      expect((health.structuredContent as { counts: Record<string, number> }).counts).toEqual({ queued: 1 });
    } finally {
      await client.close();
    }
  });

  it("refuses a ?tools= that is not default or full (400 INVALID_INPUT), as it refuses --tools", async () => {
    const answer = await fetch(`${url.href}?tools=bogus`, {
      method: "POST",
      headers: jsonHeaders,
      body: initialize,
    });
    expect(answer.status).toBe(400);
    const body = (await answer.json()) as { ok: boolean; error: { code: string; message: string } };
    expect(body).toMatchObject({ ok: false, error: { code: "INVALID_INPUT" } });
    expect(body.error.message).toMatch(/not 'bogus'/);
  });

  it("R-25 answers 403 to a foreign Host header (DNS rebinding)", async () => {
    const port = url.port;
    for (const host of [
      `evil.example:${port}`,
      "evil.example",
      `127.0.0.1.nip.io:${port}`,
      `localhost.evil.example:${port}`,
      "0.0.0.0",
    ]) {
      const answer = await send("POST", { ...jsonHeaders, host }, initialize);
      expect(answer.status, host).toBe(403);
      expect(answer.body).not.toContain("protocolVersion");
    }
    const get = await send("GET", { ...auth, host: `evil.example:${port}`, accept: "text/event-stream" });
    expect(get.status).toBe(403);
    // The loopback names are accepted.
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`]) {
      const answer = await send("POST", { ...jsonHeaders, host }, initialize);
      expect(answer.status, host).toBe(200);
    }
  });

  it("R-25 answers 403 to a mutating request with a foreign or null Origin (CSRF), and changes nothing", async () => {
    const host = `127.0.0.1:${url.port}`;
    for (const origin of [
      "https://evil.example",
      "http://evil.example:8080",
      "null",
      "file://",
      "http://127.0.0.1.evil.example",
    ]) {
      for (const body of [initialize, enqueue]) {
        const answer = await send("POST", { ...jsonHeaders, host, origin }, body);
        expect(answer.status, origin).toBe(403);
      }
      const del = await send("DELETE", { ...auth, host, origin });
      expect(del.status, origin).toBe(403);
      const options = await send("OPTIONS", {
        ...auth,
        host,
        origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type",
      });
      expect(options.status, origin).toBe(403);
    }
    // The server's own origin is allowed; no Origin at all (non-browser clients) is allowed.
    expect((await send("POST", { ...jsonHeaders, host, origin: `http://${host}` }, initialize)).status).toBe(
      200,
    );
    // Another loopback origin is another site (another port of this machine): refused.
    expect(
      (await send("POST", { ...jsonHeaders, host, origin: `http://localhost:${url.port}` }, initialize))
        .status,
    ).toBe(403);
    expect((await send("POST", { ...jsonHeaders, host }, initialize)).status).toBe(200);

    // The forged enqueues never reached the ledger.
    const client = new Client({ name: "baton-test", version: "1.0.0" });
    await client.connect(transport());
    try {
      const listed = await client.callTool({
        name: "list_tasks",
        arguments: { all: true, text: "attacker" },
      });
      expect((listed.structuredContent as { total: number }).total).toBe(0);
    } finally {
      await client.close();
    }
  });

  it("R-25 never answers Access-Control-Allow-Origin: *", async () => {
    const host = `127.0.0.1:${url.port}`;
    await send("OPTIONS", { host, origin: "http://localhost:3000", "access-control-request-method": "POST" });
    await send("GET", { host, accept: "text/event-stream" });
    expect(answers.length).toBeGreaterThan(20);
    for (const answer of answers) expect(answer.headers["access-control-allow-origin"]).not.toBe("*");
  });

  it("serves only /mcp (with its token; without it, nothing at all)", async () => {
    const get = (headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        const req = request(
          { host: "127.0.0.1", port: Number(url.port), path: "/", method: "GET", headers },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on("error", reject);
        req.end();
      });
    expect(await get(auth)).toBe(404);
    expect(await get({})).toBe(401);
  });

  it("the SDK client without the token gets 401 with WWW-Authenticate: Bearer and starts no OAuth flow", async () => {
    const seen: string[] = [];
    const recording: typeof fetch = (input, init) => {
      seen.push(String(input instanceof Request ? input.url : input));
      return fetch(input, init);
    };
    const client = new Client({ name: "baton-test", version: "1.0.0" });
    await expect(
      client.connect(new StreamableHTTPClientTransport(url, { fetch: recording })),
    ).rejects.toThrow(/401|unauthori[sz]ed/i);
    // Only /mcp was asked: no /.well-known/oauth-* discovery, no authorization server.
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((u) => new URL(u).pathname === "/mcp")).toBe(true);
    const host = `127.0.0.1:${url.port}`;
    const answer = await send(
      "POST",
      { host, "content-type": "application/json", accept: jsonHeaders.accept! },
      initialize,
    );
    expect(answer.status).toBe(401);
    expect(answer.headers["www-authenticate"]).toBe('Bearer realm="baton"');
    // A wrong token is the same 401.
    const wrong = await send(
      "POST",
      { ...jsonHeaders, host, authorization: "Bearer wrong-wrong-wrong-wrong" },
      initialize,
    );
    expect(wrong.status).toBe(401);
  });
});
