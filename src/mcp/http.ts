/**
 * MCP over Streamable HTTP on 127.0.0.1, guarded against DNS rebinding and cross-site requests
 * a Host header naming anything but this machine gets 403, so does a request carrying a
 * foreign or opaque (`null`) Origin, and no response ever says `Access-Control-Allow-Origin: *`.
 *
 * The SDK's web-standard handler (`createMcpHandler`) serves both protocol eras; this file only
 * adapts `node:http` to it and puts the checks in front.
 */
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import type { McpServerFactory } from "@modelcontextprotocol/server";
import {
  createMcpHandler,
  localhostAllowedHostnames,
  localhostAllowedOrigins,
  validateHostHeader,
  validateOriginHeader,
} from "@modelcontextprotocol/server";

export const MCP_PATH = "/mcp";
/** Requests larger than this are refused (a 10,000-task batch fits easily). */
const MAX_BODY_BYTES = 16 * 1024 * 1024;

export interface HttpServing {
  url: string;
  port: number;
  close(): Promise<void>;
}

export type GuardResult = { ok: true } | { ok: false; status: number; message: string };

/**
 * The checks every request passes before MCP sees it. An expected failure, returned as a value.
 * Every method is checked for Origin, not only mutating ones: nothing here is meant for browsers.
 */
export function guardRequest(headers: {
  host?: string | undefined;
  origin?: string | undefined;
}): GuardResult {
  const host = validateHostHeader(headers.host, localhostAllowedHostnames());
  if (!host.ok) return { ok: false, status: 403, message: `Forbidden: ${host.message}` };
  if (headers.origin !== undefined) {
    const origin = validateOriginHeader(headers.origin, localhostAllowedOrigins());
    if (!origin.ok) return { ok: false, status: 403, message: `Forbidden: ${origin.message}` };
  }
  return { ok: true };
}

function refuse(res: ServerResponse, status: number, message: string): void {
  const body = JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32000, message } });
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

function toWebRequest(req: IncomingMessage, host: string): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  const method = req.method ?? "GET";
  const hasBody = method !== "GET" && method !== "HEAD";
  const controller = new AbortController();
  req.once("close", () => {
    if (!req.complete) controller.abort();
  });
  return new Request(`http://${host}${req.url ?? "/"}`, {
    method,
    headers,
    signal: controller.signal,
    ...(hasBody ? { body: Readable.toWeb(req) as ReadableStream<Uint8Array>, duplex: "half" } : {}),
  });
}

async function writeWebResponse(response: Response, res: ServerResponse): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    // Never let a wildcard CORS grant through, whatever a library adds.
    if (name === "access-control-allow-origin") return;
    headers[name] = value;
  });
  res.writeHead(response.status, headers);
  if (response.body === null) {
    res.end();
    return;
  }
  const reader = response.body.getReader();
  res.once("close", () => {
    reader.cancel().catch(() => undefined);
  });
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    res.write(value);
  }
  res.end();
}

/** MCP over Streamable HTTP as a `node:http` request handler, for a server that did its own checks. */
export interface McpHttpHandler {
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  close(): Promise<void>;
}

/**
 * The SDK's handler adapted to `node:http`. The caller has checked Host, Origin (and a token);
 * used by `baton mcp --http` below and by the daemon-hosted dashboard server (`/mcp`).
 */
export function mcpHttpHandler(
  factory: McpServerFactory,
  options: { onError?: (error: Error) => void } = {},
): McpHttpHandler {
  const handler = createMcpHandler(factory, {
    legacy: "stateless",
    maxRequestBodySize: MAX_BODY_BYTES,
    ...(options.onError === undefined ? {} : { onerror: options.onError }),
  });
  return {
    async handle(req, res) {
      try {
        await writeWebResponse(await handler.fetch(toWebRequest(req, req.headers.host!)), res);
      } catch (error) {
        options.onError?.(error instanceof Error ? error : new Error(String(error)));
        if (!res.headersSent) refuse(res, 500, "Internal error");
        else res.destroy();
      }
    },
    close: () => handler.close(),
  };
}

/** Serve MCP at `http://127.0.0.1:<port>/mcp` (port 0: any free port). Never binds another interface. */
export async function serveHttp(
  factory: McpServerFactory,
  options: { port: number; onError?: (error: Error) => void },
): Promise<HttpServing> {
  const handler = mcpHttpHandler(factory, options);
  const server: Server = createServer((req, res) => {
    const guard = guardRequest({ host: req.headers.host, origin: req.headers.origin });
    if (!guard.ok) {
      req.resume();
      refuse(res, guard.status, guard.message);
      return;
    }
    const path = (req.url ?? "/").split("?")[0];
    if (path !== MCP_PATH) {
      req.resume();
      refuse(res, 404, `Not found: MCP is served at ${MCP_PATH}`);
      return;
    }
    void handler.handle(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}${MCP_PATH}`,
    port,
    async close() {
      await handler.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
