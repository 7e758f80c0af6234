/**
 * The daemon's socket protocol: newline-delimited JSON over a Unix socket in BATON_HOME (0600).
 * Request `{id, method, params}` → response `{id, ok: true, data}` or `{id, ok: false, error}`.
 */
import { createHash } from "node:crypto";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface IpcRequest {
  id: number;
  method: string;
  params?: unknown;
}

export type IpcResponse =
  | { id: number; ok: true; data: unknown }
  | { id: number; ok: false; error: { code: string; message: string } };

/**
 * Which ledger a daemon serves, as a short key for its file names (D49): `""` for the SQLite file of
 * its BATON_HOME (the home's own ledger: `daemon.sock`, `daemon.json`, `daemon.starting`), else a
 * hash of the PostgreSQL URL and schema (`daemon-<key>.sock`, ...), so a call for another ledger
 * finds or starts that ledger's daemon in the same home instead of waking one that cannot see its
 * job. Read from the environment, which the CLI points at its resolved ledger (flag, environment,
 * config) before it opens it; bin/baton.js computes the same key.
 */
export function ledgerKey(env: NodeJS.ProcessEnv = process.env): string {
  const url = env.BATON_DATABASE_URL?.trim();
  if (url === undefined || url === "") return "";
  const schema =
    env.BATON_DATABASE_SCHEMA === undefined || env.BATON_DATABASE_SCHEMA === ""
      ? "baton"
      : env.BATON_DATABASE_SCHEMA;
  return createHash("sha256").update(`${url}#${schema}`).digest("hex").slice(0, 12);
}

function named(home: string, base: string, ext: string, ledger: string): string {
  return join(home, ledger === "" ? `${base}.${ext}` : `${base}-${ledger}.${ext}`);
}

/** Unix socket paths are limited to ~104 bytes; long homes get a hashed path in the temp dir. */
export function socketPath(home: string, ledger = ledgerKey()): string {
  const preferred = named(home, "daemon", "sock", ledger);
  if (Buffer.byteLength(preferred) < 100) return preferred;
  const hash = createHash("sha256")
    .update(ledger === "" ? home : `${home}\0${ledger}`)
    .digest("hex")
    .slice(0, 16);
  return join(tmpdir(), `baton-${process.getuid?.() ?? 0}-${hash}.sock`);
}

export function daemonInfoPath(home: string, ledger = ledgerKey()): string {
  return named(home, "daemon", "json", ledger);
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
