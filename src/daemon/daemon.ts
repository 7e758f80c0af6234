/**
 * `baton daemon run`: one per BATON_HOME on a host. Hosts the supervisor and the scheduler loop
 * (start queued commands, recover expired leases, wake on new work), and answers clients on a Unix
 * socket.
 *
 * Single instance by a lock held in the ledger (not a pid file): ten racing starts, one daemon.
 * The lock is per host and home (`daemon:<host>:<home id>`), so daemons of other hosts or homes
 * share a ledger (PostgreSQL): each registers itself (src/supervisor/hosts.ts) and claims only the
 * command jobs of its host and of the pools it serves (BATON_POOLS). A crashed daemon's lock is
 * taken over at once when its pid is gone from this host, otherwise when its lease runs out.
 */
import { chmodSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createServer } from "node:net";
import type { Server, Socket } from "node:net";
import { cpus } from "node:os";
import type { Timer } from "../core/timer.js";
import { after, every } from "../core/timer.js";
import { BatonError, toBatonError } from "../core/errors.js";
import type { Job } from "../core/job.js";
import { isTerminal } from "../core/states.js";
import { checkSettings, numericSetting } from "../core/settings.js";
import type { Opened } from "../open.js";
import { openEngine } from "../open.js";
import { ensurePrivateDir } from "../core/paths.js";
import { packageRoot } from "../store/sql-files.js";
import { hostName, ownerGone, processStartTime } from "../supervisor/process.js";
import { Supervisor } from "../supervisor/supervisor.js";
import { agentProcessKind } from "../agents/agents.js";
import { taskProcessKind } from "../tasks/executor.js";
import { settleStranded } from "../tasks/stranded.js";
import { syncPersonalSchedules, TaskScheduler } from "../tasks/schedules.js";
import {
  daemonLockName,
  HostRegistration,
  homeId,
  poolsFromEnv,
  servedAffinities,
} from "../supervisor/hosts.js";
import { DaemonDashboard } from "./dashboard.js";
import { daemonLog, survivePipeErrors } from "./log.js";
import type { IpcRequest } from "../ops/ipc.js";
import {
  daemonInfoPath,
  daemonStartingPath,
  ensureSocketDir,
  readLines,
  send,
  socketPath,
} from "../ops/ipc.js";
import { reportLockHolder } from "../ops/daemon-client.js";
import { redactDatabaseUrl } from "../store/postgres/connection.js";

const LOCK_TTL_MS = 15_000;

/**
 * A fault-injection seam, off by default: hold each served CLI answer back this long after its
 * work committed, so a test can kill the daemon between the commit and the answer.
 */
const answerDelayMs = Number(process.env.BATON_TEST_ANSWER_DELAY_MS ?? 0) || 0;
/** Test seam: how long a `stop` request is held after it is taken, before the stop is made. */
const stopDelayMs = Number(process.env.BATON_TEST_STOP_DELAY_MS ?? 0) || 0;

/** Runs one thin-client CLI call inside the daemon (provided by the CLI that starts the daemon). */
export type CliServer = (
  call: { argv: string[]; cwd: string; env: NodeJS.ProcessEnv; isTTY: boolean; requestId?: string },
  opened: Opened,
) => Promise<{ code: number; stdout: string; stderr: string } | { fallback: true }>;

export interface DaemonOptions {
  home: string;
  /** Serve thin-client CLI calls; without it they are answered "run it yourself". */
  serveCli?: CliServer;
  /** Where diagnostics go (never secrets). */
  log?: (line: string) => void;
}

export interface DaemonLimits {
  maxRunning: number;
  maxPerProject: number;
}

/** Concurrency limits: BATON_MAX_RUNNING / BATON_MAX_RUNNING_PER_PROJECT, else 2 × CPUs. */
export function limitsFromEnv(env: NodeJS.ProcessEnv = process.env): DaemonLimits {
  const maxRunning = numericSetting("BATON_MAX_RUNNING", env) ?? Math.max(2, cpus().length * 2);
  return {
    maxRunning,
    maxPerProject: Math.min(maxRunning, numericSetting("BATON_MAX_RUNNING_PER_PROJECT", env) ?? maxRunning),
  };
}

/** Identifies the CLI bundle this process runs, so thin clients of another build run locally. */
export function bundleBuildId(): string | undefined {
  try {
    return String(statSync(join(packageRoot(), "dist", "cli.mjs")).mtimeMs);
  } catch {
    return undefined;
  }
}

/**
 * The lease on a running command (default 5 min, renewed every third of it): how long a silent
 * daemon's commands stay claimed before another daemon recovers them. BATON_COMMAND_LEASE_MS.
 */
function commandLeaseFromEnv(): { leaseMs?: number; heartbeatMs?: number } {
  const leaseMs = numericSetting("BATON_COMMAND_LEASE_MS");
  return leaseMs === undefined ? {} : { leaseMs, heartbeatMs: Math.floor(leaseMs / 3) };
}

function ownerId(host: string): string {
  return `${host}:${process.pid}:${processStartTime(process.pid) ?? "unknown"}`;
}

interface Waiter {
  socket: Socket;
  requestId: number;
  jobId: string;
  timer: Timer;
  /** Its keep-alives, until it is answered (D138). */
  keepAlive: Timer;
}

/**
 * Take a request its caller waits a bounded time for (D135, D138): acknowledge it now and every
 * second until the returned timer is cancelled (at its answer), so a caller tells a long call from
 * a daemon that stopped answering. More often when the caller's window (its `answerBy`, from now)
 * is under 3 s, so a keep-alive always arrives within it. Sent before the request's first `await`:
 * a client's `ping` sent after it is answered after this acknowledgement (how a client tells an
 * older daemon).
 */
function acknowledge(socket: Socket, id: number, params: Record<string, unknown>): Timer {
  send(socket, { id, ack: true });
  const window =
    typeof params.answerBy === "number" ? params.answerBy - Date.now() : Number.POSITIVE_INFINITY;
  return every(Math.min(1000, Math.max(100, Math.floor(window / 3))), () => send(socket, { id, ack: true }));
}

/** Its caller's deadline (`answerBy`) has passed: it was told the request failed (D135, D138). */
function pastDeadline(params: Record<string, unknown>): boolean {
  return typeof params.answerBy === "number" && Date.now() > params.answerBy;
}

/** Run the daemon until SIGTERM/SIGINT or a `shutdown` request. Resolves with the exit code. */
export async function runDaemon(options: DaemonOptions): Promise<number> {
  // A full disk must not end the daemon through its own log (daemon.log is its stderr).
  survivePipeErrors();
  const log = options.log ?? daemonLog();
  // A home another user controls is refused before anything in it is read (D86), whichever ledger.
  ensurePrivateDir(options.home);
  // A bad setting ends the start here, named, before the ledger is opened.
  checkSettings();
  const opened = await openEngine({ home: options.home, actor: "daemon" });
  const { engine, store, home } = opened;
  const bundleBuild = bundleBuildId();
  const host = hostName();
  const pools = poolsFromEnv();
  const owner = ownerId(host);
  const lockName = daemonLockName(host, home);
  const databaseUrl = process.env.BATON_DATABASE_URL?.trim() || undefined;
  const taken = await store.acquireLock(lockName, owner, LOCK_TTL_MS, (current) => ownerGone(current.owner));
  if (!taken.acquired) {
    log(`another daemon holds this home (${taken.lock.owner}); exiting`);
    reportLockHolder(home, taken.lock.owner);
    await store.close();
    return 0;
  }
  const lockToken = taken.lock.token;
  const registration = new HostRegistration(
    store,
    { host, home: homeId(home), pid: process.pid, owner, started: new Date().toISOString(), pools },
    LOCK_TTL_MS,
  );
  const limits = limitsFromEnv();
  const shutdownGraceMs = numericSetting("BATON_SHUTDOWN_GRACE_MS") ?? 10_000;
  const killGraceMs = numericSetting("BATON_KILL_GRACE_MS");
  const logCapBytes = numericSetting("BATON_LOG_CAP_BYTES");
  const waiters = new Set<Waiter>();
  const dashboard = new DaemonDashboard(opened, { log });

  // Set once the scheduler below exists: a command re-attached and ended before then needs none.
  let wakeBy: (at: number) => void = () => undefined;
  const dropWaiter = (w: Waiter): void => {
    w.timer.cancel();
    w.keepAlive.cancel();
    waiters.delete(w);
  };
  const notifyFinished = (job: Job): void => {
    // A retry is due at its run_at: the scheduler must be awake then, not at its next idle tick.
    if (job.state === "retrying") wakeBy(job.runAt);
    for (const w of waiters) {
      if (w.jobId === job.id) {
        dropWaiter(w);
        send(w.socket, { id: w.requestId, ok: true, data: { finished: true, state: job.state } });
      }
    }
  };

  const supervisor = new Supervisor({
    engine,
    home,
    owner,
    kinds: [taskProcessKind({ engine, home, actor: owner, log }), agentProcessKind({ engine })],
    ...limits,
    ...(killGraceMs === undefined ? {} : { killGraceMs }),
    ...(logCapBytes === undefined ? {} : { logCapBytes }),
    ...commandLeaseFromEnv(),
    affinities: servedAffinities(host, home, pools),
    onFinished: notifyFinished,
    log,
  });

  // HTTP again if the previous daemon served it (D85), before the socket: a caller that restarted
  // us (`baton daemon restart`, the call after a crash) finds the dashboard, API and /mcp up.
  await dashboard.restore();

  // Socket first, so clients that raced to start us connect as soon as possible.
  const path = socketPath(home);
  ensureSocketDir(home);
  rmSync(path, { force: true });
  const server: Server = createServer((socket) => {
    socket.on("error", () => undefined);
    socket.on("close", () => {
      for (const w of waiters) if (w.socket === socket) dropWaiter(w);
    });
    readLines(socket, (message) => void handle(socket, message as IpcRequest));
  });
  // The socket is created 0600 (umask 077 while it is bound), not chmodded after: a long home's
  // socket lives in the shared temp dir, where another user could connect in between.
  const umask = process.umask(0o077);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(path, () => resolve());
    });
  } finally {
    process.umask(umask);
  }
  chmodSync(path, 0o600);
  writeFileSync(
    daemonInfoPath(home),
    JSON.stringify({
      pid: process.pid,
      owner,
      socket: path,
      startedAt: new Date().toISOString(),
      limits,
      ...(databaseUrl === undefined ? {} : { database: redactDatabaseUrl(databaseUrl) }),
    }),
    { mode: 0o600 },
  );
  // Callers waiting for a daemon to start now find this one; the next start is anyone's.
  rmSync(daemonStartingPath(home), { force: true });
  log(
    `daemon ${owner} listening on ${path} (max ${limits.maxRunning} running, ${limits.maxPerProject} per project)`,
  );

  let stopping = false;
  let resolveDone: (code: number) => void = () => undefined;
  const done = new Promise<number>((r) => (resolveDone = r));

  /** A change refused because its caller gave up on this daemon before it was read (D138). */
  function late(what: string, params: Record<string, unknown>): BatonError {
    const job = typeof params.jobId === "string" ? ` of job ${params.jobId}` : "";
    log(`${what} request${job} ignored: it arrived past its deadline (its caller gave up)`);
    return new BatonError(
      "DAEMON_UNRESPONSIVE",
      `the ${what} request${job} arrived past its deadline (this daemon did not answer in time): not carried out`,
    );
  }

  async function handle(socket: Socket, request: IpcRequest): Promise<void> {
    if (typeof request !== "object" || request === null || typeof request.id !== "number") return;
    const params = (request.params ?? {}) as Record<string, unknown>;
    try {
      switch (request.method) {
        case "ping":
          send(socket, { id: request.id, ok: true, data: { pid: process.pid, owner } });
          return;
        case "wake":
          void supervisor.tick();
          send(socket, { id: request.id, ok: true, data: {} });
          return;
        case "status":
          send(socket, {
            id: request.id,
            ok: true,
            data: {
              pid: process.pid,
              owner,
              running: supervisor.runningIds(),
              limits,
              stopping,
              ...(dashboard.url === undefined ? {} : { dashboard: `${dashboard.url}/` }),
              ...(dashboard.warning === undefined ? {} : { dashboardWarning: dashboard.warning }),
            },
          });
          return;
        case "stop": {
          // A caller that gave up on this daemon (stopped, then resumed) was told its stop was not
          // made: making it now would make that false (D138).
          if (pastDeadline(params)) throw late("stop", params);
          const keepAlive = acknowledge(socket, request.id, params);
          try {
            if (stopDelayMs > 0) await new Promise((r) => setTimeout(r, stopDelayMs));
            const stopId = typeof params.stopId === "string" ? params.stopId : undefined;
            const job = await supervisor.stop(String(params.jobId), params.force === true, stopId);
            send(socket, { id: request.id, ok: true, data: { id: job.id } });
          } finally {
            keepAlive.cancel();
          }
          return;
        }
        case "signal": {
          if (pastDeadline(params)) throw late(params.pause === true ? "pause" : "resume", params);
          const signal = params.pause === true ? "SIGSTOP" : "SIGCONT";
          const done = supervisor.signal(String(params.jobId), signal);
          send(socket, { id: request.id, ok: true, data: { signalled: done } });
          return;
        }
        case "wait": {
          // Held until the job ends: acknowledged until then, so its caller can tell this daemon
          // stopped answering (D138).
          const keepAlive = acknowledge(socket, request.id, params);
          const jobId = String(params.jobId);
          let job: Job;
          try {
            job = await engine.get(jobId);
          } catch (error) {
            keepAlive.cancel();
            throw error;
          }
          if (isTerminal(job.state)) {
            keepAlive.cancel();
            send(socket, { id: request.id, ok: true, data: { finished: true, state: job.state } });
            return;
          }
          const timeoutMs = Math.min(Number(params.timeoutMs ?? 45_000), 24 * 3_600_000);
          const waiter: Waiter = {
            socket,
            requestId: request.id,
            jobId,
            keepAlive,
            timer: after(timeoutMs, () => {
              dropWaiter(waiter);
              send(socket, { id: request.id, ok: true, data: { finished: false } });
            }),
          };
          waiters.add(waiter);
          return;
        }
        case "cli": {
          // A thin client's CLI call. Refused (the client runs it itself) when the client was
          // built from a different bundle than this daemon runs.
          const call = params as {
            argv?: unknown;
            cwd?: unknown;
            env?: unknown;
            isTTY?: unknown;
            build?: unknown;
            requestId?: unknown;
          };
          const serveCli = options.serveCli;
          if (
            serveCli === undefined ||
            stopping ||
            call.build !== bundleBuild ||
            !Array.isArray(call.argv) ||
            typeof call.cwd !== "string"
          ) {
            send(socket, { id: request.id, ok: true, data: { fallback: true } });
            return;
          }
          // The client waits a bounded time for this daemon to take the call (D135); one that gave
          // up (this daemon was stopped, then resumed) has answered DAEMON_UNRESPONSIVE: not served.
          const answerBy = (params as { answerBy?: unknown }).answerBy;
          if (typeof answerBy === "number" && Date.now() > answerBy) {
            // Logged like a late stop or pause (its words only: arguments may hold secrets).
            const words = `baton ${String(call.argv[0] ?? "")}`;
            const rid = typeof call.requestId === "string" ? ` (request id ${call.requestId})` : "";
            log(`served call '${words}'${rid} ignored: it arrived past its deadline (its caller gave up)`);
            send(socket, { id: request.id, ok: true, data: { fallback: true } });
            return;
          }
          // Taken: say so at once, and every second until the answer (a `wait` may be long).
          const keepAlive = acknowledge(socket, request.id, params);
          let answer: Awaited<ReturnType<CliServer>>;
          try {
            answer = await serveCli(
              {
                argv: call.argv.map(String),
                cwd: call.cwd,
                env: (call.env ?? {}) as NodeJS.ProcessEnv,
                isTTY: call.isTTY === true,
                ...(typeof call.requestId === "string" ? { requestId: call.requestId } : {}),
              },
              opened,
            );
            if (answerDelayMs > 0) await new Promise((r) => setTimeout(r, answerDelayMs));
          } finally {
            keepAlive.cancel();
          }
          send(socket, { id: request.id, ok: true, data: answer });
          return;
        }
        case "dashboard": {
          if (pastDeadline(params)) throw late("dashboard", params);
          const keepAlive = acknowledge(socket, request.id, params);
          try {
            if (params.stop === true) {
              send(socket, { id: request.id, ok: true, data: await dashboard.stop() });
              return;
            }
            const port = params.port;
            if (
              port !== undefined &&
              !(Number.isInteger(port) && (port as number) >= 0 && (port as number) <= 65_535)
            )
              throw new BatonError("INVALID_INPUT", "port must be an integer from 0 to 65535");
            const answer = await dashboard.ensure({
              readOnly: params.readOnly === true,
              cwd: typeof params.cwd === "string" ? params.cwd : home,
              ...(port === undefined ? {} : { port: port as number }),
            });
            send(socket, { id: request.id, ok: true, data: answer });
          } finally {
            keepAlive.cancel();
          }
          return;
        }
        case "shutdown":
          // Like a served call (D135): a `daemon stop` that gave up on this daemon (stopped, then
          // resumed) was refused DAEMON_UNRESPONSIVE; obeying it now would make that refusal false.
          if (typeof params.answerBy === "number" && Date.now() > params.answerBy) {
            log("shutdown request ignored: it arrived past its deadline (its caller gave up)");
            send(socket, { id: request.id, ok: true, data: { ignored: true } });
            return;
          }
          send(socket, { id: request.id, ok: true, data: {} });
          void shutdown("shutdown request");
          return;
        default:
          throw new BatonError("INVALID_INPUT", `unknown daemon method '${String(request.method)}'`);
      }
    } catch (error) {
      const e = toBatonError(error);
      send(socket, { id: request.id, ok: false, error: e.toJSON() });
    }
  }

  // Jobs finished by other processes (agents completing checkpoints) are noticed within a second.
  // No timer, event or request of the daemon may leave a promise rejecting unhandled: Node would end
  // the daemon. Each is caught and logged where it starts.
  const logged = (what: string) => (error: unknown) => log(`${what}: ${(error as Error).message}`);
  const waiterSweep = every(1000, () => {
    void (async () => {
      for (const w of [...waiters]) {
        const job = await store.getJob(w.jobId);
        if (job === undefined || isTerminal(job.state))
          notifyFinished(job ?? ({ id: w.jobId, state: "cancelled" } as Job));
      }
    })().catch(logged("waiters"));
  });

  // The lock renewal is the daemon's heartbeat in the host registry too.
  const renew = every(LOCK_TTL_MS / 3, () => {
    // A renewal that fails (a full disk, the database away) is tried again at the next beat; the
    // lock is lost only when another process took it.
    void store
      .renewLock(lockName, lockToken, LOCK_TTL_MS)
      .then((held) => {
        if (!held && !stopping) {
          log("lost the daemon lock to another process; exiting");
          void shutdown("lock lost");
        }
      })
      .catch(logged("daemon lock"));
    if (!stopping) void registration.heartbeat(supervisor.runningCount).catch(logged("host registry"));
  });

  // Cron schedules of configured tasks: fired on the scheduler's tick (R-18: once per slot).
  const taskScheduler = new TaskScheduler({ engine, home, actor: "scheduler", log });
  await syncPersonalSchedules(engine, home).catch((error: unknown) =>
    log(`personal schedules: ${(error as Error).message}`),
  );

  // The scheduler: recover expired leases and start due work; sleep until the next due job.
  let scheduleTimer: Timer | undefined;
  let scheduleDue = Number.POSITIVE_INFINITY;
  const arm = (delay: number, run: () => Promise<void>): void => {
    scheduleTimer?.cancel();
    scheduleDue = Date.now() + delay;
    scheduleTimer = after(delay, () => void run());
  };
  const schedule = async (): Promise<void> => {
    if (stopping) return;
    try {
      await engine.recover(100);
      await taskScheduler.tick();
      await supervisor.tick();
      const next = await store.nextRunAt();
      // A job due already but not claimable (limits full, agent-managed) must not make this a
      // 10 ms busy loop: a finishing command or a `wake` starts it; only future run_at need a timer.
      const delay = Math.min(
        await taskScheduler.nextWake(5000),
        next === null || next <= Date.now() ? 5000 : Math.min(5000, Math.max(10, next - Date.now())),
      );
      arm(delay, schedule);
    } catch (error) {
      log(`scheduler: ${(error as Error).message}`);
      arm(1000, schedule);
    }
  };
  /**
   * Be awake at `at` (a retry just scheduled): start due work first, then the usual round. The
   * idle tick is up to 5 s, which made retries due in 0.9 s start 2 to 3 s late.
   */
  wakeBy = (at: number): void => {
    if (stopping || at >= scheduleDue) return;
    arm(Math.max(0, at - Date.now()), async () => {
      await supervisor.tick().catch((error: unknown) => log(`scheduler: ${(error as Error).message}`));
      await schedule();
    });
  };

  /** Stop; never rejects (it runs from signals and requests): a failing step is logged. */
  function shutdown(reason: string): Promise<void> {
    return stopAll(reason).catch((error: unknown) => {
      log(`shutdown: ${(error as Error).message}`);
      resolveDone(1);
    });
  }

  async function stopAll(reason: string): Promise<void> {
    if (stopping) return;
    stopping = true;
    supervisor.stopClaiming();
    // First: a dashboard request must not reach this daemon (or start another one) from here on.
    await dashboard.close().catch((error: unknown) => log(`dashboard: ${(error as Error).message}`));
    log(`shutting down (${reason}); waiting up to ${shutdownGraceMs} ms for running commands`);
    scheduleTimer?.cancel();
    await supervisor.shutdown(shutdownGraceMs);
    renew.cancel();
    waiterSweep.cancel();
    for (const w of waiters) dropWaiter(w);
    server.close();
    rmSync(path, { force: true });
    rmSync(daemonInfoPath(home), { force: true });
    await registration.remove().catch(() => undefined);
    await store.releaseLock(lockName, lockToken);
    await store.close();
    log(`stopped; ${supervisor.runningCount} command(s) left running for the next daemon to re-attach`);
    resolveDone(0);
  }

  process.once("SIGTERM", () => void shutdown("SIGTERM"));
  process.once("SIGINT", () => void shutdown("SIGINT"));

  await registration.heartbeat(0);
  await supervisor.start();
  // Task runs whose daemon died while it ran their hooks: settled, their hooks not run again (D126).
  void settleStranded({ engine, home, actor: owner, log }).catch((error: unknown) =>
    log(`could not settle the task runs of a daemon that died: ${String(error)}`),
  );
  void schedule();
  return done;
}
