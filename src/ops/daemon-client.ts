/**
 * Talking to the daemon: connect to its socket, start it on demand, and send requests. When many
 * commands find no daemon at once, one of them starts it (a `daemon.starting` file made with
 * O_EXCL) and the others wait for its socket; should two daemons still start, the ledger lock
 * lets one run.
 */
import { spawn } from "node:child_process";
import { existsSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import type { Socket } from "node:net";
import { join } from "node:path";
import { BatonError } from "../core/errors.js";
import { checkOwnPath, ensurePrivateDir } from "../core/paths.js";
import { shellLine } from "../core/shell.js";
import { packageRoot } from "../store/sql-files.js";
import type { IpcResponse } from "./ipc.js";
import { daemonInfoPath, daemonStartingPath, ensureSocketDir, readLines, send, socketPath } from "./ipc.js";
import { sleep } from "../core/timer.js";
import { daemonOwner, ownerGone } from "../supervisor/process.js";

/** A request sent and not yet answered; `ack` marks a keep-alive of it from the daemon (D138). */
interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  ack: () => void;
  /** Answered by a daemon that does not acknowledge held requests (an older build): no window. */
  unbounded: () => void;
}

/**
 * Requests the daemon may hold for long (a `wait` until its job ends, a `stop` through the kill
 * grace, a `dashboard` while HTTP starts). A daemon acknowledges them at once and every second
 * after; one of an older build does not, which a `ping` sent after them tells (D138).
 */
const HELD = new Set(["wait", "stop", "dashboard"]);

export class DaemonClient {
  private readonly socket: Socket;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    readLines(socket, (message) => {
      const response = message as IpcResponse | { id: number; ack: true };
      const waiter = this.pending.get(response.id);
      if (waiter === undefined) return;
      // A keep-alive of a call the daemon is serving: its window starts again (D135, D138).
      if ("ack" in response) {
        waiter.ack();
        return;
      }
      this.pending.delete(response.id);
      if (response.ok) waiter.resolve(response.data);
      else {
        const { code, message, details } = response.error;
        waiter.reject(new BatonError(code as never, message, details === undefined ? {} : { details }));
      }
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
  static async connect(home: string): Promise<DaemonClient | undefined> {
    const path = socketPath(home);
    // A socket another user made (a long home's lives in the shared temp dir) would be handed
    // this user's requests and environment (D86).
    ensureSocketDir(home);
    checkOwnPath(path, "the daemon's socket");
    return new Promise((resolve) => {
      const socket = connect(path);
      socket.once("connect", () => resolve(new DaemonClient(socket)));
      socket.once("error", () => resolve(undefined));
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Send one request. A daemon that sends neither its answer nor a keep-alive of it for
   * `answerWithinMs` (default {@link daemonAnswerMs}; stopped with SIGSTOP, hung) rejects it with
   * `DAEMON_UNRESPONSIVE` instead of waiting forever (D135, D138). The request carries that
   * deadline (`answerBy`): a daemon resumed after it does not act on it, so the caller that was
   * told it failed was told the truth.
   */
  request<T>(
    method: string,
    params?: Record<string, unknown>,
    answerWithinMs = daemonAnswerMs(),
  ): Promise<T> {
    if (this.closed)
      return Promise.reject(new BatonError("STORE_UNAVAILABLE", "the daemon connection is closed"));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      let acked = false;
      const listen = (): void => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          this.pending.delete(id);
          reject(
            // `acknowledged`: it took the request before it went silent (it may act on it).
            new BatonError(
              "DAEMON_UNRESPONSIVE",
              `the daemon did not answer '${method}' within ${answerWithinMs} ms`,
              { details: { acknowledged: acked } },
            ),
          );
        }, answerWithinMs);
      };
      const settle =
        <V>(fn: (v: V) => void) =>
        (v: V) => {
          clearTimeout(timer);
          fn(v);
        };
      this.pending.set(id, {
        resolve: settle(resolve as (v: unknown) => void),
        reject: settle(reject),
        ack: () => {
          acked = true;
          listen();
        },
        unbounded: () => {
          if (!acked) clearTimeout(timer);
        },
      });
      listen();
      send(this.socket, { id, method, params: { answerBy: Date.now() + answerWithinMs, ...params } });
      // A daemon answers requests in order and acknowledges a held one as it takes it: one that
      // answers this ping first does not acknowledge (an older build), and is left its own time.
      if (HELD.has(method))
        this.request("ping", undefined, answerWithinMs).then(
          () => this.pending.get(id)?.unbounded(),
          () => undefined,
        );
    });
  }

  /**
   * A request the daemon answers at once (`status`, `shutdown`), waiting at most
   * {@link daemonAnswerMs}: undefined when the daemon did not answer (stopped, hung; D135).
   */
  ask<T>(method: string, params?: Record<string, unknown>): Promise<T | undefined> {
    return this.request<T>(method, params).catch((error: unknown) => {
      if (error instanceof BatonError && error.code === "DAEMON_UNRESPONSIVE") return undefined;
      throw error;
    });
  }

  close(): void {
    this.socket.end();
    this.socket.destroy();
  }
}

/**
 * How long a caller waits for the daemon to take a call (its first answer or keep-alive) before it
 * calls the daemon unresponsive (D135): `BATON_DAEMON_ANSWER_MS`, else 5 s. bin/baton.js reads the
 * same variable.
 */
export function daemonAnswerMs(env: NodeJS.ProcessEnv = process.env): number {
  const ms = Number(env.BATON_DAEMON_ANSWER_MS);
  return Number.isFinite(ms) && ms > 0 ? ms : 5_000;
}

/**
 * The error of a call whose daemon took its lock and socket but did not answer (D135): its pid, and
 * how to recover. `requestId` names a call that may have been handed to it; `outcome` says instead
 * what the call did and did not do (a job it queued, a stop it did not send; D138).
 */
export function daemonUnresponsive(
  home: string,
  requestId?: string,
  argv?: readonly string[],
  outcome?: { said: string; details: Record<string, unknown> },
): BatonError {
  const pid = readDaemonInfo(home)?.pid;
  const who = pid === undefined ? "the daemon" : `the daemon (pid ${pid})`;
  const recover =
    pid === undefined
      ? "find the baton daemon process of this home and resume it (kill -CONT) or end it"
      : `resume it (kill -CONT ${pid}) if it was stopped, or end it (kill ${pid}; kill -9 ${pid} if it stays)`;
  const retry =
    outcome !== undefined
      ? ` ${outcome.said}`
      : requestId === undefined
        ? ""
        : ` This call may or may not have been applied (the daemon may still commit it when it resumes): ` +
          `retry with the same request id to learn which: baton --request-id ${requestId}` +
          `${argv === undefined ? " …" : ` ${shellLine(argv)}`}.`;
  return new BatonError(
    "DAEMON_UNRESPONSIVE",
    `${who} of ${home} holds its socket but did not answer within ${daemonAnswerMs()} ms: it is stopped (SIGSTOP), ` +
      `hung or overloaded.${retry} To recover, ${recover}; the next call starts a fresh daemon.`,
    {
      details: {
        home,
        ...(pid === undefined ? {} : { pid }),
        ...(requestId === undefined ? {} : { requestId }),
        ...outcome?.details,
      },
    },
  );
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
    // The daemon we started found the lock held by one that serves this ledger under another
    // spelling of its URL (D121): waiting cannot help.
    const holder = lockHolder(home);
    if (holder !== undefined) {
      // The report has been read: left behind, it would stay in the home for good (the next call
      // starts a daemon of its own, which reports again).
      rmSync(daemonStartingPath(home), { force: true });
      throw heldElsewhere(home, holder);
    }
  }
  throw new BatonError(
    "STORE_UNAVAILABLE",
    `the daemon did not start within ${timeoutMs} ms (see ${join(home, "daemon.log")})`,
  );
}

/**
 * Said by a daemon that found its ledger's lock for this home taken (D121), in the
 * `daemon.starting` marker of the callers waiting for it, unless the holder is this ledger's own
 * daemon (a start race: the callers will find it listening). A caller that reads it fails at once
 * instead of waiting for a daemon that will never listen.
 */
export function reportLockHolder(home: string, holderOwner: string): void {
  const holder = daemonOwner(holderOwner);
  if (holder !== undefined && infoOf(home, holder.pid)?.file === daemonInfoPath(home)) return;
  try {
    writeFileSync(daemonStartingPath(home), JSON.stringify({ pid: process.pid, heldBy: holderOwner }), {
      mode: 0o600,
    });
  } catch {
    // Nothing to tell: the callers time out as before.
  }
}

interface LockHolder {
  pid: number;
  info: DaemonInfo;
}

/**
 * The live daemon of another ledger key that holds this ledger's lock, as reported in
 * `daemon.starting`; undefined while there is none (or it is this ledger's own daemon, still
 * starting). A report whose holder has gone is removed, so the next start is anyone's.
 */
function lockHolder(home: string): LockHolder | undefined {
  const marker = daemonStartingPath(home);
  let heldBy: unknown;
  try {
    heldBy = (JSON.parse(readFileSync(marker, "utf8")) as { heldBy?: unknown }).heldBy;
  } catch {
    return undefined; // no marker, or a starter's pid
  }
  if (typeof heldBy !== "string") return undefined;
  const holder = daemonOwner(heldBy);
  if (holder === undefined || ownerGone(heldBy)) {
    rmSync(marker, { force: true });
    return undefined;
  }
  const found = infoOf(home, holder.pid);
  if (found === undefined || found.file === daemonInfoPath(home)) return undefined;
  return { pid: holder.pid, info: found.info };
}

/** The `daemon*.json` of this home written by the daemon `pid`, if any. */
function infoOf(home: string, pid: number): { file: string; info: DaemonInfo } | undefined {
  let names: string[];
  try {
    names = readdirSync(home).filter((name) => /^daemon(-[0-9a-f]{12})?\.json$/.test(name));
  } catch {
    return undefined;
  }
  for (const name of names) {
    const file = join(home, name);
    try {
      const info = JSON.parse(readFileSync(file, "utf8")) as DaemonInfo;
      if (info.pid === pid) return { file, info };
    } catch {
      // written meanwhile, or not a daemon's
    }
  }
  return undefined;
}

function heldElsewhere(home: string, holder: LockHolder): BatonError {
  const started = holder.info.database === undefined ? "" : ` with ${holder.info.database}`;
  return new BatonError(
    "DAEMON_CONFLICT",
    `the daemon for this ledger cannot start in ${home}: another baton daemon (pid ${holder.pid}, started${started}) ` +
      "holds the ledger's lock for this home. It serves the same database and schema under another spelling of " +
      "its URL (another host name or port, user, TLS demand (sslmode, PGSSLMODE; D127), or an older baton). " +
      "Use the URL that daemon was started with, " +
      `or stop it (kill ${holder.pid}) and call again.`,
    {
      details: {
        home,
        pid: holder.pid,
        ...(holder.info.database === undefined ? {} : { database: holder.info.database }),
      },
    },
  );
}

export interface DaemonInfo {
  pid: number;
  /** The ledger's URL without its password, for a PostgreSQL ledger (D121). */
  database?: string;
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
