/**
 * The checks every HTTP request passes before it reaches a route, as values (never exceptions):
 *
 * - Host (DNS rebinding, R-25): the Host header must name this server: a loopback name, the bound
 *   address, or a name the operator allowed. A page on `evil.example` that rebinds its name to
 *   127.0.0.1 sends `Host: evil.example` and gets 403.
 * - Origin (CSRF, R-25): a request that carries an Origin must come from this very origin; `null`
 *   (sandboxed frames, file: pages) is refused. No response ever grants CORS.
 * - Token: when the server has a token, every route wants it, as `Authorization: Bearer`, or
 *   once as `?token=` on a page URL, traded for the HttpOnly cookie of a session of this server
 *   (a random value, not the token: D83) that dashboard pages and `/api/` then accept.
 *   Compared in constant time; never logged, never echoed.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { isIP } from "node:net";

export type Check =
  { ok: true } | { ok: false; status: 401 | 403; code: "UNAUTHORIZED" | "FORBIDDEN"; message: string };

const LOOPBACK_NAMES = new Set(["localhost", "127.0.0.1", "::1"]);

/** True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost). */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "").toLowerCase();
  return (
    LOOPBACK_NAMES.has(bare) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare) || bare === "::ffff:127.0.0.1"
  );
}

/** True for "listen on every interface" addresses. */
export function isWildcard(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "");
  return bare === "0.0.0.0" || bare === "::";
}

/** The hostname part of a Host header (`[::1]:8080` → `::1`), or undefined when it is not one. */
export function hostnameOf(header: string): string | undefined {
  if (header.length === 0 || header.length > 300 || /[\s/\\@?#]/.test(header)) return undefined;
  try {
    const url = new URL(`http://${header}`);
    if (url.username !== "" || url.password !== "" || url.pathname !== "/") return undefined;
    return url.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  } catch {
    return undefined;
  }
}

export interface GuardPolicy {
  /** Names (besides loopback ones) the Host header may carry. */
  allowedHosts: ReadonlySet<string>;
  /** Accept any Host (a wildcard bind with a token: the token is the guard then). */
  anyHost: boolean;
}

/** Which Host names a server bound to `bindHost` accepts. */
export function guardPolicy(bindHost: string, extraHosts: readonly string[] = []): GuardPolicy {
  const allowed = new Set(extraHosts.map((h) => h.toLowerCase()));
  if (!isWildcard(bindHost) && !isLoopback(bindHost))
    allowed.add(bindHost.replace(/^\[|\]$/g, "").toLowerCase());
  return { allowedHosts: allowed, anyHost: isWildcard(bindHost) && extraHosts.length === 0 };
}

export function checkHost(header: string | undefined, policy: GuardPolicy): Check {
  const name = header === undefined ? undefined : hostnameOf(header);
  if (name === undefined)
    return { ok: false, status: 403, code: "FORBIDDEN", message: "missing or malformed Host header" };
  if (isLoopback(name) || policy.allowedHosts.has(name)) return { ok: true };
  // A wildcard bind without a list of names accepts IP literals only: a DNS name pointing here
  // could be a rebinding attack, an address typed by a person is not.
  if (policy.anyHost && isIP(name) !== 0) return { ok: true };
  return {
    ok: false,
    status: 403,
    code: "FORBIDDEN",
    message: `Host '${name.slice(0, 100)}' is not allowed`,
  };
}

/** An Origin, when present, must be this server's own origin (`http://<Host>`). */
export function checkOrigin(origin: string | undefined, host: string | undefined): Check {
  if (origin === undefined) return { ok: true };
  if (host !== undefined && origin.toLowerCase() === `http://${host.toLowerCase()}`) return { ok: true };
  return {
    ok: false,
    status: 403,
    code: "FORBIDDEN",
    message:
      origin === "null"
        ? "requests from an opaque (null) origin are refused"
        : "cross-origin requests are refused",
  };
}

function digest(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

/** Constant-time comparison (hashes first, so lengths never leak either). */
export function tokenMatches(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  return timingSafeEqual(digest(given), digest(expected));
}

/** A fresh random token (URL-safe, 256 bits). */
export function newToken(): string {
  return randomBytes(32).toString("base64url");
}

/**
 * The cookie of a dashboard session (never the token: a random value this server holds, D83); per
 * port in its name so two servers' cookies do not overwrite each other (cookies ignore ports).
 */
export function cookieName(port: number): string {
  return `baton_session_${port}`;
}

export function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function bearerOf(header: string | undefined): string | undefined {
  const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}
