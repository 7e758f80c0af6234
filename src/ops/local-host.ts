/**
 * The {@link CommandHost} front-ends hand to the command operations: the run files of the data
 * dir plus the daemon, started on demand.
 */
import { existsSync } from "node:fs";
import type { CommandHost, DaemonStatus, LogStreamName } from "../ops/operation.js";
import type { LogChunk } from "../supervisor/run-dir.js";
import {
  attemptDir,
  checkWritable,
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

export class LocalCommandHost implements CommandHost {
  readonly home: string;
  private client: DaemonClient | undefined;

  /** `ledger`: the store's `ledger` name (D134), marked beside the jobs' run folders. */
  constructor(
    home: string,
    private readonly ledger?: string,
  ) {
    this.home = home;
  }

  private async daemon(): Promise<DaemonClient> {
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

  /** A daemon that dies under the call is replaced (ensureDaemon starts another) and woken. */
  async wake(): Promise<void> {
    for (let tries = 1; ; tries++) {
      try {
        await (await this.daemon()).request("wake");
        return;
      } catch (error) {
        if ((error as { code?: string }).code !== "STORE_UNAVAILABLE" || tries >= 3) throw error;
      }
    }
  }

  async stop(jobId: string, force: boolean): Promise<void> {
    await (await this.daemon()).request("stop", { jobId, force });
  }

  async signal(jobId: string, pause: boolean): Promise<boolean> {
    const answer = await (await this.daemon()).request<{ signalled: boolean }>("signal", { jobId, pause });
    return answer.signalled;
  }

  /** Long-polls the daemon; survives a daemon restart by reconnecting (and restarting it). */
  async waitFor(jobId: string, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      try {
        const answer = await (
          await this.daemon()
        ).request<{ finished: boolean }>("wait", { jobId, timeoutMs: left });
        return answer.finished;
      } catch (error) {
        if ((error as { code?: string }).code !== "STORE_UNAVAILABLE") throw error;
        await sleep(50);
      }
    }
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

  close(): void {
    this.client?.close();
    this.client = undefined;
  }
}
