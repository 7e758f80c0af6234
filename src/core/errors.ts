/**
 * Errors with stable string codes. Every error baton raises on purpose is a {@link BatonError};
 * front-ends map `code` to an exit code (CLI), a tool error (MCP) or an HTTP status.
 * `docs/errors.md` lists every code; a test keeps the two in step.
 */
import { statSync } from "node:fs";
import { dirname, resolve } from "node:path";

export const ERROR_CODES = {
  INVALID_INPUT: { exit: 2, http: 400, summary: "The input does not match the operation's schema." },
  USAGE: { exit: 2, http: 400, summary: "The command line could not be understood." },
  DURATION_OUT_OF_RANGE: {
    exit: 2,
    http: 400,
    summary: "A timeout, lease, delay or heartbeat is negative, not a number, or longer than 10 years.",
  },
  PAYLOAD_TOO_LARGE: { exit: 2, http: 413, summary: "A payload, result or evidence exceeds the size limit." },
  JOB_NOT_FOUND: { exit: 3, http: 404, summary: "No job has this id (or id prefix, or name)." },
  NOT_FOUND: { exit: 3, http: 404, summary: "The named thing (workflow, file, route) does not exist." },
  AMBIGUOUS_ID: { exit: 4, http: 409, summary: "An id prefix or name matches more than one job." },
  NAME_TAKEN: { exit: 4, http: 409, summary: "The name is held by someone else who is still alive." },
  INVALID_TRANSITION: { exit: 4, http: 409, summary: "The job's state does not allow this action." },
  HAS_DEPENDENTS: {
    exit: 4,
    http: 409,
    summary: "Waiting jobs depend on the job: say whether to cancel them or release the dependency.",
  },
  DEPENDENCIES_UNFINISHED: {
    exit: 4,
    http: 409,
    summary:
      "The job still waits on dependencies that have not finished: finish them first, or pass force to complete or fail it anyway.",
  },
  LEASE_LOST: {
    exit: 4,
    http: 409,
    summary: "The fencing token is stale: the lease expired or another attempt owns the job.",
  },
  DEPENDENCY_NOT_FOUND: {
    exit: 3,
    http: 404,
    summary: "A job named in dependsOn (--depends-on) does not exist.",
  },
  STORE_BUSY: { exit: 5, http: 503, summary: "The database stayed locked longer than the busy timeout." },
  STORAGE_FULL: {
    exit: 5,
    http: 507,
    summary:
      "The disk holding the database, or BATON_HOME when a job's environment is written before it is queued, is full: nothing was written or queued.",
  },
  STORE_IO: { exit: 5, http: 503, summary: "The database could not be read or written (I/O error)." },
  STORE_CORRUPT: { exit: 5, http: 500, summary: "The database file is damaged." },
  STORE_UNAVAILABLE: { exit: 5, http: 503, summary: "The database cannot be reached." },
  SCHEMA_TOO_NEW: {
    exit: 5,
    http: 500,
    summary: "The database was migrated by a newer baton; this binary refuses to touch it.",
  },
  UNSAFE_PATH: {
    exit: 2,
    http: 400,
    summary: "A path or name would resolve outside baton's data directory.",
  },
  UNSAFE_HOME: {
    exit: 1,
    http: 500,
    summary:
      "baton's data directory, its database or another of its files belongs to another user or can be written by others.",
  },
  CONFIG_INVALID: {
    exit: 2,
    http: 400,
    summary: "baton.yaml (or ~/.baton/config.yaml) is broken: the message names file, line and key.",
  },
  TASK_LOCKED: {
    exit: 4,
    http: 409,
    summary: "A task with `lock: true` is already running; a second concurrent run is refused.",
  },
  WRONG_HOST: {
    exit: 4,
    http: 409,
    summary: "The job belongs to another host (its working directory and environment are there).",
  },
  UNAUTHORIZED: {
    exit: 1,
    http: 401,
    summary: "The HTTP API wants its token (Authorization: Bearer, or the dashboard's cookie).",
  },
  FORBIDDEN: {
    exit: 1,
    http: 403,
    summary: "The HTTP request was refused: a foreign Host or Origin, or a change on a read-only server.",
  },
  METHOD_NOT_ALLOWED: { exit: 2, http: 405, summary: "The HTTP route exists but not with this method." },
  UNSUPPORTED_MEDIA_TYPE: {
    exit: 2,
    http: 415,
    summary: "The HTTP request body is not sent as content-type: application/json.",
  },
  RESERVED_TYPE: {
    exit: 2,
    http: 400,
    summary:
      "A checkpoint operation was asked to create, claim or finish a job an executor runs (command, task:, agent:).",
  },
  KEY_CONFLICT: {
    exit: 4,
    http: 409,
    summary:
      "The idempotency key is held by a job of another kind (a checkpoint, a command, a task run, an agent job).",
  },
  PERMISSION_DENIED: {
    exit: 1,
    http: 500,
    summary:
      "The operating system refused baton a file or folder (or a port): the message names it and its owner.",
  },
  PORT_IN_USE: {
    exit: 4,
    http: 409,
    summary: "The port given to listen on is held by another process.",
  },
  DAEMON_CONFLICT: {
    exit: 4,
    http: 409,
    summary:
      "Another daemon of this home holds the ledger's lock: it was started with another spelling of the URL.",
  },
  DAEMON_UNRESPONSIVE: {
    exit: 5,
    http: 503,
    summary:
      "The daemon holds its lock but did not answer in time (stopped, hung or overloaded): the call may or may not have been applied.",
  },
  INTERNAL: { exit: 1, http: 500, summary: "A bug in baton: please report it with the command you ran." },
} as const satisfies Record<string, { exit: number; http: number; summary: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface BatonErrorOptions {
  cause?: unknown;
  /** Structured context safe to show (never secrets). */
  details?: Readonly<Record<string, unknown>>;
}

/** Base class of every deliberate baton error. */
export class BatonError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message: string, options: BatonErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "BatonError";
    this.code = code;
    this.details = options.details;
  }

  /** The CLI exit code for this error. */
  get exitCode(): number {
    return ERROR_CODES[this.code].exit;
  }

  toJSON(): { code: ErrorCode; message: string; details?: Readonly<Record<string, unknown>> } {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

export class JobNotFoundError extends BatonError {
  readonly jobId: string;
  constructor(jobId: string) {
    super("JOB_NOT_FOUND", `no job matches '${jobId}'`, { details: { id: jobId } });
    this.jobId = jobId;
  }
}

export class LeaseLostError extends BatonError {
  readonly jobId: string;
  constructor(jobId: string, reason: string) {
    super("LEASE_LOST", `lease lost on job ${jobId}: ${reason}`, { details: { id: jobId } });
    this.jobId = jobId;
  }
}

export class InvalidTransitionError extends BatonError {
  readonly jobId: string;
  readonly state: string;
  readonly action: string;
  constructor(jobId: string, state: string, action: string) {
    super("INVALID_TRANSITION", `cannot ${action} job ${jobId}: it is ${state}`, {
      details: { id: jobId, state, action },
    });
    this.jobId = jobId;
    this.state = state;
    this.action = action;
  }
}

/** A delete (or clean) of a job that waiting jobs depend on, without saying what happens to them. */
export class HasDependentsError extends BatonError {
  readonly jobId: string;
  readonly dependents: readonly string[];
  constructor(jobId: string, action: string, dependents: readonly string[]) {
    const shown = dependents.slice(0, 10).join(", ");
    super(
      "HAS_DEPENDENTS",
      `cannot ${action} job ${jobId}: ${dependents.length} waiting job(s) depend on it (${shown}${dependents.length > 10 ? ", …" : ""}); pass dependents: cancel (cancel them) or release (drop the dependency)`,
      { details: { id: jobId, dependents: dependents.slice(0, 100) } },
    );
    this.jobId = jobId;
    this.dependents = dependents;
  }
}

/**
 * A complete or fail of a job still `waiting` on dependencies that have not finished (succeeded
 * or skipped), without the caller's explicit override: its dependencies are named with their states
 * (a deleted one as `missing`).
 */
export class DependenciesUnfinishedError extends BatonError {
  readonly jobId: string;
  readonly dependencies: readonly { id: string; state: string }[];
  constructor(jobId: string, action: string, dependencies: readonly { id: string; state: string }[]) {
    const shown = dependencies
      .slice(0, 10)
      .map((d) => `${d.id} (${d.state})`)
      .join(", ");
    super(
      "DEPENDENCIES_UNFINISHED",
      `cannot ${action} job ${jobId}: it is waiting on ${dependencies.length} unfinished ${dependencies.length === 1 ? "dependency" : "dependencies"}: ${shown}${dependencies.length > 10 ? ", …" : ""}. Nothing was changed. Finish them first (complete or skip them; redrive a failed one), or pass force to ${action} it anyway`,
      { details: { id: jobId, state: "waiting", action, dependencies: dependencies.slice(0, 100) } },
    );
    this.jobId = jobId;
    this.dependencies = dependencies;
  }
}

export class InvalidInputError extends BatonError {
  constructor(message: string, details?: Record<string, unknown>) {
    super("INVALID_INPUT", message, details === undefined ? {} : { details });
  }
}

export class SchemaTooNewError extends BatonError {
  constructor(databaseVersion: number, codeVersion: number, where: string) {
    super(
      "SCHEMA_TOO_NEW",
      `${where} has schema version ${databaseVersion} but this baton knows only up to ${codeVersion}: upgrade baton`,
      { details: { databaseVersion, codeVersion } },
    );
  }
}

export function isBatonError(error: unknown): error is BatonError {
  return error instanceof BatonError;
}

/** A file mode as ls and chmod write it (`0700`). */
export const octal = (mode: number): string => (mode & 0o7777).toString(8).padStart(4, "0");

/**
 * The part of `path` that refuses the caller, as far as it can see: the path itself when it can
 * stat it, else the nearest folder above that it can stat (the one whose mode stops it).
 */
function refusingPart(path: string): { path: string; uid: number; mode: number; dir: boolean } | undefined {
  for (let current = resolve(path); ; current = dirname(current)) {
    try {
      const stat = statSync(current);
      return { path: current, uid: stat.uid, mode: stat.mode & 0o7777, dir: stat.isDirectory() };
    } catch {
      if (dirname(current) === current) return undefined;
    }
  }
}

/**
 * PERMISSION_DENIED for an `EACCES`/`EPERM` on `path`, naming what refused the caller and the
 * advice that fits: another user's file or folder (use one of your own: `ownAdvice`, or ask its
 * owner), or the caller's own with a mode that shuts the caller out (chmod it). `what` says what
 * the path is to baton ("baton's data directory"); `syscall` what was tried.
 *
 * @example
 * permissionDenied("/root/.baton/baton.db", { syscall: "stat", what: "baton's database" });
 * // PERMISSION_DENIED: "baton's database /root/.baton/baton.db: permission denied (stat): /root/.baton belongs to root (mode 0700), not to you (uid 65534). …"
 */
export function permissionDenied(
  path: string,
  options: { syscall?: string; what?: string; ownAdvice?: string; cause?: unknown } = {},
): BatonError {
  const euid = process.geteuid?.() ?? -1;
  const part = refusingPart(path);
  const head = `${options.what === undefined ? "" : `${options.what} `}${path}: permission denied${options.syscall === undefined ? "" : ` (${options.syscall})`}`;
  const mode = part === undefined ? "" : octal(part.mode);
  let advice: string;
  if (part === undefined) advice = "check the owner and mode of each folder on the way to it (ls -ld)";
  else if (part.uid !== euid)
    advice =
      `${part.path} belongs to ${part.uid === 0 ? "root" : `uid ${part.uid}`} (mode ${mode}), not to you (uid ${euid}). ` +
      (options.ownAdvice ?? `Ask its owner for access, or use a path of your own`);
  else
    advice = `${part.path} is yours but its mode ${mode} shuts you out: \`chmod ${part.dir ? "700" : "600"} ${part.path}\``;
  return new BatonError("PERMISSION_DENIED", `${head}: ${advice}`, {
    cause: options.cause,
    details: {
      path,
      ...(part === undefined ? {} : { refusedBy: part.path, owner: part.uid, mode }),
      uid: euid,
    },
  });
}

/** The errno of a Node system error, when `error` is one. */
function errnoOf(error: unknown): { code?: string; path?: string; syscall?: string } {
  return typeof error === "object" && error !== null ? error : {};
}

/**
 * Wrap anything thrown into a BatonError (unknown errors become INTERNAL, keeping the cause). A
 * file the operating system refused (`EACCES`/`EPERM` with a path) is PERMISSION_DENIED naming it.
 */
export function toBatonError(error: unknown): BatonError {
  if (error instanceof BatonError) return error;
  const errno = errnoOf(error);
  if ((errno.code === "EACCES" || errno.code === "EPERM") && typeof errno.path === "string")
    return permissionDenied(errno.path, {
      ...(errno.syscall === undefined ? {} : { syscall: errno.syscall }),
      cause: error,
    });
  const message = error instanceof Error ? error.message : String(error);
  return new BatonError("INTERNAL", message, { cause: error });
}

/** Store errors that clear by themselves: a lock held too long, a full disk, a lost connection, an I/O hiccup. */
const PASSING: ReadonlySet<string> = new Set(["STORE_BUSY", "STORAGE_FULL", "STORE_IO", "STORE_UNAVAILABLE"]);

/**
 * True when `error` is a store error that passes by itself, so a write that met it is worth trying
 * again later rather than given up (the worker's and the daemon's outcome writes).
 *
 * @example
 * passesByItself(new BatonError("STORAGE_FULL", "disk full")); // true
 */
export function passesByItself(error: unknown): boolean {
  return error instanceof BatonError && PASSING.has(error.code);
}
