/**
 * The tokens of every network surface of one BATON_HOME (the daemon's HTTP server, `baton serve`,
 * `baton mcp --http`), kept in `<home>/http-tokens.json` (0600): a full token and a read-only one,
 * made on first use and the same until `baton token rotate` (D42). A host configured once with URL
 * and token keeps connecting across daemon restarts; servers that are up see a rotation at their
 * next request (the file is looked at again when it changed).
 */
import {
  closeSync,
  chmodSync,
  fstatSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { BatonError } from "../core/errors.js";
import { ensurePrivateDir } from "../core/paths.js";
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
    if (process.getuid !== undefined && stat.uid !== process.getuid())
      throw new BatonError("STORE_IO", `${path} belongs to another user: refusing to use its tokens`);
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
  const temp = `${path}.${process.pid}.tmp`;
  rmSync(temp, { force: true });
  writeNew(temp, fresh());
  renameSync(temp, path);
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
