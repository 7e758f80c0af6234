/**
 * The HTTP API and the web dashboard, on `node:http` (no framework: a dozen routes, and the guards
 * must see every request before anything else does; see docs/decisions.md).
 *
 * Every request passes, in order: Host check, Origin check, token check (see guard.ts); then
 * `/api/...` JSON routes (api.ts), `/api/stream` (SSE, events.ts) or a dashboard file (static.ts).
 * Answers are `{"ok":true,"data":…}` or `{"ok":false,"error":{"code","message"}}` with the HTTP
 * status of the error code (src/core/errors.ts), exactly like the CLI's `--json` envelope.
 */
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { BatonError, ERROR_CODES, InvalidInputError, toBatonError } from "../core/errors.js";
import { errorBody } from "../ops/wire.js";
import { packageRoot } from "../store/sql-files.js";
import type { OpContext } from "../ops/operation.js";
import {
  callOperation,
  describeOperations,
  listEvents,
  listJobs,
  readJobLog,
  downloadJobLog,
  showJob,
  stats,
  throughput,
} from "./api.js";
import { EventHub } from "./events.js";
import { openApiDocument } from "./openapi.js";
import type { Check, GuardPolicy } from "./guard.js";
import {
  bearerOf,
  checkHost,
  checkOrigin,
  cookieName,
  guardPolicy,
  isLoopback,
  readCookie,
  tokenMatches,
} from "./guard.js";
import { serveStatic } from "./static.js";
import type { TokenSource } from "./tokens.js";
import { fixedTokenSource } from "./tokens.js";

/** A request's headers must arrive within this, ms. */
export const HEADERS_TIMEOUT_MS = 10_000;
/** A request's headers and body must arrive within this, ms (16 MiB on loopback takes well under). */
export const REQUEST_TIMEOUT_MS = 30_000;

/** Request bodies larger than this are refused with 413 (a 10,000-task enqueue fits easily). */
export const MAX_BODY_BYTES = 16 * 1024 * 1024;

export interface HttpServerOptions {
  /** The context every operation runs with (engine, actor "http", command host…). */
  context: OpContext;
  /** The project the dashboard is titled after (default: the context's cwd). */
  project: string;
  /** Address to bind: 127.0.0.1 by default. Anything but loopback needs a token. */
  host?: string;
  /** 0: any free port. */
  port: number;
  /**
   * Where the tokens come from, read at every request (so `baton token rotate` reaches a running
   * server): the home's token file (homeTokenSource) for every product surface (D42).
   */
  tokens?: TokenSource;
  /** A fixed full token (tests, BATON_HTTP_TOKEN); `tokens` wins when both are given. */
  token?: string;
  /**
   * A second token (needs `token`) whose bearer is served read-only: the same routes, but every
   * operation that changes the ledger answers 403 FORBIDDEN. The daemon-hosted dashboard hands it
   * out with `baton dashboard --read-only`.
   */
  readOnlyToken?: string;
  /** Serve MCP (Streamable HTTP) at `/mcp` behind the same Host, Origin and token checks. */
  mcp?: McpRoute;
  /** `mcp`: only `/mcp` (the stand-alone `baton mcp --http`); default: API, dashboard and `/mcp`. */
  routes?: "all" | "mcp";
  /** Open connections at most; more are closed at once (default 256). */
  maxConnections?: number;
  /** More Host names to accept (for a non-loopback bind reached by name). */
  allowedHosts?: readonly string[];
  /** Refuse every operation that changes the ledger (viewers). */
  readOnly?: boolean;
  maxBodyBytes?: number;
  /** How often the event stream looks for changes made by other processes, ms. */
  pollMs?: number;
  /** Diagnostics (never a token or a request body). */
  log?: (line: string) => void;
}

/** The `/mcp` route: handles one request (any method) after the guards passed. */
export interface McpRoute {
  handle(req: IncomingMessage, res: ServerResponse, options: { readOnly: boolean; url: URL }): Promise<void>;
}

export const MCP_ROUTE = "/mcp";

export interface HttpServing {
  /** `http://<host>:<port>` (no token). */
  url: string;
  port: number;
  host: string;
  close(): Promise<void>;
}

const COMMON_HEADERS = {
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
} as const;

function send(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...COMMON_HEADERS,
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    ...extra,
  });
  res.end(text);
}

export function sendError(res: ServerResponse, error: unknown, extra: Record<string, string> = {}): void {
  const body = errorBody(error);
  const allow: Record<string, string> = error instanceof MethodNotAllowed ? { allow: error.allow } : {};
  send(res, ERROR_CODES[body.code].http, { ok: false, error: body }, { ...allow, ...extra });
}

/** 405 with the methods the route takes (the `Allow` header). */
export class MethodNotAllowed extends BatonError {
  constructor(
    message: string,
    readonly allow: string,
  ) {
    super("METHOD_NOT_ALLOWED", message, { details: { allow } });
  }
}

/** How long a refused request's body may keep arriving before the answer is sent and the connection cut, ms. */
export const LINGER_MS = 1000;

/**
 * Answer a request that failed a guard (Host, Origin, token) and close its connection. The body is
 * drained, not used: a client that sent it whole gets the answer at once; one that trickles it gets
 * the answer after {@link LINGER_MS} and is disconnected (answering before the body is in would
 * reset the connection under a well-behaved client, and waiting longer would hold it open).
 */
function refuse(req: IncomingMessage, res: ServerResponse, check: Exclude<Check, { ok: true }>): void {
  const extra: Record<string, string> = { connection: "close" };
  // MCP clients read this as "a token is required" (not as an OAuth discovery: there is no
  // resource_metadata parameter to follow).
  if (check.status === 401) extra["www-authenticate"] = 'Bearer realm="baton"';
  answerThenClose(req, res, () => sendError(res, new BatonError(check.code, check.message), extra));
}

/** Drain the request, answer once it is in (or after {@link LINGER_MS}), then close the connection. */
function answerThenClose(req: IncomingMessage, res: ServerResponse, answer: () => void): void {
  let answered = false;
  const once = () => {
    if (answered) return;
    answered = true;
    clearTimeout(timer);
    answer();
    // `connection: close` ends the socket once the answer is written; a client that still sends
    // is cut for good shortly after.
    setTimeout(() => req.socket.destroy(), LINGER_MS).unref();
  };
  const timer = setTimeout(once, req.complete ? 0 : LINGER_MS);
  timer.unref();
  req.once("end", once);
  req.once("error", once);
  req.resume();
  if (req.complete) once();
}

class UnsupportedMediaType extends BatonError {
  constructor() {
    super("UNSUPPORTED_MEDIA_TYPE", "send the input as JSON with content-type: application/json");
  }
}

class BodyTooLarge extends BatonError {
  constructor(limit: number) {
    super("PAYLOAD_TOO_LARGE", `the request body is larger than ${limit} bytes`);
  }
}

/** Read a JSON body (empty: `{}`), refusing more than `limit` bytes without buffering them. */
function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  const declared = Number(req.headers["content-length"] ?? "0");
  if (declared > limit) return Promise.reject(new BodyTooLarge(limit));
  if (type !== "" && type !== "application/json") return Promise.reject(new UnsupportedMediaType());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on("data", (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        reject(new BodyTooLarge(limit));
        return;
      }
      chunks.push(chunk);
    });
    req.on("error", (error) => {
      if (!failed) reject(new InvalidInputError(`the request body could not be read: ${error.message}`));
      failed = true;
    });
    req.on("end", () => {
      if (failed) return;
      const text = Buffer.concat(chunks).toString("utf8");
      if (text.trim() === "") return resolve({});
      if (type !== "application/json") return reject(new UnsupportedMediaType());
      try {
        resolve(JSON.parse(text));
      } catch (error) {
        reject(new InvalidInputError(`the request body is not JSON: ${(error as Error).message}`));
      }
    });
  });
}

let document: unknown;

/** The OpenAPI document, built once per process (the catalogue does not change while it runs). */
function apiDocument(): unknown {
  if (document === undefined) {
    const pkg = JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as { version: string };
    document = openApiDocument(pkg.version);
  }
  return document;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new InvalidInputError("the URL is not validly percent-encoded");
  }
}

/** Start the server; resolves once it listens. */
export async function startHttpServer(options: HttpServerOptions): Promise<HttpServing> {
  const host = options.host ?? "127.0.0.1";
  const source: TokenSource | undefined =
    options.tokens ??
    (options.token === undefined ? undefined : fixedTokenSource(options.token, options.readOnlyToken));
  if (source === undefined && !isLoopback(host)) {
    throw new BatonError(
      "USAGE",
      `refusing to listen on ${host} without a token: set BATON_HTTP_TOKEN or pass --token-file (or bind 127.0.0.1)`,
    );
  }
  for (const t of source === undefined ? [] : Object.values(source.current())) {
    if (t !== undefined && (t.length < 16 || /\s/.test(t))) {
      throw new InvalidInputError("the HTTP token must be at least 16 characters without whitespace");
    }
  }
  if (
    options.readOnlyToken !== undefined &&
    (options.token === undefined || options.readOnlyToken === options.token)
  ) {
    throw new InvalidInputError("a read-only token needs a (different) full token next to it");
  }
  const mcpOnly = options.routes === "mcp";
  const policy: GuardPolicy = guardPolicy(host, options.allowedHosts);
  const limit = options.maxBodyBytes ?? MAX_BODY_BYTES;
  const serverReadOnly = options.readOnly === true;
  const ctx = options.context;
  const log = options.log ?? (() => undefined);
  const hub = new EventHub(ctx.engine, {
    ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
    onError: (e) => log(`event stream: ${e.message}`),
  });
  let port = 0;

  type Auth = { ok: false } | { ok: true; readOnly: boolean; setCookie?: string };

  /**
   * The token check; says whether the caller is read-only (the server is, or it showed the
   * read-only token) and, with `?token=` on a page URL, the cookie to set.
   */
  function authorize(req: IncomingMessage, url: URL): Auth {
    if (source === undefined) return { ok: true, readOnly: serverReadOnly };
    const current = source.current();
    const token = current.full;
    const readOnlyToken = current.readOnly;
    // A token in the URL is accepted on dashboard pages only (then traded for a cookie), never on
    // API or MCP routes, where it would end up in proxy and shell histories.
    const fromQuery =
      url.pathname.startsWith("/api/") || url.pathname === MCP_ROUTE
        ? undefined
        : (url.searchParams.get("token") ?? undefined);
    const tokens = [
      [token, serverReadOnly],
      [readOnlyToken, true],
    ] as const;
    // The URL's token first: the link just opened decides (a read-only link demotes a browser).
    for (const [candidate, readOnly] of tokens) {
      if (candidate !== undefined && fromQuery !== undefined && tokenMatches(fromQuery, candidate)) {
        return {
          ok: true,
          readOnly,
          setCookie: `${cookieName(port)}=${candidate}; HttpOnly; SameSite=Strict; Path=/`,
        };
      }
    }
    const given = [bearerOf(req.headers.authorization), readCookie(req.headers.cookie, cookieName(port))];
    for (const [candidate, readOnly] of tokens) {
      if (candidate !== undefined && given.some((g) => tokenMatches(g, candidate)))
        return { ok: true, readOnly };
    }
    return { ok: false };
  }

  async function route(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    readOnly: boolean,
  ): Promise<void> {
    const method = req.method ?? "GET";
    const path = url.pathname;
    if (path === MCP_ROUTE && options.mcp !== undefined) {
      await options.mcp.handle(req, res, { readOnly, url });
      return;
    }
    if (mcpOnly) throw new BatonError("NOT_FOUND", `MCP is served at ${MCP_ROUTE}`);
    if (path === "/api/stream") {
      if (method !== "GET") throw new MethodNotAllowed("the event stream is GET /api/stream", "GET");
      if (hub.size >= hub.maxClients) throw new BatonError("STORE_BUSY", "too many event streams are open");
      const header = req.headers["last-event-id"] ?? url.searchParams.get("after") ?? undefined;
      const last = header === undefined || header === "" ? undefined : Number(header);
      if (last !== undefined && !(Number.isSafeInteger(last) && last >= 0)) {
        throw new InvalidInputError("Last-Event-ID must be an event id (a non-negative integer)");
      }
      // Fix the starting point before the client can see the stream open: an event committed
      // after this belongs to the stream, one before it to what the client reads next.
      const from = last ?? (await hub.newestId());
      res.writeHead(200, {
        ...COMMON_HEADERS,
        "content-type": "text/event-stream; charset=utf-8",
        connection: "keep-alive",
      });
      await hub.attach(res, from);
      return;
    }
    if (path.startsWith("/api/ops/")) {
      if (method !== "POST") throw new MethodNotAllowed("operations are called with POST", "POST");
      const name = decodeSegment(path.slice("/api/ops/".length));
      const body = await readJson(req, limit);
      if (body === null || typeof body !== "object" || Array.isArray(body)) {
        throw new InvalidInputError("the input must be a JSON object");
      }
      // `Idempotency-Key: <id>` is the call's request id: a repeat answers the first call.
      const key = req.headers["idempotency-key"];
      const called = typeof key === "string" ? { ...ctx, requestId: key } : ctx;
      send(res, 200, { ok: true, data: await callOperation(name, body, called, readOnly) });
      return;
    }
    if (path.startsWith("/api/")) {
      if (method !== "GET" && method !== "HEAD") {
        throw new MethodNotAllowed(`${path.slice(0, 100)} is read with GET`, "GET, HEAD");
      }
      const parts = path.slice("/api/".length).split("/").map(decodeSegment);
      const q = url.searchParams;
      if (parts.length === 4 && parts[0] === "jobs" && parts[2] === "log" && parts[3] === "download") {
        await downloadJobLog(
          parts[1]!,
          q,
          ctx,
          (filename) =>
            res.writeHead(200, {
              ...COMMON_HEADERS,
              "content-type": "text/plain; charset=utf-8",
              "content-disposition": `attachment; filename="${filename}"`,
            }),
          (text) =>
            // False once the client went away: the download stops reading the log.
            new Promise<boolean>((resolve) => {
              if (res.destroyed) return resolve(false);
              if (res.write(text)) return resolve(true);
              const done = (more: boolean) => () => {
                res.off("drain", onDrain);
                res.off("close", onClose);
                resolve(more);
              };
              const onDrain = done(true);
              const onClose = done(false);
              res.once("drain", onDrain);
              res.once("close", onClose);
            }),
        );
        res.end();
        return;
      }
      let data: unknown;
      if (parts.length === 1 && parts[0] === "ops") data = describeOperations(readOnly);
      else if (parts.length === 1 && parts[0] === "openapi.json") {
        // The document itself, not in the {ok, data} envelope: OpenAPI tools read it as it is.
        send(res, 200, apiDocument());
        return;
      } else if (parts.length === 1 && parts[0] === "jobs") data = await listJobs(q, ctx);
      else if (parts.length === 2 && parts[0] === "jobs") data = await showJob(parts[1]!, ctx);
      else if (parts.length === 3 && parts[0] === "jobs" && parts[2] === "log")
        data = await readJobLog(parts[1]!, q, ctx);
      else if (parts.length === 1 && parts[0] === "events") data = await listEvents(q, ctx);
      else if (parts.length === 1 && parts[0] === "throughput") data = await throughput(q, ctx);
      else if (parts.length === 1 && parts[0] === "stats")
        data = { ...(await stats(q, ctx, options.project)), readOnly };
      else throw new BatonError("NOT_FOUND", `no route ${path.slice(0, 100)} (see docs/http.md)`);
      send(res, 200, { ok: true, data });
      return;
    }
    if (method !== "GET" && method !== "HEAD")
      throw new MethodNotAllowed("the dashboard is read with GET", "GET, HEAD");
    serveStatic(res, path, options.project, COMMON_HEADERS);
  }

  const server: Server = createServer((req, res) => {
    const hostCheck = checkHost(req.headers.host, policy);
    const originCheck = hostCheck.ok ? checkOrigin(req.headers.origin, req.headers.host) : hostCheck;
    if (!originCheck.ok) {
      refuse(req, res, originCheck);
      return;
    }
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://localhost");
    } catch {
      req.resume();
      sendError(res, new InvalidInputError("malformed request URL"));
      return;
    }
    let auth: Auth;
    try {
      auth = authorize(req, url);
    } catch (error) {
      // The token file cannot be read: refuse (never serve without the token), and say why in the log.
      log(`tokens: ${toBatonError(error).message}`);
      auth = { ok: false };
    }
    if (!auth.ok) {
      refuse(req, res, {
        ok: false,
        status: 401,
        code: "UNAUTHORIZED",
        message: "this server wants its token: Authorization: Bearer <token> (`baton token show`)",
      });
      return;
    }
    if (auth.setCookie !== undefined && req.method === "GET" && !url.pathname.startsWith("/api/")) {
      // Trade the token in the URL for a cookie at once, so it leaves the address bar and history.
      req.resume();
      url.searchParams.delete("token");
      res.writeHead(303, {
        ...COMMON_HEADERS,
        "set-cookie": auth.setCookie,
        location: `${url.pathname}${url.search}`,
      });
      res.end();
      return;
    }
    route(req, res, url, auth.readOnly).catch((error: unknown) => {
      const e = toBatonError(error);
      if (e.code === "INTERNAL") log(`${req.method} ${url.pathname}: ${e.message}`);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      // Do not read the rest of an oversize body: answer and close the connection.
      if (error instanceof BodyTooLarge) sendError(res, e, { connection: "close" });
      else if (error instanceof UnsupportedMediaType)
        answerThenClose(req, res, () => sendError(res, e, { connection: "close" }));
      else sendError(res, e);
    });
  });
  server.on("clientError", (_error, socket) => {
    if (socket.writable)
      socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
    else socket.destroy();
  });
  // Slow and idle clients (a request's headers, then its whole body, must arrive in time; the
  // timers bound receiving the request, not a long answer such as the event stream).
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.keepAliveTimeout = 5_000;
  server.maxConnections = options.maxConnections ?? 256;

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  const shown = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}`,
    port,
    host,
    async close() {
      hub.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
