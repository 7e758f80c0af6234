/**
 * The {@link CommandHost} front-ends hand to the command operations: the run files of the data
 * dir plus the daemon, started on demand.
 */
import { existsSync, statfsSync } from "node:fs";
import type { CommandHost, DaemonStatus, LogStreamName } from "../ops/operation.js";
import type { LogChunk } from "../supervisor/run-dir.js";
import {
  attemptDir,
  checkWritable,
  loadEnding,
  loadProcess,
  logPath,
  readLogChunk,
  removeJobFiles,
  saveEnv,
  tailLog,
  wrapperStarted,
} from "../supervisor/run-dir.js";
import type { DaemonClient } from "./daemon-client.js";
import { DaemonClient as Client, daemonUnresponsive, ensureDaemon } from "./daemon-client.js";
import { sleep } from "../core/timer.js";
import { BatonError } from "../core/errors.js";

export class LocalCommandHost implements CommandHost {
  readonly home: string;
  private client: DaemonClient | undefined;
  /** Closed for good ({@link close}): nothing connects to the daemon again, a long poll ends. */
  private closed = false;

  /** `ledger`: the store's `ledger` name (D134), marked beside the jobs' run folders. */
  constructor(
    home: string,
    private readonly ledger?: string,
  ) {
    this.home = home;
  }

  private async daemon(): Promise<DaemonClient> {
    if (this.closed) throw closedError();
    if (this.client === undefined || this.client.isClosed) this.client = await ensureDaemon(this.home);
    return this.client;
  }

  async ready(): Promise<void> {
    await this.daemon();
    checkWritable(this.home);
  }

  saveEnv(jobId: string, env: NodeJS.ProcessEnv): void {
    saveEnv(this.home, jobId, env, this.ledger);
  }

  /**
   * One request to the daemon. One that does not answer within its window (stopped, hung) is
   * `DAEMON_UNRESPONSIVE` saying what that left undone (`said`, told whether the daemon had taken
   * the request before it went silent; D138); the connection is dropped, so the next request
   * connects afresh.
   */
  private async request<T>(
    method: string,
    params: Record<string, unknown>,
    said: (taken: boolean) => { said: string; details: Record<string, unknown> },
  ): Promise<T> {
    const client = await this.daemon();
    try {
      return await client.request<T>(method, params);
    } catch (error) {
      if ((error as { code?: string }).code !== "DAEMON_UNRESPONSIVE") throw error;
      if (this.client === client) this.drop();
      else client.close();
      const taken = (error as BatonError).details?.acknowledged === true;
      throw daemonUnresponsive(this.home, undefined, undefined, said(taken));
    }
  }

  /** A daemon that dies under the call is replaced (ensureDaemon starts another) and woken. */
  async wake(queued: readonly string[] = []): Promise<void> {
    const ids = queued.join(", ");
    const hint = queued.length === 1 ? `baton wait ${queued[0]}` : "baton wait <id>";
    const said =
      queued.length === 0
        ? "It was not woken; queued jobs start when it resumes or another daemon replaces it."
        : `${queued.length === 1 ? "Job" : "Jobs"} ${ids} ${queued.length === 1 ? "is" : "are"} queued (in the ledger) and will run ` +
          `when this daemon resumes or another replaces it: do not run ${queued.length === 1 ? "it" : "them"} again; ` +
          `follow ${queued.length === 1 ? "it" : "them"} with ${hint}.`;
    await replacedOnLoss(3, () =>
      this.request("wake", {}, () => ({ said, details: { jobIds: [...queued] } })),
    );
  }

  /**
   * A daemon that dies under the stop (killed) is replaced and asked again under the same `stopId`:
   * a stop is idempotent (D148), and giving up would leave its caller unable to tell whether the
   * job was stopped (stranger s17h: `STORE_UNAVAILABLE` "the daemon went away", the job ran on).
   */
  async stop(jobId: string, force: boolean, stopId?: string): Promise<void> {
    await replacedOnLoss(5, () => this.stopOnce(jobId, force, stopId));
  }

  private async stopOnce(jobId: string, force: boolean, stopId?: string): Promise<void> {
    await this.request("stop", { jobId, force, ...(stopId === undefined ? {} : { stopId }) }, (taken) =>
      taken
        ? {
            said:
              `It took the stop of job ${jobId} but did not confirm it: the job may or may not be stopping; ` +
              `see baton status ${jobId} once the daemon answers.`,
            details: { jobId, sent: true },
          }
        : {
            said:
              `Job ${jobId} was not stopped: the stop was not taken, and this daemon refuses it when it resumes ` +
              `(past its deadline); stop it again then.`,
            details: { jobId, sent: false },
          },
    );
  }

  async signal(jobId: string, pause: boolean): Promise<boolean> {
    const answer = await this.request<{ signalled: boolean }>("signal", { jobId, pause }, () => ({
      said:
        `Job ${jobId} was not ${pause ? "paused" : "resumed"}: the signal was not sent, and this daemon refuses it ` +
        `when it resumes (past its deadline); ${pause ? "pause" : "resume"} it again then.`,
      details: { jobId, sent: false },
    }));
    return answer.signalled;
  }

  /** Long-polls the daemon; survives a daemon restart by reconnecting (and restarting it). */
  async waitFor(jobId: string, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      try {
        const answer = await this.request<{ finished: boolean }>("wait", { jobId, timeoutMs: left }, () => ({
          said:
            `Waiting for job ${jobId} ended here: this daemon records its end, and the job goes on when it ` +
            `resumes or another replaces it; wait for it again then: baton wait ${jobId}.`,
          // jobIds too: `run --wait` names its jobs there whether it was queuing or waiting (D149).
          details: { jobId, jobIds: [jobId] },
        }));
        return answer.finished;
      } catch (error) {
        // The daemon went away: wait on its successor, unless this host was closed under the wait.
        if ((error as { code?: string }).code !== "STORE_UNAVAILABLE" || this.closed) throw error;
        await sleep(50);
      }
    }
  }

  stoppedBy(jobId: string, attempt: number): string | undefined {
    return loadEnding(attemptDir(this.home, jobId, attempt))?.stopId;
  }

  logPath(jobId: string, attempt: number): string {
    return logPath(this.home, jobId, attempt);
  }

  readLog(jobId: string, attempt: number, stream: LogStreamName, lines: number | "all"): string {
    return tailLog(attemptDir(this.home, jobId, attempt), stream, lines);
  }

  hasLog(jobId: string, attempt: number): boolean {
    return existsSync(attemptDir(this.home, jobId, attempt));
  }

  removeJobFiles(jobIds: readonly string[]): void {
    for (const id of jobIds) removeJobFiles(this.home, id);
  }

  readLogChunk(
    jobId: string,
    attempt: number,
    stream: LogStreamName,
    offset: number | undefined,
    max: number,
  ): LogChunk {
    return readLogChunk(attemptDir(this.home, jobId, attempt), stream, offset, max);
  }

  started(jobId: string, attempt: number): boolean {
    const dir = attemptDir(this.home, jobId, attempt);
    return loadProcess(dir) !== undefined || wrapperStarted(dir);
  }

  processOf(jobId: string, attempt: number): { pid: number } | undefined {
    const record = loadProcess(attemptDir(this.home, jobId, attempt));
    return record === undefined ? undefined : { pid: record.pid };
  }

  /**
   * Read, never written: a "why waiting" answer must not write a probe file on every call (the
   * dashboard asks for each job it shows). A disk with no block left for an unprivileged writer is
   * full; one that fills between this and the daemon's start is the daemon's STORAGE_FULL to log.
   */
  homeFull(): string | undefined {
    let free: number;
    try {
      free = statfsSync(this.home).bavail;
    } catch {
      return undefined; // no home yet: nothing of it is full
    }
    return free === 0 ? `the disk holding BATON_HOME ${this.home} is full` : undefined;
  }

  async daemonStatus(): Promise<DaemonStatus> {
    const client =
      this.client !== undefined && !this.client.isClosed ? this.client : await Client.connect(this.home);
    if (client === undefined) return { running: false };
    try {
      const status = await client.ask<{
        pid: number;
        running: string[];
        limits: { maxRunning: number; maxPerProject: number };
        dashboard?: string;
      }>("status");
      // It holds its socket but does not answer: stopped or hung (D135).
      if (status === undefined) {
        const e = daemonUnresponsive(this.home);
        return {
          running: true,
          responding: false,
          ...(typeof e.details?.pid === "number" ? { pid: e.details.pid } : {}),
          problem: e.message,
        };
      }
      return {
        running: true,
        pid: status.pid,
        running_jobs: status.running,
        limits: { maxRunning: status.limits.maxRunning, maxPerProject: status.limits.maxPerProject },
        ...(status.dashboard === undefined ? {} : { dashboard: status.dashboard }),
      };
    } finally {
      if (client !== this.client) client.close();
    }
  }

  /** Drop the connection: the next request connects afresh. */
  private drop(): void {
    this.client?.close();
    this.client = undefined;
  }

  /**
   * Close for good: a request waiting on the daemon (a long poll of `waitFor`) ends at once with
   * STORE_UNAVAILABLE, and none connects again. Without it a closed front-end's pending wait
   * reconnected, and that connection kept the process alive after its store had closed.
   */
  close(): void {
    this.closed = true;
    this.drop();
  }
}

function closedError(): BatonError {
  return new BatonError(
    "STORE_UNAVAILABLE",
    "this baton process is shutting down: call again once it is back",
  );
}

/**
 * Run a daemon request; when its daemon went away under it (killed: STORE_UNAVAILABLE), run it
 * again, up to `tries` times in all, with the daemon `ensureDaemon` starts. Only for requests that
 * are idempotent (a wake; a stop under its stop id, D148).
 */
async function replacedOnLoss<T>(tries: number, call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if ((error as { code?: string }).code !== "STORE_UNAVAILABLE" || attempt >= tries) throw error;
    }
  }
}
