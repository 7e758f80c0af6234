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

/** Unix socket paths are limited to ~104 bytes; long homes get a hashed path in the temp dir. */
export function socketPath(home: string): string {
  const preferred = join(home, "daemon.sock");
  if (Buffer.byteLength(preferred) < 100) return preferred;
  const hash = createHash("sha256").update(home).digest("hex").slice(0, 16);
  return join(tmpdir(), `baton-${process.getuid?.() ?? 0}-${hash}.sock`);
}

export function daemonInfoPath(home: string): string {
  return join(home, "daemon.json");
}

/** Made (O_EXCL) by the one caller that starts a daemon; removed once a daemon listens. */
export function daemonStartingPath(home: string): string {
  return join(home, "daemon.starting");
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
