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
import type { AddressInfo, Socket } from "node:net";
import { createHash, createHmac, randomBytes } from "node:crypto";
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
  queryObject,
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
import { acceptsHtml, serveStatic, unauthorizedPage } from "./static.js";
import type { Tokens, TokenSource } from "./tokens.js";
import { fixedTokenSource } from "./tokens.js";
import type { Timer } from "../core/timer.js";
import { every } from "../core/timer.js";

/** How often a server looks at its token file for a rotation, ms (then cuts what the old tokens opened). */
export const TOKEN_CHECK_MS = 1000;

function digestOf(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("base64url");
}

/**
 * What authorised a connection's latest request: a token (kept as its digest) or a dashboard
 * session (its cookie value). Checked again when the tokens change, so a rotation closes what
 * the old ones opened.
 */
type Credential = { kind: "token"; digest: string } | { kind: "session"; value: string; endsAt: number };

/**
 * A dashboard session unused by its page this long ends, ms: its cookie carries when the page
 * last renewed it, and only a request with the session's key (the page's) renews it (D118's
 * sibling, docs/security.md). A cookie stolen without its key so reads the stream and logs for
 * 12 h at most, while an open dashboard, which renews every {@link SESSION_RENEW_MS}, goes on.
 */
export const SESSION_IDLE_MS = 12 * 60 * 60 * 1000;
/** A keyed request renews its session's cookie once the cookie is this old, ms. */
export const SESSION_RENEW_MS = 10 * 60 * 1000;

function mac(secret: string, text: string): string {
  return createHmac("sha256", secret).update(text, "utf8").digest("base64url");
}

/**
 * The dashboard's sessions (D83, D116): a page URL's `?token=` is traded for a session cookie,
 * `<nonce>.<stamp>.<mac>`, where the mac is an HMAC, keyed with the token, of this server's port,
 * the nonce and the stamp (when the page last renewed it; it ends {@link SESSION_IDLE_MS} later). The cookie is never the token and tells nothing about it, so the browser, which sends a
 * 127.0.0.1 cookie to every port of 127.0.0.1, never hands the token to another local server; it
 * works on this port only, and only while the token it was made from is current: `baton token
 * rotate` ends it, a restart of the server with the same token (`baton daemon restart`) does not,
 * so an open dashboard comes back by itself. The session's key (D109) is a second HMAC of the
 * nonce, which the cookie alone does not give.
 */
class Sessions {
  constructor(
    private readonly port: () => number,
    private readonly idleMs: number,
  ) {}

  /** A new session: the cookie's value and the key the page sends in {@link SESSION_HEADER} (D109). */
  create(token: string): { value: string; key: string } {
    const nonce = randomBytes(24).toString("base64url");
    return { value: this.cookie(token, nonce), key: this.keyOf(token, nonce) };
  }

  /** The cookie of session `nonce`, stamped now. */
  private cookie(token: string, nonce: string): string {
    const stamp = Date.now().toString(36);
    return `${nonce}.${stamp}.${this.cookieMac(token, nonce, stamp)}`;
  }

  /**
   * The session's mode while the token it was made from is still one of `current`'s, and whether
   * `key` (the request's {@link SESSION_HEADER}) is this session's key.
   */
  check(
    value: string,
    current: Tokens,
    serverReadOnly: boolean,
    key?: string,
  ): { readOnly: boolean; keyed: boolean; endsAt: number; renewed?: string } | undefined {
    const [nonce, stamp, given, ...rest] = value.length > 200 ? [] : value.split(".");
    if (nonce === undefined || stamp === undefined || given === undefined || rest.length > 0)
      return undefined;
    const endsAt = parseInt(stamp, 36) + this.idleMs;
    if (!(endsAt > Date.now())) return undefined; // its page has not renewed it for too long: ended
    const candidates = [
      [current.full, serverReadOnly],
      [current.readOnly, true],
    ] as const;
    for (const [token, readOnly] of candidates) {
      if (token === undefined || !tokenMatches(given, this.cookieMac(token, nonce, stamp))) continue;
      const keyed = key !== undefined && tokenMatches(key, this.keyOf(token, nonce));
      // Only the page (it holds the key) renews: a cookie taken without it is not kept alive.
      const renew = keyed && Date.now() - parseInt(stamp, 36) >= Math.min(SESSION_RENEW_MS, this.idleMs / 4);
      return { readOnly, keyed, endsAt, ...(renew ? { renewed: this.cookie(token, nonce) } : {}) };
    }
    return undefined; // made from a rotated token (or not by this server): ended
  }

  private cookieMac(token: string, nonce: string, stamp: string): string {
    return mac(token, `baton-session|${this.port()}|${nonce}|${stamp}`);
  }

  private keyOf(token: string, nonce: string): string {
    return mac(token, `baton-session-key|${this.port()}|${nonce}`);
  }
}

/**
 * The header a dashboard page sends its session's key in (D109). The page keeps the key in
 * `localStorage`, which is per origin (so per port: a page of another local server cannot read
 * it), and the server hands it out only in its answer to the request that carried the token.
 */
export const SESSION_HEADER = "x-baton-session";

/**
 * What the session cookie alone opens (D109): what a browser fetches without script, which can
 * send no header — pages and their files, the event stream (EventSource) and a log download (a
 * link). Every other `/api/` request, and every operation, also wants the session's key.
 */
export function cookieAloneOpens(method: string, path: string): boolean {
  if (method !== "GET" && method !== "HEAD") return false;
  if (!path.startsWith("/api/")) return true;
  return path === "/api/stream" || /^\/api\/jobs\/[^/]+\/log\/download$/.test(path);
}

/** A request's headers must arrive within this, ms (an idle new connection is closed then too). */
export const HEADERS_TIMEOUT_MS = 10_000;
/** A request's headers and body must arrive within this, ms (16 MiB on loopback takes well under). */
export const REQUEST_TIMEOUT_MS = 30_000;
/** A connection idle between requests is closed after this, ms. */
export const KEEP_ALIVE_TIMEOUT_MS = 5_000;
/**
 * How often Node looks for connections past their header or request deadline, ms. Node checks
 * these deadlines only on this interval (30 s by default), so a client trickling its headers
 * stayed connected 100 s under a 10 s limit: a half-second look keeps every limit within 0.5 s.
 */
export const LIMIT_CHECK_MS = 500;

/** The slow-client limits of a server, ms (tests shorten them; products use the defaults above). */
export interface HttpLimits {
  headersMs: number;
  requestMs: number;
  keepAliveMs: number;
}

/** Open connections a server holds at most (see {@link HttpServerOptions.maxConnections}, D110). */
export const MAX_CONNECTIONS = 256;

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
  /** Slow and idle client limits (default: HEADERS_TIMEOUT_MS, REQUEST_TIMEOUT_MS, KEEP_ALIVE_TIMEOUT_MS). */
  limits?: Partial<HttpLimits>;
  /** A dashboard session its page does not renew ends after this, ms (default {@link SESSION_IDLE_MS}; tests shorten it). */
  sessionIdleMs?: number;
  /**
   * Open connections at most (default {@link MAX_CONNECTIONS}). At the cap a new connection
   * closes the oldest one that has not made an authorised request yet, or is closed itself when
   * every open one has (D110).
   */
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

/** Whether `GET /api/<parts>` is a route of the API (the ones served below). */
function isReadRoute(parts: readonly string[]): boolean {
  const [first, , third, fourth] = parts;
  if (parts.length === 1)
    return ["ops", "openapi.json", "jobs", "events", "throughput", "stats"].includes(first!);
  if (first !== "jobs") return false;
  return (
    parts.length === 2 ||
    (parts.length === 3 && third === "log") ||
    (parts.length === 4 && third === "log" && fourth === "download")
  );
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

/** What a 401 asks for: the bearer token. */
const WWW_AUTHENTICATE = 'Bearer realm="baton"';

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
  if (check.status === 401) extra["www-authenticate"] = WWW_AUTHENTICATE;
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

/**
 * Why the server could not listen, as the error the caller can act on: a port another process
 * holds is PORT_IN_USE, a port this user may not bind PERMISSION_DENIED, an address this machine
 * does not have INVALID_INPUT; each names the address and the flag to change.
 */
export function listenError(error: Error, host: string, port: number): Error {
  const code = (error as NodeJS.ErrnoException).code ?? "";
  const where = `cannot listen on ${host.includes(":") ? `[${host}]` : host}:${port}`;
  const details = { host, port };
  switch (code) {
    case "EADDRINUSE":
      return new BatonError(
        "PORT_IN_USE",
        `${where}: port ${port} is in use by another process; pick another with --port (0 = any free port)`,
        { cause: error, details },
      );
    case "EACCES":
      return new BatonError(
        "PERMISSION_DENIED",
        `${where}: permission denied (ports below 1024 need root); pick another with --port (0 = any free port)`,
        { cause: error, details },
      );
    case "EADDRNOTAVAIL":
      return new InvalidInputError(`--host ${host}: not an address of this machine, so ${where}`, details);
    default:
      return error;
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

  type Auth =
    | { ok: false; reason?: "session-key" }
    | {
        ok: true;
        readOnly: boolean;
        setCookie?: string;
        sessionKey?: string;
        credential?: Credential;
        renewCookie?: string;
      };
  const sessionIdleMs = options.sessionIdleMs ?? SESSION_IDLE_MS;
  const sessions = new Sessions(() => port, sessionIdleMs);
  /** How often an open dashboard renews its session: well within the renewal age and the idle lifetime. */
  const sessionRenewMs = () => Math.min(SESSION_RENEW_MS, sessionIdleMs / 4) / 2;
  const sessionCookie = (value: string) => `${cookieName(port)}=${value}; HttpOnly; SameSite=Strict; Path=/`;

  /**
   * The token check; says whether the caller is read-only (the server is, or it showed the
   * read-only token), what authorised it and, with `?token=` on a page URL, the session cookie
   * to set.
   */
  function authorize(req: IncomingMessage, url: URL): Auth {
    if (source === undefined) return { ok: true, readOnly: serverReadOnly };
    const current = source.current();
    const token = current.full;
    const readOnlyToken = current.readOnly;
    const mcpRoute = url.pathname === MCP_ROUTE;
    // A token in the URL is accepted on dashboard pages only (then traded for a session cookie),
    // never on API or MCP routes, where it would end up in proxy and shell histories.
    const fromQuery =
      url.pathname.startsWith("/api/") || mcpRoute ? undefined : (url.searchParams.get("token") ?? undefined);
    const tokens = [
      [token, serverReadOnly],
      [readOnlyToken, true],
    ] as const;
    // The URL's token first: the link just opened decides (a read-only link demotes a browser).
    for (const [candidate, readOnly] of tokens) {
      if (candidate !== undefined && fromQuery !== undefined && tokenMatches(fromQuery, candidate)) {
        const session = sessions.create(candidate);
        return {
          ok: true,
          readOnly,
          setCookie: sessionCookie(session.value),
          sessionKey: session.key,
        };
      }
    }
    const bearer = bearerOf(req.headers.authorization);
    for (const [candidate, readOnly] of tokens) {
      if (candidate !== undefined && tokenMatches(bearer, candidate))
        return { ok: true, readOnly, credential: { kind: "token", digest: digestOf(candidate) } };
    }
    // The session cookie opens the dashboard and its API, not MCP (hosts send the bearer token).
    const cookie = mcpRoute ? undefined : readCookie(req.headers.cookie, cookieName(port));
    if (cookie !== undefined) {
      const header = req.headers[SESSION_HEADER];
      const key = typeof header === "string" ? header : undefined;
      const session = sessions.check(cookie, current, serverReadOnly, key);
      if (session !== undefined) {
        // A cookie can reach another local server (cookies ignore ports): alone it opens only
        // what a browser fetches without script; the rest wants the page's key too (D109).
        if (!session.keyed && !cookieAloneOpens(req.method ?? "GET", url.pathname))
          return { ok: false, reason: "session-key" };
        return {
          ok: true,
          readOnly: session.readOnly,
          credential: { kind: "session", value: cookie, endsAt: session.endsAt },
          ...(session.renewed === undefined ? {} : { renewCookie: sessionCookie(session.renewed) }),
        };
      }
    }
    return { ok: false };
  }

  /**
   * Every open connection in the order it came, and whether it has made an authorised request: at
   * the cap the oldest one that has not is closed for a newcomer (D110), so connections without
   * the token cannot lock out its holder (they used to fill the cap and hold it for the 10 s
   * header limit, and the owner's request was refused at once).
   */
  const connections = new Map<Socket, { authorised: boolean }>();
  const maxConnections = options.maxConnections ?? MAX_CONNECTIONS;

  /** What authorised each open connection's latest request (see {@link Credential}). */
  const credentials = new Map<Socket, Credential>();
  let lastTokens: Tokens | undefined;

  /** Is what authorised a connection still good under `current` (after a rotation: no)? */
  function stillValid(credential: Credential, current: Tokens): boolean {
    if (credential.kind === "session")
      return sessions.check(credential.value, current, serverReadOnly) !== undefined;
    return (
      credential.digest === digestOf(current.full) ||
      (current.readOnly !== undefined && credential.digest === digestOf(current.readOnly))
    );
  }

  /**
   * Look at the tokens; when they changed (`baton token rotate`), close every connection the old
   * ones authorised: event streams, MCP streams and idle keep-alive connections alike. Close too
   * the connections of a session that has ended unrenewed (a stream a stolen cookie opened).
   */
  function checkRotation(): void {
    if (source === undefined) return;
    const now = Date.now();
    for (const [socket, credential] of credentials) {
      if (credential.kind !== "session" || credential.endsAt > now) continue;
      credentials.delete(socket);
      socket.destroy();
    }
    let current: Tokens;
    try {
      current = source.current();
    } catch (error) {
      log(`tokens: ${toBatonError(error).message}`);
      return;
    }
    if (lastTokens === current) return;
    lastTokens = current;
    let cut = 0;
    for (const [socket, credential] of credentials) {
      if (stillValid(credential, current)) continue;
      credentials.delete(socket);
      socket.destroy();
      cut += 1;
    }
    if (cut > 0) log(`tokens rotated: closed ${cut} connection(s) opened with the old ones`);
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
      // The header a reconnecting EventSource sends, else `?after=` (a first connection's choice,
      // checked like every query); an error names the one that was used.
      const { after } = queryObject(url.searchParams, ["after"], "GET /api/stream", { after: 0 });
      const fromHeader = req.headers["last-event-id"];
      let last = typeof after === "number" ? after : undefined;
      if (fromHeader !== undefined) {
        last = fromHeader === "" ? undefined : Number(fromHeader);
        if (last !== undefined && !(Number.isSafeInteger(last) && last >= 0)) {
          throw new InvalidInputError(
            "GET /api/stream: the Last-Event-ID header must be an event id (a non-negative integer)",
            { issues: [{ path: "Last-Event-ID", message: "must be a non-negative integer" }] },
          );
        }
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
      queryObject(url.searchParams, [], `POST /api/ops/${name.slice(0, 100)}`);
      const body = await readJson(req, limit);
      if (body === null || typeof body !== "object" || Array.isArray(body)) {
        throw new InvalidInputError("the input must be a JSON object");
      }
      // `Idempotency-Key: <id>` is the call's request id (R-32): a repeat answers the first call.
      const key = req.headers["idempotency-key"];
      const called = typeof key === "string" ? { ...ctx, requestId: key } : ctx;
      send(res, 200, { ok: true, data: await callOperation(name, body, called, readOnly) });
      return;
    }
    if (path.startsWith("/api/")) {
      const parts = path.slice("/api/".length).split("/").map(decodeSegment);
      // A path that is no route is 404 whatever the method; 405 only for a route read with GET.
      if (!isReadRoute(parts))
        throw new BatonError("NOT_FOUND", `no route ${path.slice(0, 100)} (see docs/http.md)`);
      if (method !== "GET" && method !== "HEAD") {
        throw new MethodNotAllowed(`${path.slice(0, 100)} is read with GET`, "GET, HEAD");
      }
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
      if (parts.length === 1 && parts[0] === "ops") {
        queryObject(q, [], "GET /api/ops");
        data = describeOperations(readOnly);
      } else if (parts.length === 1 && parts[0] === "openapi.json") {
        queryObject(q, [], "GET /api/openapi.json");
        // The document itself, not in the {ok, data} envelope: OpenAPI tools read it as it is.
        send(res, 200, apiDocument());
        return;
      } else if (parts.length === 1 && parts[0] === "jobs") data = await listJobs(q, ctx);
      else if (parts.length === 2 && parts[0] === "jobs") data = await showJob(parts[1]!, q, ctx);
      else if (parts.length === 3 && parts[0] === "jobs" && parts[2] === "log")
        data = await readJobLog(parts[1]!, q, ctx);
      else if (parts.length === 1 && parts[0] === "events") data = await listEvents(q, ctx);
      else if (parts.length === 1 && parts[0] === "throughput") data = await throughput(q, ctx);
      else if (parts.length === 1 && parts[0] === "stats")
        data = { ...(await stats(q, ctx, options.project)), readOnly, sessionRenewMs: sessionRenewMs() };
      else throw new BatonError("NOT_FOUND", `no route ${path.slice(0, 100)} (see docs/http.md)`);
      send(res, 200, { ok: true, data });
      return;
    }
    if (method !== "GET" && method !== "HEAD")
      throw new MethodNotAllowed("the dashboard is read with GET", "GET, HEAD");
    serveStatic(res, path, options.project, COMMON_HEADERS, acceptsHtml(req.headers.accept));
  }

  const server: Server = createServer({ connectionsCheckingInterval: LIMIT_CHECK_MS }, (req, res) => {
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
    if (!url.pathname.startsWith("/api/") && url.pathname !== MCP_ROUTE) {
      // A page takes `?token=` once and nothing else, checked before the token is looked at:
      // `?token=A&token=B` is refused, not a silent pick of the first.
      try {
        queryObject(url.searchParams, ["token"], `GET ${url.pathname.slice(0, 100)}`);
      } catch (error) {
        req.resume();
        sendError(res, toBatonError(error));
        return;
      }
    }
    let auth: Auth;
    try {
      auth = authorize(req, url);
    } catch (error) {
      // The token file cannot be read: refuse (never serve without the token), and say why in the log.
      log(`tokens: ${toBatonError(error).message}`);
      auth = { ok: false };
    }
    if (!auth.ok && auth.reason === "session-key") {
      refuse(req, res, {
        ok: false,
        status: 403,
        code: "FORBIDDEN",
        message: `the dashboard cookie alone opens pages, the event stream and log downloads only: this request also needs the page's session key (${SESSION_HEADER} header), which the dashboard sends; open the link \`baton dashboard\` prints`,
      });
      return;
    }
    if (!auth.ok) {
      // A browser whose session ended (its token was rotated) is told how to get a new one;
      // everyone else how to send the token.
      const dashboard = url.pathname !== MCP_ROUTE;
      const staleSession = dashboard && readCookie(req.headers.cookie, cookieName(port)) !== undefined;
      if (dashboard && acceptsHtml(req.headers.accept)) {
        // A browser navigation (a reload, an old link) gets a page saying so, not raw JSON.
        const oldLink = !url.pathname.startsWith("/api/") && url.searchParams.has("token");
        const refusal = oldLink ? "old-link" : staleSession ? "session-ended" : "no-token";
        answerThenClose(req, res, () =>
          unauthorizedPage(res, refusal, {
            ...COMMON_HEADERS,
            connection: "close",
            "www-authenticate": WWW_AUTHENTICATE,
          }),
        );
        return;
      }
      refuse(req, res, {
        ok: false,
        status: 401,
        code: "UNAUTHORIZED",
        message: staleSession
          ? "this dashboard session has ended (its token was rotated, or its page was closed 12 h): open the link `baton dashboard` prints"
          : "this server wants its token: Authorization: Bearer <token> (`baton token show`)",
      });
      return;
    }
    const held = connections.get(req.socket);
    if (held !== undefined) held.authorised = true;
    if (auth.credential !== undefined) {
      const socket = req.socket;
      if (!credentials.has(socket)) socket.once("close", () => credentials.delete(socket));
      credentials.set(socket, auth.credential);
    }
    if (auth.setCookie !== undefined && req.method === "GET" && !url.pathname.startsWith("/api/")) {
      // Trade the token in the URL for a cookie at once, so it leaves the address bar and history.
      // The session's key rides in the fragment, which the browser keeps to itself: the page
      // moves it to localStorage and drops it from the address bar (dashboard/lib.js, D109). Only
      // this answer, to the request that showed the token, ever carries the key.
      req.resume();
      url.searchParams.delete("token");
      res.writeHead(303, {
        ...COMMON_HEADERS,
        "set-cookie": auth.setCookie,
        location: `${url.pathname}${url.search}#baton-session=${auth.sessionKey}`,
      });
      res.end();
      return;
    }
    if (auth.renewCookie !== undefined) res.setHeader("set-cookie", auth.renewCookie);
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
  server.on("clientError", (error: NodeJS.ErrnoException, socket) => {
    // A header or request deadline passed (Node's check, every LIMIT_CHECK_MS): 408, then closed.
    const status = error.code === "ERR_HTTP_REQUEST_TIMEOUT" ? "408 Request Timeout" : "400 Bad Request";
    if (
      socket.writable &&
      !(socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent
    )
      socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    else socket.destroy();
  });
  // Slow and idle clients (a request's headers, then its whole body, must arrive in time; the
  // timers bound receiving the request, not a long answer such as the event stream).
  // Node enforces the first two every LIMIT_CHECK_MS (set above), answering 408 and closing.
  server.headersTimeout = options.limits?.headersMs ?? HEADERS_TIMEOUT_MS;
  server.requestTimeout = options.limits?.requestMs ?? REQUEST_TIMEOUT_MS;
  server.keepAliveTimeout = options.limits?.keepAliveMs ?? KEEP_ALIVE_TIMEOUT_MS;
  // Not `server.maxConnections`: Node refuses the newcomer there, whoever holds the others.
  server.on("connection", (socket: Socket) => {
    if (connections.size >= maxConnections) {
      let oldest: Socket | undefined;
      for (const [open, state] of connections) {
        if (!state.authorised) {
          oldest = open;
          break;
        }
      }
      if (oldest === undefined) {
        socket.destroy(); // every open connection is an authorised client's: the newcomer waits
        return;
      }
      connections.delete(oldest);
      oldest.destroy();
    }
    connections.set(socket, { authorised: false });
    socket.once("close", () => connections.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", (error) => reject(listenError(error, host, options.port)));
    server.listen(options.port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  lastTokens = source?.current();
  const rotationCheck: Timer | undefined =
    source === undefined ? undefined : every(TOKEN_CHECK_MS, checkRotation, { unref: true });
  const shown = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}`,
    port,
    host,
    async close() {
      rotationCheck?.cancel();
      hub.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
