/**
 * The task-capable `/mcp` handler (src/mcp/http.ts) reads a POST body itself, to tell a task
 * subscription (`subscriptions/listen` naming `taskIds`) from the rest: it reads it once and hands
 * the SDK the parsed body, not the bytes again (the SDK used to read and parse a second copy), and
 * it refuses a body over 16 MiB as the SDK does. In-process over a real SQLite ledger and a real
 * `node:http` server; the factory records the web request the SDK served.
 */
import type { AddressInfo } from "node:net";
import { connect } from "node:net";
import type { Server } from "node:http";
import { createServer } from "node:http";
import type { McpServerFactory } from "@modelcontextprotocol/server";
import { afterEach, describe, expect, it } from "vitest";
import { mcpHttpHandler } from "../src/mcp/http.js";
import type { McpHttpHandler } from "../src/mcp/http.js";
import { createMcpServer } from "../src/mcp/server.js";
import type { ContextSource } from "../src/mcp/tools.js";
import { openEngine } from "../src/open.js";
import { request } from "./helpers/http.js";
import { tempDir } from "./helpers/tmp.js";

const LIMIT = 16 * 1024 * 1024;
const HEADERS = { "content-type": "application/json", accept: "application/json, text/event-stream" };

interface Serving {
  url: string;
  port: number;
  /** The web requests the SDK served (the factory's `requestInfo`), one per request it took. */
  served: Request[];
  close(): Promise<void>;
}

const open: Serving[] = [];
afterEach(async () => {
  for (const serving of open.splice(0)) await serving.close();
});

/** `mcpHttpHandler` over a fresh ledger on 127.0.0.1, with task subscriptions (`tasks`) or without. */
async function serve(withTasks: boolean): Promise<Serving> {
  const home = tempDir("baton-mcp-body-");
  const opened = await openEngine({ home, actor: "mcp", durability: "normal" });
  const context = {
    engine: opened.engine,
    cwd: home,
    actor: "mcp",
    location: opened.store.location,
    env: process.env,
  };
  const source: ContextSource = async () => context;
  const served: Request[] = [];
  const factory: McpServerFactory = (ctx) => {
    if (ctx.requestInfo !== undefined) served.push(ctx.requestInfo);
    return createMcpServer(source, { tools: "full", version: "0.0.0-test" });
  };
  const handler: McpHttpHandler = mcpHttpHandler(factory, withTasks ? { tasks: source } : {});
  const server: Server = createServer((req, res) => void handler.handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const serving: Serving = {
    url: `http://127.0.0.1:${port}/mcp`,
    port,
    served,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await handler.close();
      await opened.store.close();
    },
  };
  open.push(serving);
  return serving;
}

/** The JSON-RPC message of an answer, sent as JSON or as one SSE `data:` line. */
function messageOf(text: string): any {
  const data = /^data: (.*)$/m.exec(text)?.[1];
  return JSON.parse(data ?? text);
}

/** The body of a raw HTTP/1.1 answer (`content-length` or chunked), or undefined while it is incomplete. */
function bodyOf(head: string, rest: string): string | undefined {
  const length = /^content-length: (\d+)$/im.exec(head)?.[1];
  if (length !== undefined) return rest.length >= Number(length) ? rest.slice(0, Number(length)) : undefined;
  if (!rest.endsWith("0\r\n\r\n")) return undefined;
  let body = "";
  for (let at = 0; ;) {
    const eol = rest.indexOf("\r\n", at);
    const size = parseInt(rest.slice(at, eol), 16);
    if (size === 0) return body;
    body += rest.slice(eol + 2, eol + 2 + size);
    at = eol + 2 + size + 2;
  }
}

/**
 * Send a request head and `bodyBytes` bytes of body on a raw socket (chunked when no length is
 * declared), and read the answer: its status and body (the connection is then closed).
 */
function rawPost(
  port: number,
  declaredLength: number | undefined,
  bodyBytes: number,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let text = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within 20 s: ${text.slice(0, 200)}`));
    }, 20_000);
    socket.setEncoding("latin1");
    socket.on("error", () => undefined);
    socket.on("data", (d: string) => {
      text += d;
      const end = text.indexOf("\r\n\r\n");
      if (end < 0) return;
      const body = bodyOf(text.slice(0, end), text.slice(end + 4));
      if (body === undefined) return;
      clearTimeout(timer);
      socket.destroy();
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text: body });
    });
    const length =
      declaredLength === undefined ? "transfer-encoding: chunked" : `content-length: ${declaredLength}`;
    socket.write(
      `POST /mcp HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\ncontent-type: application/json\r\n` +
        `accept: application/json, text/event-stream\r\n${length}\r\n\r\n`,
    );
    const chunk = Buffer.alloc(1024 * 1024, "x");
    for (let sent = 0; sent < bodyBytes; sent += chunk.length) {
      const part = chunk.subarray(0, Math.min(chunk.length, bodyBytes - sent));
      if (declaredLength === undefined) socket.write(`${part.length.toString(16)}\r\n`);
      socket.write(part);
      if (declaredLength === undefined) socket.write("\r\n");
    }
  });
}

describe("the task-capable /mcp handler reads a POST body once", () => {
  it("a 6 MiB tools/call is served from the body parsed here: the SDK gets no bytes to read again", async () => {
    const serving = await serve(true);
    // Six tasks of ~1,000,000 characters each: over the SDK's own 4 MiB default, under 16 MiB.
    const tasks = Array.from({ length: 6 }, (_, i) => ({ payload: { i, text: "y".repeat(1_000_000) } }));
    const body = JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: { name: "enqueue_task", arguments: { tasks } },
    });
    expect(body.length).toBeGreaterThan(6_000_000);
    const answer = await request(serving.url, { method: "POST", headers: HEADERS, body });
    expect(answer.status).toBe(200);
    const message = messageOf(answer.text);
    expect(message.error).toBeUndefined();
    expect(message.result.isError).not.toBe(true);
    expect(message.result.structuredContent.jobs).toHaveLength(6);
    // The SDK served this request without a body of its own: it had the parsed one only.
    expect(serving.served).toHaveLength(1);
    expect(serving.served[0]!.body).toBeNull();
  }, 60_000);

  it("a body over 16 MiB is refused 413 as the SDK refuses it, declared or chunked, and nothing is served", async () => {
    const plain = await serve(false);
    const tasks = await serve(true);
    // Declared too large: refused before any of it is read (only 64 KiB of it is sent).
    const sdk = await rawPost(plain.port, LIMIT + 1, 64 * 1024);
    const declared = await rawPost(tasks.port, LIMIT + 1, 64 * 1024);
    expect(sdk.status).toBe(413);
    expect(declared.status).toBe(413);
    expect(JSON.parse(declared.text)).toEqual(JSON.parse(sdk.text));
    expect(JSON.parse(declared.text).error).toEqual({
      code: -32000,
      message: `Payload Too Large: Request body must not exceed ${LIMIT} bytes`,
    });
    // No length: read up to the limit, refused at the first byte past it.
    const chunked = await rawPost(tasks.port, undefined, LIMIT + 1);
    expect(chunked.status).toBe(413);
    expect(JSON.parse(chunked.text)).toEqual(JSON.parse(sdk.text));
    expect(tasks.served).toEqual([]);
  }, 60_000);

  it("a body that is not JSON still gets the SDK's own answers (parse error; 415 for another content type)", async () => {
    const serving = await serve(true);
    const broken = await request(serving.url, { method: "POST", headers: HEADERS, body: '{"jsonrpc":' });
    expect(broken.status).toBe(400);
    expect(messageOf(broken.text).error.code).toBe(-32700);
    const text = await request(serving.url, {
      method: "POST",
      headers: { ...HEADERS, "content-type": "text/plain" },
      body: "{}",
    });
    expect(text.status).toBe(415);
  }, 30_000);
});
