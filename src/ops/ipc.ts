/**
 * The daemon's socket protocol: newline-delimited JSON over a Unix socket in BATON_HOME (0600).
 * Request `{id, method, params}` → response `{id, ok: true, data}` or `{id, ok: false, error}`.
 */
import { createHash } from "node:crypto";
import { chmodSync, lstatSync, mkdirSync, statSync } from "node:fs";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import { BatonError } from "../core/errors.js";
import { ledgerKey as computeLedgerKey } from "./ledger-key.js";

export interface IpcRequest {
  id: number;
  method: string;
  params?: unknown;
}

export type IpcResponse =
  | { id: number; ok: true; data: unknown }
  | { id: number; ok: false; error: { code: string; message: string; details?: Record<string, unknown> } };

/**
 * Which ledger a daemon serves, as a short key for its file names (D49): `""` for the SQLite file of
 * its BATON_HOME (the home's own ledger: `daemon.sock`, `daemon.json`, `daemon.starting`), else a
 * hash of what in the PostgreSQL URL names the database, and the schema (`daemon-<key>.sock`, ...;
 * D121), so a call for another ledger finds or starts that ledger's daemon in the same home instead
 * of waking one that cannot see its job. Read from the environment, which the CLI points at its
 * resolved ledger (flag, environment, config) before it opens it; bin/baton.js loads the same code.
 */
export function ledgerKey(env: NodeJS.ProcessEnv = process.env): string {
  return computeLedgerKey(env);
}

function named(home: string, base: string, ext: string, ledger: string): string {
  return join(home, ledger === "" ? `${base}.${ext}` : `${base}-${ledger}.${ext}`);
}

/**
 * Unix socket paths are limited to ~104 bytes; a long home's socket is a hashed name in a private
 * per-user folder ({@link socketDir}), never loose in the shared temp dir, where another user
 * could make the name first and keep the daemon from ever starting.
 */
export function socketPath(home: string, ledger = ledgerKey()): string {
  const preferred = named(home, "daemon", "sock", ledger);
  if (Buffer.byteLength(preferred) < 100) return preferred;
  const hash = createHash("sha256")
    .update(ledger === "" ? home : `${home}\0${ledger}`)
    .digest("hex")
    .slice(0, 16);
  return join(socketDir(), `${hash}.sock`);
}

/**
 * The private folder for sockets that do not fit in the home (like tmux's): `$XDG_RUNTIME_DIR/baton`
 * when that runtime dir is the caller's and private, else `<temp dir>/baton-<uid>` (D123).
 */
export function socketDir(env: NodeJS.ProcessEnv = process.env): string {
  const uid = process.geteuid?.() ?? 0;
  const runtime = env.XDG_RUNTIME_DIR;
  if (runtime !== undefined && isAbsolute(runtime)) {
    try {
      const stat = statSync(runtime);
      if (stat.isDirectory() && stat.uid === uid && (stat.mode & 0o077) === 0) {
        const dir = join(runtime, "baton");
        if (Buffer.byteLength(dir) < 70) return dir;
      }
    } catch {
      // no such runtime dir: the temp dir's
    }
  }
  return join(tmpdir(), `baton-${uid}`);
}

/**
 * Make (0700) or check the folder of `home`'s socket when it is not the home: it must be a folder
 * of the caller's, not a symlink; one another user made first is refused (UNSAFE_HOME) with advice
 * that fits: the home is not the problem.
 */
export function ensureSocketDir(home: string): void {
  const dir = dirname(socketPath(home));
  if (dir === home) return;
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  const stat = lstatSync(dir);
  const euid = process.geteuid?.();
  if (euid === undefined) return;
  if (stat.isSymbolicLink() || !stat.isDirectory() || stat.uid !== euid) {
    const what = stat.isSymbolicLink() ? "a symlink" : `owned by uid ${stat.uid}`;
    throw new BatonError(
      "UNSAFE_HOME",
      `the folder for your daemon's socket ${dir} is ${what}, not a folder of yours (uid ${euid}): another user ` +
        `may have made it to keep your daemon from starting or to receive its calls. Remove it (\`rm -r ${dir}\`; ` +
        `it is in a shared folder, so root can) or set XDG_RUNTIME_DIR to a private folder of your own`,
      { details: { path: dir, owner: stat.uid, uid: euid } },
    );
  }
  if ((stat.mode & 0o077) !== 0) chmodSync(dir, 0o700);
}

export function daemonInfoPath(home: string, ledger = ledgerKey()): string {
  return named(home, "daemon", "json", ledger);
}

/** What the daemon of this ledger remembers about its HTTP server (port, on or off; no token). */
export function dashboardInfoPath(home: string, ledger = ledgerKey()): string {
  return named(home, "dashboard", "json", ledger);
}

/** Made (O_EXCL) by the one caller that starts a daemon; removed once a daemon listens. */
export function daemonStartingPath(home: string, ledger = ledgerKey()): string {
  return named(home, "daemon", "starting", ledger);
}

/** Split a stream into JSON lines. Malformed lines are reported, never thrown. */
export function readLines(
  socket: Socket,
  onMessage: (message: unknown) => void,
  onBad?: (line: string) => void,
): void {
  let pending = "";
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => {
    pending += chunk;
    if (pending.length > 64 * 1024 * 1024) {
      socket.destroy();
      return;
    }
    let newline: number;
    while ((newline = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      if (line.trim() === "") continue;
      let message: unknown;
      try {
        message = JSON.parse(line);
      } catch {
        onBad?.(line);
        continue;
      }
      onMessage(message);
    }
  });
}

export function send(socket: Socket, message: unknown): void {
  if (!socket.destroyed) socket.write(`${JSON.stringify(message)}\n`);
}
