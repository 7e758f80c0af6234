/**
 * MCP over Streamable HTTP: the SDK's web-standard handler (`createMcpHandler`, both protocol eras)
 * adapted to `node:http`. It sits behind the HTTP server of src/http/server.ts, which checks Host,
 * Origin and the token first and bounds slow clients, for the daemon's `/mcp` and for
 * `baton mcp --http` alike (D42); no answer ever says `Access-Control-Allow-Origin`.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";
import type { JSONRPCRequest, McpServer, McpServerFactory } from "@modelcontextprotocol/server";
import { createMcpHandler, isJsonContentType } from "@modelcontextprotocol/server";
import { isTaskListen, serveTaskListen } from "./task-listen.js";
import { InvalidInputError } from "../core/errors.js";
import type { ContextSource, ToolSet } from "./tools.js";

/** Requests larger than this are refused (a 10,000-task batch fits easily). */
const MAX_BODY_BYTES = 16 * 1024 * 1024;
/** A comment line on an open task subscription's stream this often, so idle proxies keep it. */
const SSE_KEEP_ALIVE_MS = 15_000;

function refuse(res: ServerResponse, status: number, message: string): void {
  const body = JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32000, message } });
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

/**
 * The web-standard request the SDK serves, with as body: the request's own (`"stream"`, read by the
 * SDK), the text read here (`{ text }`), or none (`"none"`: read here and handed on parsed).
 */
function toWebRequest(
  req: IncomingMessage,
  host: string,
  body: "stream" | "none" | { text: string },
): Request {
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
    ...(!hasBody || body === "none"
      ? {}
      : body === "stream"
        ? { body: Readable.toWeb(req) as ReadableStream<Uint8Array>, duplex: "half" }
        : { body: body.text }),
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

/** A POST body as read here: parsed once, its text when it is not JSON, or too large. */
type Body = { tooLarge: true } | { tooLarge: false; parsed: unknown } | { tooLarge: false; text: string };

/**
 * Read a JSON POST body once, as the SDK's own reader does (`readRequestBody`): refused unread when
 * its Content-Length is over MAX_BODY_BYTES, the read stopped as soon as more arrived; the bytes are
 * decoded as they come and kept only until parsed. Empty or not JSON: the text, for the SDK to answer.
 */
async function readBody(req: IncomingMessage): Promise<Body> {
  if (Number(req.headers["content-length"]) > MAX_BODY_BYTES) return { tooLarge: true };
  const decoder = new TextDecoder();
  let size = 0;
  let text = "";
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return { tooLarge: true };
    text += decoder.decode(chunk as Buffer, { stream: true });
  }
  text += decoder.decode();
  if (text.length === 0) return { tooLarge: false, text };
  try {
    return { tooLarge: false, parsed: JSON.parse(text) };
  } catch {
    return { tooLarge: false, text };
  }
}

/** The answer to a body over MAX_BODY_BYTES, word for word the SDK's (413, -32000) on a body it reads. */
function refuseTooLarge(res: ServerResponse): void {
  // The rest of the body is not read: the connection closes after the answer.
  res.setHeader("connection", "close");
  refuse(res, 413, `Payload Too Large: Request body must not exceed ${MAX_BODY_BYTES} bytes`);
}

/** A task subscription (task-listen.ts) answered as the SSE stream Streamable HTTP gives a request. */
async function serveTaskListenSse(
  message: JSONRPCRequest,
  ctx: ContextSource,
  res: ServerResponse,
): Promise<void> {
  res.writeHead(200, {
    "content-type": "text/event-stream",
    "cache-control": "no-cache, no-transform",
    connection: "keep-alive",
  });
  const controller = new AbortController();
  res.once("close", () => controller.abort());
  const write = (frame: string) => {
    if (!res.writableEnded && !res.destroyed) res.write(frame);
  };
  const keepAlive = setInterval(() => write(": keepalive\n\n"), SSE_KEEP_ALIVE_MS);
  try {
    await serveTaskListen(
      message,
      ctx,
      async (out) => write(`event: message\ndata: ${JSON.stringify(out)}\n\n`),
      controller.signal,
    );
  } finally {
    clearInterval(keepAlive);
    if (!res.writableEnded) res.end();
  }
}

/** MCP over Streamable HTTP as a `node:http` request handler, for a server that did its own checks. */
export interface McpHttpHandler {
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  close(): Promise<void>;
}

/**
 * The SDK's handler adapted to `node:http`. The caller has checked Host, Origin (and a token);
 * used by `baton mcp --http` (src/mcp/server.ts) and by the daemon-hosted server (`/mcp`). With
 * `tasks` (a server that offers MCP tasks), a 2026-era `subscriptions/listen` naming `taskIds` is
 * served from the ledger here (task-listen.ts, D130) instead of by the SDK.
 */
export function mcpHttpHandler(
  factory: McpServerFactory,
  options: { onError?: (error: Error) => void; tasks?: ContextSource } = {},
): McpHttpHandler {
  const handler = createMcpHandler(factory, {
    legacy: "stateless",
    maxRequestBodySize: MAX_BODY_BYTES,
    ...(options.onError === undefined ? {} : { onerror: options.onError }),
  });
  return {
    async handle(req, res) {
      try {
        const host = req.headers.host!;
        // A task subscription is told from the JSON-RPC method, so a POST the SDK would read is read
        // here instead, once: the parsed body is handed on (`parsedBody`), never the bytes again.
        // Not JSON (by its content type): the SDK refuses it (415) without reading it.
        if (
          options.tasks !== undefined &&
          req.method === "POST" &&
          isJsonContentType(req.headers["content-type"])
        ) {
          const body = await readBody(req);
          if (body.tooLarge) return refuseTooLarge(res);
          if (!("parsed" in body)) {
            await writeWebResponse(await handler.fetch(toWebRequest(req, host, { text: body.text })), res);
            return;
          }
          if (isTaskListen(body.parsed)) {
            await serveTaskListenSse(body.parsed, options.tasks, res);
            return;
          }
          const answer = await handler.fetch(toWebRequest(req, host, "none"), { parsedBody: body.parsed });
          await writeWebResponse(answer, res);
          return;
        }
        await writeWebResponse(await handler.fetch(toWebRequest(req, host, "stream")), res);
      } catch (error) {
        options.onError?.(error instanceof Error ? error : new Error(String(error)));
        if (!res.headersSent) refuse(res, 500, "Internal error");
        else res.destroy();
      }
    },
    close: () => handler.close(),
  };
}

/** The `/mcp` route of the one HTTP server, with the handlers it made (closed with the server). */
export interface McpRouteHandlers {
  handle(req: IncomingMessage, res: ServerResponse, options: { readOnly: boolean; url: URL }): Promise<void>;
  close(): Promise<void>;
}

/** The `tools` query parameter's values, as `baton mcp --tools` takes them. */
const TOOL_SETS: readonly ToolSet[] = ["default", "full"];

/**
 * The tool set `/mcp?tools=` asks for (undefined: none asked). Any other value, or the parameter
 * given twice, is refused (`INVALID_INPUT`, 400) as `baton mcp` refuses a bad `--tools`: a typo
 * (`?tools=ful`) silently served the default set.
 */
export function requestedToolSet(url: URL): ToolSet | undefined {
  const given = url.searchParams.getAll("tools");
  if (given.length === 0) return undefined;
  const [value] = given;
  if (given.length > 1 || !TOOL_SETS.includes(value as ToolSet)) {
    const shown = given.map((v) => `'${v}'`).join(", ");
    throw new InvalidInputError(
      `/mcp?tools= takes one of ${TOOL_SETS.join(", ")} (as baton mcp --tools), not ${shown}`,
    );
  }
  return value as ToolSet;
}

/**
 * `/mcp` as the daemon's server and `baton serve` offer it: the default tool set, `?tools=full`
 * for the full one, only the read-only tools for a read-only caller (the read-only token or a
 * read-only server). One handler per (read-only?, tool set), made on first use.
 */
export function mcpRoute(
  factory: (options: { readOnly: boolean; tools: "default" | "full" }) => McpServer,
  options: { onError?: (error: Error) => void; tasks?: ContextSource } = {},
): McpRouteHandlers {
  const handlers = new Map<string, McpHttpHandler>();
  const handlerFor = (readOnly: boolean, tools: "default" | "full") => {
    const key = `${readOnly}:${tools}`;
    let handler = handlers.get(key);
    if (handler === undefined) {
      // Task subscriptions only where the server offers tasks: the full set, not read-only.
      const tasks = !readOnly && tools === "full" ? options.tasks : undefined;
      handler = mcpHttpHandler(() => factory({ readOnly, tools }), {
        ...(options.onError === undefined ? {} : { onError: options.onError }),
        ...(tasks === undefined ? {} : { tasks }),
      });
      handlers.set(key, handler);
    }
    return handler;
  };
  return {
    handle: (req, res, { readOnly, url }) =>
      handlerFor(readOnly, requestedToolSet(url) ?? "default").handle(req, res),
    close: async () => {
      await Promise.all([...handlers.values()].map((h) => h.close().catch(() => undefined)));
    },
  };
}
