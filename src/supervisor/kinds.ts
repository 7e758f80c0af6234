/**
 * What the supervisor runs: a command payload, and the kinds of job (configured tasks, agent jobs)
 * that run a process like a command but decide for themselves what its end means.
 */
import type { Job } from "../core/job.js";

/** What a command job's payload holds. */
export interface CommandPayload {
  argv: string[];
  cwd: string;
  timeoutMs?: number;
  idleTimeoutMs?: number;
  killGraceMs?: number;
  /** Where it may run: `host:<name>` (the submitting host) or `pool:<name>`; see ./hosts.ts. */
  affinity?: string;
}

export function isCommandPayload(value: unknown): value is CommandPayload {
  const v = value as Partial<CommandPayload> | null;
  return (
    typeof v === "object" &&
    v !== null &&
    Array.isArray(v.argv) &&
    v.argv.length > 0 &&
    v.argv.every((a) => typeof a === "string") &&
    typeof v.cwd === "string"
  );
}

/**
 * Jobs the supervisor runs besides `command`, chosen by type prefix (configured tasks: `task:`).
 * Their payload is a {@link CommandPayload} too; the kind decides what the process's end means and
 * what follows it (hooks, notifications, locks).
 */
export interface ProcessKind {
  typePrefix: string;
  /** Before the process starts. A string refuses the attempt (failed, not retried) with that reason. */
  beforeStart?(job: Job, attempt: number, dir: string): Promise<string | undefined>;
  /** While the process runs (and after a re-attach): e.g. follow its output. Closed when it ends. */
  follow?(job: Job, attempt: number, dir: string): { close(): Promise<void> };
  /** What an exit code (not a signal) means. Without it, 0 succeeds and anything else fails. */
  outcome?(
    job: Job,
    attempt: number,
    dir: string,
    exitCode: number,
  ): Promise<{ ok: true; result: unknown } | { ok: false; error: string }>;
  /** A file the process reads on stdin (else /dev/null), prepared in the attempt's `dir`. */
  stdin?(job: Job, attempt: number, dir: string): string | undefined;
  /**
   * Types of this kind not to claim now (their concurrency limits are reached), given the jobs this
   * supervisor runs. Called before each claim.
   */
  excludeTypes?(running: readonly Job[]): Promise<string[]>;
  /** After the attempt's outcome was recorded, with the run's saved environment (if any). */
  finished?(job: Job, attempt: number, dir: string, env: NodeJS.ProcessEnv | undefined): Promise<void>;
}
