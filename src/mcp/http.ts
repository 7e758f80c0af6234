/**
 * MCP over Streamable HTTP: the SDK's web-standard handler (`createMcpHandler`, both protocol eras)
 * adapted to `node:http`. It sits behind the HTTP server of src/http/server.ts, which checks Host,
 * Origin and the token first and bounds slow clients, for the daemon's `/mcp` and for
 * `baton mcp --http` alike (D42); no answer ever says `Access-Control-Allow-Origin`.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";
import type { McpServerFactory } from "@modelcontextprotocol/server";
import { createMcpHandler } from "@modelcontextprotocol/server";

/** Requests larger than this are refused (a 10,000-task batch fits easily). */
const MAX_BODY_BYTES = 16 * 1024 * 1024;

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
 * used by `baton mcp --http` (src/mcp/server.ts) and by the daemon-hosted server (`/mcp`).
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
