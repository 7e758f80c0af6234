import { z } from "zod";
import type { RequestScope } from "../core/request.js";
import type { Engine } from "../engine/engine.js";
import { PROCESS_STARTING_OPERATIONS } from "../core/executors.js";
import type { LogChunk } from "../supervisor/run-dir.js";

/** What every operation handler may use. Front-ends build one per call. */
export interface OpContext {
  engine: Engine;
  /** The caller's working directory (for the default project). */
  cwd: string;
  /** Who is acting, recorded in events: "cli", "mcp", "http"… */
  actor: string;
  /** Where the store lives, for display (file path or redacted URL). */
  location: string;
  /** The caller's environment, for commands it starts (never stored in the ledger). */
  env?: NodeJS.ProcessEnv;
  /** Access to the daemon and run files; front-ends that can start commands provide it. */
  commands?: CommandHost;
  /**
   * The caller's request id: a mutating operation given one records its writes under it,
   * and a repeat with the same id answers the first call's outcome instead of doing the work again.
   */
  requestId?: string;
  /** Set by {@link invoke} while a mutating operation runs under {@link requestId}. */
  request?: RequestScope;
}

export type LogStreamName = "output" | "stdout" | "stderr";

/** What command operations need from the daemon and the data dir, provided by the front-end. */
export interface CommandHost {
  /** The BATON_HOME whose daemon runs these jobs (their environment files and logs are there). */
  readonly home: string;
  /** Keep the environment a job's process runs with (a 0600 file, deleted when it finishes). */
  saveEnv(jobId: string, env: NodeJS.ProcessEnv): void;
  /**
   * Make sure the daemon runs (start it when none does), before a job it must run is queued: a
   * daemon that cannot start fails the call with nothing queued, so a retry cannot run it twice;
   * so does a home whose disk is full (STORAGE_FULL).
   */
  ready(): Promise<void>;
  /**
   * Make sure the daemon runs, and have it look at the queue now. `queued`: the jobs just queued
   * for it, named in the error of a daemon that does not answer (D138).
   */
  wake(queued?: readonly string[]): Promise<void>;
  /**
   * Ask the daemon to stop a job (SIGTERM, grace, SIGKILL; at once with `force`). `stopId` names
   * the stop call; the daemon keeps it with the stop (D148), for {@link stoppedBy}.
   */
  stop(jobId: string, force: boolean, stopId?: string): Promise<void>;
  /** The `stopId` of the stop that ended this attempt's process, when this home ran it and baton stopped it. */
  stoppedBy?(jobId: string, attempt: number): string | undefined;
  /** Pause (SIGSTOP) or resume (SIGCONT) a job's running process group; false when the daemon does not run it. */
  signal(jobId: string, pause: boolean): Promise<boolean>;
  /** Resolve true when the job finished, false when `timeoutMs` passed first. */
  waitFor(jobId: string, timeoutMs: number): Promise<boolean>;
  /** The file an attempt's output is stored in: stdout and stderr merged by line (D56). */
  logPath(jobId: string, attempt: number): string;
  /** The last `lines` lines of one view of an attempt's log ("all": all of it). */
  readLog(jobId: string, attempt: number, stream: LogStreamName, lines: number | "all"): string;
  /** Whether this home has the attempt's run folder (on a shared ledger it may be another home's). */
  hasLog(jobId: string, attempt: number): boolean;
  /** Remove the jobs' run folders (logs, environment) from this home. */
  removeJobFiles(jobIds: readonly string[]): void;
  /** At most `max` bytes of a log from `offset` (default, or past its end: its last `max` bytes). */
  readLogChunk(
    jobId: string,
    attempt: number,
    stream: LogStreamName,
    offset: number | undefined,
    max: number,
  ): LogChunk;
  /** Whether an attempt's command was started (its wrapper ran), as its run folder tells. */
  started(jobId: string, attempt: number): boolean;
  /** The pid of an attempt's process group, when it was started. */
  processOf(jobId: string, attempt: number): { pid: number } | undefined;
  daemonStatus(): Promise<DaemonStatus>;
  /**
   * Why this home cannot take a job's files now (its disk is full: the daemon cannot start a
   * command there), or undefined when it can. A probe write ({@link checkWritable}).
   */
  homeFull(): string | undefined;
}

/** What the daemon says about itself; `running: false` when no daemon answers. */
export interface DaemonStatus {
  running: boolean;
  pid?: number;
  running_jobs?: string[];
  limits?: { maxRunning: number; maxPerProject: number };
  /** The daemon-hosted dashboard's address (no token), when `baton dashboard` started it. */
  dashboard?: string;
  /** false: it holds its socket but did not answer in time (stopped, hung; D135). */
  responding?: boolean;
  /** What is wrong with it and how to recover, when it does not answer. */
  problem?: string;
}

/** How an operation shows up as an MCP tool: in the small default set, only in `--tools full`, or never. */
export type AgentExposure = "default" | "full" | "none";

/**
 * What an operation can do beyond reading and writing ledger rows, declared once: the MCP
 * annotations (and the HTTP API's `destructive`) are derived from it, and `install-mcp` never lets
 * a host run such an operation without asking. An operation that creates a job an executor of the
 * daemon runs is known to start a process from `src/core/executors.ts` without declaring it.
 */
export interface OperationEffects {
  /** Starts a process, now or later (a job the daemon runs, a unit the OS scheduler starts). */
  startsProcess?: boolean;
  /** Deletes or hides data that cannot be had back (jobs, their events, run folders). */
  deletesData?: boolean;
  /** Reaches beyond this machine's ledger: the network, other systems. */
  network?: boolean;
}

/** The hints a host reads to decide whether to ask before a call (the MCP spec's annotations). */
export interface OperationHints {
  readOnly: boolean;
  destructive: boolean;
  idempotent: boolean;
  openWorld: boolean;
}

/**
 * One user-facing operation, defined once. The CLI, MCP server and HTTP API register over these;
 * a parity test checks that every operation is reachable from each front-end that should have it.
 */
export interface Operation<I extends z.ZodType = z.ZodType, O extends z.ZodType = z.ZodType> {
  /** snake_case; the MCP tool name and the HTTP route (`POST /api/ops/<name>`). */
  name: string;
  title: string;
  /** One or two sentences an agent reads to decide whether to call it. */
  summary: string;
  input: I;
  output: O;
  readOnly: boolean;
  /**
   * Changes something that cannot be had back beyond what {@link effects} say (ends a process,
   * cancels work). {@link defineOperation} ORs in the effects: the defined operation's value is
   * the derived one.
   */
  destructive: boolean;
  idempotent: boolean;
  /** What it can do beyond the ledger's rows; absent: nothing. */
  effects?: OperationEffects;
  agent: AgentExposure;
  run(input: z.output<I>, ctx: OpContext): Promise<z.output<O>>;
}

/** An operation's effects: its declaration, plus a process start when it creates executor jobs. */
export function effectsOf(op: Pick<Operation, "name" | "effects">): Required<OperationEffects> {
  return {
    startsProcess: op.effects?.startsProcess === true || PROCESS_STARTING_OPERATIONS.includes(op.name),
    deletesData: op.effects?.deletesData === true,
    network: op.effects?.network === true,
  };
}

/**
 * The hints derived from the effects: starting a process or deleting data is destructive, starting
 * a process or reaching the network is open-world, and an operation with any effect is not read-only.
 */
export function hintsOf(
  op: Pick<Operation, "name" | "effects" | "readOnly" | "destructive" | "idempotent">,
): OperationHints {
  const e = effectsOf(op);
  const any = e.startsProcess || e.deletesData || e.network;
  return {
    readOnly: op.readOnly && !any,
    destructive: op.destructive || e.startsProcess || e.deletesData,
    idempotent: op.idempotent,
    openWorld: e.startsProcess || e.network,
  };
}

/** True when a host must ask its user before each call (never on an auto-approve list). */
export function needsConsent(op: Operation): boolean {
  const h = hintsOf(op);
  return h.destructive || h.openWorld;
}

/** Declare an operation with its types inferred from the schemas. */
export function defineOperation<I extends z.ZodType, O extends z.ZodType>(
  op: Operation<I, O>,
): Operation<I, O> {
  const hints = hintsOf(op);
  if (op.readOnly && !hints.readOnly)
    throw new Error(
      `operation ${op.name} is declared readOnly but has effects ${JSON.stringify(effectsOf(op))}`,
    );
  const derived = { ...op, destructive: hints.destructive };
  // Unknown keys are errors, not silently dropped: a misspelt `evidnce` must not lose the evidence.
  if (op.input instanceof z.ZodObject) return { ...derived, input: op.input.strict() as unknown as I };
  return derived;
}
