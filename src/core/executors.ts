/**
 * The job types the daemon's executors run as processes, declared once. The supervisor claims
 * exactly these (it refuses to start with a kind whose prefix is not here), and the checkpoint
 * operations refuse them (`RESERVED_TYPE`): only the operation made for each type creates its
 * jobs, so an agent that may record work cannot start a process by naming a type (R-37, D41).
 *
 * Matching is the claim's own: `command` exactly, the prefixes byte for byte (case-sensitive, as
 * the stores' claim queries compare them). The checkpoint operations refuse look-alikes too
 * (`Command`, full-width, zero-width characters: {@link foldType}) and create only types of
 * {@link JOB_TYPE_CHARACTERS} (D87).
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
  /**
   * Which jobs of this reservation an idempotency key deduplicates to (D137): `type`, only the
   * same type (a command to a command, `task:backup` to `task:backup`); `kind`, any type under
   * the prefix (an agent job to an agent job, whichever agent runs it).
   */
  keyShared: "type" | "kind";
}

export const RESERVED_TYPES: readonly ReservedType[] = [
  {
    type: COMMAND_TYPE,
    match: "exact",
    what: "background command",
    create: "run_command",
    stop: "stop_job",
    keyShared: "type",
  },
  {
    type: TASK_TYPE_PREFIX,
    match: "prefix",
    what: "configured-task run",
    create: "run_task",
    stop: "stop_job",
    keyShared: "type",
  },
  {
    type: AGENT_TYPE_PREFIX,
    match: "prefix",
    what: "agent job",
    create: "agent_submit",
    alsoCreatedBy: ["agent_continue", "delegate"],
    stop: "agent_cancel",
    keyShared: "kind",
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

/**
 * True when a job of type `wanted`, enqueued with an idempotency key that a job of type `held`
 * holds, may be answered with that job (D137): the operation asking could have created it. Two
 * types no executor runs (checkpoints, library handler types) share keys as before; an executor
 * type shares them only with its own type or kind, so a checkpoint cannot stand in for a command
 * (and be completed as if it had run), nor a command for a checkpoint.
 */
export function keySharedBetween(held: string, wanted: string): boolean {
  const h = reservationOf(held);
  const w = reservationOf(wanted);
  if (h === undefined || w === undefined) return h === w;
  return h === w && (h.keyShared === "kind" || held === wanted);
}

/**
 * The key prefix of a schedule's slot (`schedule:<place>#<task>@<slot>`): the scheduler fires a
 * slot once by enqueueing its task run under that key. Only a run of a configured task may hold
 * one, so no other job (an agent's checkpoint, a command) can take a slot's key first and make it
 * pass without a run.
 */
export const SCHEDULE_KEY_PREFIX = "schedule:";

/** True when a job of `type` may hold idempotency key `key` at all (see SCHEDULE_KEY_PREFIX). */
export function mayHoldKey(type: string, key: string): boolean {
  return !key.startsWith(SCHEDULE_KEY_PREFIX) || type.startsWith(TASK_TYPE_PREFIX);
}

/** What a job of this type is, for a message, with its article: "an agent job", "a checkpoint". */
export function kindOfType(type: string): string {
  return withArticle(reservationOf(type)?.what ?? "checkpoint");
}

function withArticle(noun: string): string {
  return `${/^[aeiou]/.test(noun) ? "an" : "a"} ${noun}`;
}

/**
 * A type as a reader sees it (D87): NFKC (full-width `ｃｏｍｍａｎｄ` and `：` become ASCII), without
 * default-ignorable code points (zero-width spaces and joiners, soft hyphens, variation
 * selectors), lower-cased. `Command`, `com\u200Dmand` and `ＴＡＳＫ:x` read as `command` and `task:x`.
 */
export function foldType(type: string): string {
  return type
    .normalize("NFKC")
    .replace(/\p{Default_Ignorable_Code_Point}/gu, "")
    .toLowerCase();
}

/**
 * The reservation a type falls under or reads as: the claim's own byte-for-byte match, else a
 * look-alike whose {@link foldType} is reserved. Checkpoint operations refuse both (D87).
 */
export function reservationOrLookalikeOf(type: string): ReservedType | undefined {
  return reservationOf(type) ?? reservationOf(foldType(type));
}

/**
 * The characters a job type made by a checkpoint operation may hold (D87): ASCII letters, digits
 * and `_ - . : / @ +`. Anything else (Cyrillic `с`, Greek `ο`, full-width forms, spaces, marks)
 * could make one type pass for another on a screen or in a log; the library's engine, which runs
 * in its caller's own process, does not apply it.
 */
export const JOB_TYPE_CHARACTERS = /^[A-Za-z0-9_.:/@+-]+$/;

/** A type shown in a message with everything outside printable ASCII escaped, so a look-alike shows. */
export function shownType(type: string): string {
  let out = "";
  for (const ch of type) {
    const code = ch.codePointAt(0) ?? 0;
    out += code >= 0x20 && code < 0x7f ? ch : `\\u{${code.toString(16)}}`;
  }
  return out;
}

/**
 * The check of a type a checkpoint operation is asked to create (D87): refuse an executor type or a
 * look-alike of one (`RESERVED_TYPE`, naming the operation made for it), then any type outside
 * {@link JOB_TYPE_CHARACTERS} (`INVALID_INPUT`).
 */
export function checkCheckpointType(type: string, operation: string): void {
  refuseReserved(type, operation, "create");
  if (!JOB_TYPE_CHARACTERS.test(type))
    throw new BatonError(
      "INVALID_INPUT",
      `${operation}: job type '${shownType(type)}' may hold only ASCII letters, digits and _ - . : / @ + ` +
        "(a type made of other characters could pass for another one)",
      { details: { type, operation } },
    );
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
  const r = reservationOrLookalikeOf(type);
  if (r === undefined) return;
  const folded = foldType(type);
  const reads = reservationOf(type) === undefined ? ` (it reads as '${shownType(folded)}')` : "";
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
    `${operation} does not ${action} '${shownType(type)}' jobs${reads}: ${withArticle(r.what)} runs a process, so ${instead}`,
    { details: { type, operation, use } },
  );
}
