/**
 * The tokens of every network surface of one BATON_HOME (the daemon's HTTP server, `baton serve`,
 * `baton mcp --http`), kept in `<home>/http-tokens.json` (0600): a full token and a read-only one,
 * made on first use and the same until `baton token rotate` (D42). A host configured once with URL
 * and token keeps connecting across daemon restarts; servers that are up see a rotation at their
 * next request (the file is looked at again when it changed).
 */
import { closeSync, chmodSync, fstatSync, openSync, readFileSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import { BatonError } from "../core/errors.js";
import { checkOwnStat, ensurePrivateDir, replaceFile } from "../core/paths.js";
import { newToken } from "./guard.js";

export interface Tokens {
  /** Everything the surface offers. */
  full: string;
  /** Reads only: every operation that changes the ledger is refused. Absent for an explicit token. */
  readOnly?: string;
}

/** Where a server reads its tokens on each request (cheap: a stat, a read when the file changed). */
export interface TokenSource {
  current(): Tokens;
}

export function tokensPath(home: string): string {
  return join(home, "http-tokens.json");
}

function parse(text: string, path: string): Tokens {
  let value: { full?: unknown; readOnly?: unknown };
  try {
    value = JSON.parse(text) as typeof value;
  } catch {
    throw new BatonError("STORE_IO", `${path} is not JSON: run \`baton token rotate\` to make new tokens`);
  }
  if (typeof value.full !== "string" || typeof value.readOnly !== "string" || value.full.length < 16)
    throw new BatonError(
      "STORE_IO",
      `${path} holds no tokens: run \`baton token rotate\` to make new tokens`,
    );
  return { full: value.full, readOnly: value.readOnly };
}

function fresh(): string {
  return `${JSON.stringify({ full: newToken(), readOnly: newToken(), createdAt: new Date().toISOString() })}\n`;
}

/** Write `text` to a new 0600 file (O_EXCL: never through a planted file or symlink). */
function writeNew(path: string, text: string): void {
  const fd = openSync(path, "wx", 0o600);
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

/** Read this home's tokens, making them (0600) on first use. Two racing first users agree. */
export function loadTokens(home: string): Tokens {
  ensurePrivateDir(home);
  const path = tokensPath(home);
  try {
    writeNew(path, fresh());
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  const fd = openSync(path, "r");
  try {
    const stat = fstatSync(fd);
    checkOwnStat(stat, path, "the token file"); // another user's tokens would let them in (D86)
    if ((stat.mode & 0o077) !== 0) chmodSync(path, 0o600);
    return parse(readFileSync(fd, "utf8"), path);
  } finally {
    closeSync(fd);
  }
}

/** Replace both tokens; every server of this home refuses the old ones from its next request on. */
export function rotateTokens(home: string): Tokens {
  ensurePrivateDir(home);
  const path = tokensPath(home);
  replaceFile(path, fresh());
  return loadTokens(home);
}

/** The tokens of a home, read again whenever the file changes (a rotation reaches running servers). */
export function homeTokenSource(home: string): TokenSource {
  const path = tokensPath(home);
  let cached: { key: string; tokens: Tokens } | undefined;
  return {
    current() {
      let key: string;
      try {
        const s = statSync(path);
        key = `${s.ino}:${s.mtimeMs}:${s.size}`;
      } catch {
        key = "missing"; // removed: loadTokens makes new ones
      }
      if (cached === undefined || cached.key !== key) {
        const tokens = loadTokens(home);
        const s = statSync(path);
        cached = { key: `${s.ino}:${s.mtimeMs}:${s.size}`, tokens };
      }
      return cached.tokens;
    },
  };
}

/** A fixed token (BATON_HTTP_TOKEN, `--token-file`): full access, no read-only twin. */
export function fixedTokenSource(full: string, readOnly?: string): TokenSource {
  const tokens: Tokens = readOnly === undefined ? { full } : { full, readOnly };
  return { current: () => tokens };
}

/**
 * The uids listening on TCP `port` (any address), from /proc/net/tcp and tcp6 (Linux): the `uid`
 * column of each LISTEN row. Empty elsewhere or when nothing listens there.
 */
export function listenerUids(port: number): number[] {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  const uids = new Set<number>();
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      // sl local_address rem_address st … uid: st 0A is LISTEN
      if (cols.length > 7 && cols[3] === "0A" && cols[1]!.endsWith(`:${hex}`)) uids.add(Number(cols[7]));
    }
  }
  return [...uids];
}

/**
 * A server of `home` could not listen on its fixed `port` (PORT_IN_USE). When another user holds
 * it, a host configured with this port sends the full token to them: rotate the home's tokens
 * (`fromHome`), or with a fixed token say loudly that it may have reached them (D107 for `serve`
 * and `mcp --http`). Our own listener (usually our second server) is plain PORT_IN_USE.
 */
export function squattedPort(error: unknown, port: number, home: string, fromHome: boolean): unknown {
  if ((error as { code?: string }).code !== "PORT_IN_USE" || port === 0) return error;
  const euid = process.geteuid?.();
  const holder = listenerUids(port).find((uid) => uid !== euid);
  if (holder === undefined) return error;
  if (fromHome) rotateTokens(home);
  const message = fromHome
    ? `port ${port} is held by uid ${holder}, not by you: a host configured with it sends that user the token; ` +
      `tokens rotated; reconfigure hosts with baton install-mcp (or pick another port with --port)`
    : `port ${port} is held by uid ${holder}, not by you: WARNING: the fixed token (BATON_HTTP_TOKEN or --token-file) ` +
      `may have reached uid ${holder} from a host configured with this port; replace it, then pick another port with --port`;
  return new BatonError("PORT_IN_USE", message, {
    cause: error,
    details: { port, holder, rotated: fromHome },
  });
}
