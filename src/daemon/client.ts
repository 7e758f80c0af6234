/**
 * Talking to the daemon: connect to its socket, start it on demand, and send requests. When many
 * commands find no daemon at once, one of them starts it (a `daemon.starting` file made with
 * O_EXCL) and the others wait for its socket; should two daemons still start, the ledger lock
 * lets one run.
 */
import { spawn } from "node:child_process";
import { existsSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import type { Socket } from "node:net";
import { join } from "node:path";
import { BatonError } from "../core/errors.js";
import { ensurePrivateDir } from "../core/paths.js";
import { packageRoot } from "../store/sql-files.js";
import type { IpcResponse } from "./ipc.js";
import { daemonInfoPath, daemonStartingPath, readLines, send, socketPath } from "./ipc.js";
import { sleep } from "../core/timer.js";

export class DaemonClient {
  private readonly socket: Socket;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private closed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    readLines(socket, (message) => {
      const response = message as IpcResponse;
      const waiter = this.pending.get(response.id);
      if (waiter === undefined) return;
      this.pending.delete(response.id);
      if (response.ok) waiter.resolve(response.data);
      else waiter.reject(new BatonError(response.error.code as never, response.error.message));
    });
    socket.on("close", () => {
      this.closed = true;
      for (const w of this.pending.values())
        w.reject(new BatonError("STORE_UNAVAILABLE", "the daemon went away"));
      this.pending.clear();
    });
    socket.on("error", () => undefined);
  }

  /** Connect to a running daemon, or resolve undefined when none listens. */
  static connect(home: string): Promise<DaemonClient | undefined> {
    return new Promise((resolve) => {
      const socket = connect(socketPath(home));
      socket.once("connect", () => resolve(new DaemonClient(socket)));
      socket.once("error", () => resolve(undefined));
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  request<T>(method: string, params?: unknown): Promise<T> {
    if (this.closed)
      return Promise.reject(new BatonError("STORE_UNAVAILABLE", "the daemon connection is closed"));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      send(this.socket, { id, method, params });
    });
  }

  close(): void {
    this.socket.end();
    this.socket.destroy();
  }
}

/** The `baton` entry point, for starting the daemon from any front-end. */
export function batonBin(): string {
  return join(packageRoot(), "bin", "baton.js");
}

/**
 * V8 flags of the daemon, a long-lived process that mostly waits (docs/decisions.md D19): a 1 MB
 * young generation instead of up to 16 MB, and no optimizing compiler nor its code and feedback.
 * Measured: resident memory 78 → 59 MB after 200 served CLI calls, +0.6 ms per served call.
 * Not --jitless/--lite-mode: they disable WebAssembly, and with it fetch() (notifications).
 */
export const DAEMON_NODE_FLAGS = ["--max-semi-space-size=1", "--optimize-for-size", "--no-opt"];

/** Start a daemon process for `home`, detached, logging to `<home>/daemon.log`. */
export function spawnDaemon(home: string, env: NodeJS.ProcessEnv = process.env): void {
  ensurePrivateDir(home);
  const logFd = openSync(join(home, "daemon.log"), "a", 0o600);
  const child = spawn(process.execPath, [...DAEMON_NODE_FLAGS, batonBin(), "daemon", "run"], {
    detached: true,
    stdio: ["ignore", logFd, logFd],
    env: { ...env, BATON_HOME: home },
    cwd: home,
  });
  child.unref();
}

/** A start that has not produced a listening daemon in this long is presumed failed. */
const START_STALE_MS = 15_000;

/**
 * Become the caller that starts the daemon: true when this call made `daemon.starting`, or found
 * one older than {@link START_STALE_MS} (its starter or its daemon died) and replaced it.
 */
function claimStart(home: string): boolean {
  const marker = daemonStartingPath(home);
  try {
    writeFileSync(marker, String(process.pid), { flag: "wx", mode: 0o600 });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") return true;
  }
  try {
    if (Date.now() - statSync(marker).mtimeMs < START_STALE_MS) return false;
    writeFileSync(marker, String(process.pid), { mode: 0o600 });
    return true;
  } catch {
    return false; // removed meanwhile: a daemon is up, or another caller just took over
  }
}

/**
 * Start a daemon if this caller wins `daemon.starting`, unless one came up since this caller last
 * looked: a daemon removes the marker once it listens, so a caller whose connect failed just
 * before that would otherwise win a fresh marker and start a second daemon (which the ledger lock
 * sends away, but only after it booted). Answers the running daemon when there is one.
 */
async function startUnlessRunning(home: string): Promise<DaemonClient | undefined> {
  if (!claimStart(home)) return undefined;
  const running = await DaemonClient.connect(home);
  if (running === undefined) {
    spawnDaemon(home);
    return undefined;
  }
  rmSync(daemonStartingPath(home), { force: true }); // ours, made after the daemon removed its own
  return running;
}

/** Connect to the daemon of `home`, starting it if none runs. */
// Generous: on a loaded machine a fresh daemon (node start, migrations) can take many seconds.
export async function ensureDaemon(home: string, timeoutMs = 30_000): Promise<DaemonClient> {
  const existing = await DaemonClient.connect(home);
  if (existing !== undefined) return existing;
  ensurePrivateDir(home);
  const deadline = Date.now() + timeoutMs;
  let delay = 10;
  for (;;) {
    // The first time: start one. Later: the caller that was starting one gave up or its daemon
    // died at start, so take over.
    const running = await startUnlessRunning(home);
    if (running !== undefined) return running;
    if (Date.now() >= deadline) break;
    await sleep(delay);
    delay = Math.min(delay * 2, 200);
    const client = await DaemonClient.connect(home);
    if (client !== undefined) return client;
  }
  throw new BatonError(
    "STORE_UNAVAILABLE",
    `the daemon did not start within ${timeoutMs} ms (see ${join(home, "daemon.log")})`,
  );
}

export interface DaemonInfo {
  pid: number;
  owner: string;
  socket: string;
  startedAt: string;
}

/** What the daemon wrote about itself, if anything (may be stale: check with a ping). */
export function readDaemonInfo(home: string): DaemonInfo | undefined {
  const file = daemonInfoPath(home);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, "utf8")) as DaemonInfo;
  } catch {
    return undefined;
  }
}
