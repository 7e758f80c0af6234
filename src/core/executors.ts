/**
 * The job types the daemon's executors run as processes, declared once. The supervisor claims
 * exactly these (it refuses to start with a kind whose prefix is not here), and the checkpoint
 * operations refuse them (`RESERVED_TYPE`): only the operation made for each type creates its
 * jobs, so an agent that may record work cannot start a process by naming a type (R-37, D41).
 *
 * Matching is the claim's own: `command` exactly, the prefixes byte for byte (case-sensitive, as
 * the stores' claim queries compare them).
 */
import { BatonError } from "./errors.js";

/** A background command: argv run by the supervisor. */
export const COMMAND_TYPE = "command";
/** Runs of a configured task of baton.yaml: `task:<name>`. */
export const TASK_TYPE_PREFIX = "task:";
/** Agent jobs: instructions handed to an agent CLI, `agent:<name>`. */
export const AGENT_TYPE_PREFIX = "agent:";

export interface ReservedType {
  /** The exact type, or the prefix of the types. */
  type: string;
  match: "exact" | "prefix";
  /** What these jobs are, for messages. */
  what: string;
  /** The operation that creates them (named in refusals). */
  create: string;
  /** Other operations that create them too. */
  alsoCreatedBy?: readonly string[];
  /** The operation that ends one early. */
  stop: string;
}

export const RESERVED_TYPES: readonly ReservedType[] = [
  { type: COMMAND_TYPE, match: "exact", what: "background command", create: "run_command", stop: "stop_job" },
  {
    type: TASK_TYPE_PREFIX,
    match: "prefix",
    what: "configured-task run",
    create: "run_task",
    stop: "stop_job",
  },
  {
    type: AGENT_TYPE_PREFIX,
    match: "prefix",
    what: "agent job",
    create: "agent_submit",
    alsoCreatedBy: ["agent_continue", "delegate"],
    stop: "agent_cancel",
  },
];

/** The operation that runs an executor job again (with the caller's environment brought back). */
export const RERUN_OPERATION = "retry_job";

/**
 * Every operation that makes the daemon start a process: the creators of each reserved type and
 * {@link RERUN_OPERATION}. Their annotations are derived from this (destructive, open-world), and
 * no host is told to run them without asking.
 */
export const PROCESS_STARTING_OPERATIONS: readonly string[] = [
  ...new Set([...RESERVED_TYPES.flatMap((r) => [r.create, ...(r.alsoCreatedBy ?? [])]), RERUN_OPERATION]),
];

/** The reservation a job type falls under, if an executor runs it. */
export function reservationOf(type: string): ReservedType | undefined {
  return RESERVED_TYPES.find((r) => (r.match === "exact" ? type === r.type : type.startsWith(r.type)));
}

/** The operation that creates jobs of this type, when an executor runs them; else undefined. */
export function reservedTypeOwner(type: string): string | undefined {
  return reservationOf(type)?.create;
}

/** True when an executor of the daemon runs jobs of this type as a process. */
export function runsProcess(type: string): boolean {
  return reservationOf(type) !== undefined;
}

/** True when `prefix` is one of the reserved prefixes (the supervisor checks its kinds with it). */
export function isReservedPrefix(prefix: string): boolean {
  return RESERVED_TYPES.some((r) => r.match === "prefix" && r.type === prefix);
}

/**
 * Refuse a checkpoint operation (`operation`) touching an executor-run type: creating one
 * ("create") or finishing one ("finish"). The message names the operation to use instead.
 */
export function refuseReserved(
  type: string,
  operation: string,
  action: "create" | "finish" | "claim" | "requeue",
): void {
  const r = reservationOf(type);
  if (r === undefined) return;
  const [instead, use] =
    action === "create"
      ? [`create it with ${r.create}`, r.create]
      : action === "claim"
        ? [`the daemon runs them; start one with ${r.create}`, r.create]
        : action === "requeue"
          ? [
              `run it again with ${RERUN_OPERATION} (it brings back the caller's environment)`,
              RERUN_OPERATION,
            ]
          : [`the daemon records its outcome; end it early with ${r.stop}`, r.stop];
  throw new BatonError(
    "RESERVED_TYPE",
    `${operation} does not ${action} '${type}' jobs: a ${r.what} runs a process, so ${instead}`,
    { details: { type, operation, use } },
  );
}
