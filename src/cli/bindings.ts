/**
 * How each operation of the catalogue appears on the command line. The operation itself (schema,
 * handler, flags) lives in `src/ops`; this file only maps argv to its input and its output to text.
 */
import { readFileSync } from "node:fs";
import { resolve as resolvePath } from "node:path";
import { BatonError, InvalidInputError } from "../core/errors.js";
import { JOB_STATES } from "../core/states.js";
import { notOneOf } from "./suggest.js";
import { parseDuration, parseTimerDuration } from "../core/duration.js";
import { shortId } from "../core/ids.js";
import type { OutputMode } from "./output.js";
import { io } from "./io.js";
import { keyValues, paint, table } from "./output.js";
import { str } from "./option-values.js";

/** Positional arguments in declaration order, each as a list (a variadic one may hold many). */
export type Positional = [string[], string[], string[]];

export interface CliOption {
  flags: string;
  description: string;
  /** Repeatable flags collect into an array. */
  repeatable?: boolean;
}

export interface CliBinding {
  /** The operation's name in the catalogue. */
  op: string;
  /** Commander syntax: `complete [ids...]`. */
  command: string;
  /** A parent command word: `task` makes `command: "run <name>"` into `baton task run <name>`. */
  group?: string;
  aliases?: string[];
  /** The help text, where the operation's summary does not fit the command (default: the summary). */
  summary?: string;
  options?: CliOption[];
  /** Build the operation's input from positional arguments and parsed options. */
  input(args: Positional, opts: Record<string, unknown>): unknown;
  render?(data: unknown, mode: OutputMode): string;
  /** Options after the first operand belong to the operand (`baton run -- cmd --flag`). */
  passThrough?: boolean;
  /** Print nothing for the operation's own result (the `after` step speaks instead). */
  quiet?(opts: Record<string, unknown>): boolean;
  /**
   * A result that is a failure in the command line's terms (exit code ≠ 0): the error to print
   * instead of the result, so `--json` gives an error envelope (docs/cli.md: exit 2 ⇒ `ok: false`).
   */
  refuse?(data: unknown, mode: OutputMode): BatonError | undefined;
  /** Work after the result was printed (follow, wait); may decide the exit code. */
  after?(data: unknown, opts: Record<string, unknown>, ctx: CliContext): Promise<number | undefined>;
}

/** What an `after` step may use. */
export interface CliContext {
  mode: OutputMode;
  /** Run another operation with the same engine and context. */
  call(op: string, input: unknown): Promise<unknown>;
}

function int(name: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const text = typeof v === "string" ? v : JSON.stringify(v);
  if (!/^-?\d+$/.test(text)) throw new InvalidInputError(`--${name} must be an integer, not '${text}'`);
  return Number(text);
}

/** Parse JSON given on the command line; a clear error says how to quote it. */
function json(what: string, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new InvalidInputError(
      `${what} is not valid JSON: ${JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text)} (quote strings: '"text"')`,
    );
  }
}

/** Evidence and results may be JSON or plain text. */
function looseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function readInput(path: string): string {
  try {
    return readFileSync(path === "-" ? 0 : resolvePath(io().cwd, path), "utf8");
  } catch (error) {
    throw new InvalidInputError(`cannot read ${path === "-" ? "stdin" : path}: ${(error as Error).message}`);
  }
}

/** A JSON array, a single JSON object, or NDJSON (one object per line). */
export function parseJobsFile(text: string): unknown[] {
  const trimmed = text.trim();
  if (trimmed === "") throw new InvalidInputError("the jobs file is empty");
  if (trimmed.startsWith("[")) {
    const value = json("the jobs file", trimmed);
    if (!Array.isArray(value)) throw new InvalidInputError("the jobs file must hold a JSON array");
    return value;
  }
  const lines = trimmed.split(/\r?\n/).filter((l) => l.trim() !== "");
  return lines.map((l, i) => json(`line ${i + 1} of the jobs file`, l));
}

/** `--state` values, each a state (or one of `extra`); a misspelt one lists them and guesses. */
/** `-s` values, repeated or with commas (`-s queued,running` = `-s queued -s running`), each checked. */
function checkStates(values: string[] | undefined, extra: string[]): string[] | undefined {
  if (values === undefined) return undefined;
  const valid = [...JOB_STATES, ...extra];
  const words = values.flatMap((v) => v.split(",")).map((v) => v.trim());
  for (const v of words) {
    if (!valid.includes(v)) throw new InvalidInputError(`--state ${notOneOf("a state", v, valid)}`);
  }
  return words;
}

/**
 * Job references as typed (D76): one is `id`, so its failure is the command's error and exit
 * code; several are `ids`, answered per item (exit 1 when any failed).
 */
function oneOrMany(ids: readonly string[] | undefined): { id?: string; ids?: string[] } {
  if (ids === undefined || ids.length === 0) return {};
  return ids.length === 1 ? { id: ids[0]! } : { ids: [...ids] };
}

function omitUndefined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

/**
 * `--project`: where the command works, and the one project where a job's name is looked up
 * (runBinding refuses a path that is not a directory and makes it the call's cwd; `invoke()` takes
 * it to its project root, D145). Every command
 * that takes a job reference gets it (buildProgram).
 */
export const scopeOptions: CliOption[] = [
  { flags: "--project <path>", description: "project path (default: git root of cwd)" },
];
const scope = (o: Record<string, unknown>) => ({ cwd: io().cwd, project: str(o.project) });

const pauseOptions: CliOption[] = [
  { flags: "-t, --type <type>", description: "pause one type" },
  { flags: "-w, --workflow <workflow>", description: "pause one workflow" },
  { flags: "--all", description: "everything (the default with no target)" },
  { flags: "--scope <scope>", description: "all | type | workflow, for the bare target" },
];

/** `pause` / `unpause`: one target, named by its flag or bare (the ledger says which it is). */
function pauseInputOf([[bare]]: Positional, o: Record<string, unknown>): Record<string, unknown> {
  const named = [
    ...(bare === undefined ? [] : [{ target: bare, scope: str(o.scope) }]),
    ...(o.type === undefined ? [] : [{ target: str(o.type), scope: "type" }]),
    ...(o.workflow === undefined ? [] : [{ target: str(o.workflow), scope: "workflow" }]),
    ...(o.all === true ? [{ target: undefined, scope: "all" }] : []),
  ];
  if (named.length > 1)
    throw new BatonError("USAGE", "name one thing to pause: a target, --type, --workflow or --all");
  return omitUndefined(named[0] ?? { scope: str(o.scope) });
}

function renderChanged(data: unknown): string {
  const d = data as {
    changed?: { id: string; state: string }[];
    completed?: { id: string; state: string; alreadyDone?: boolean }[];
    errors: { id: string; code: string; message: string }[];
  };
  const rows = (d.changed ?? d.completed ?? []).map(
    (c) => `${c.id}  ${c.state}${"alreadyDone" in c && c.alreadyDone === true ? "  (already done)" : ""}`,
  );
  const errors = d.errors.map((e) => `${e.id}  error: ${e.message} (${e.code})`);
  return [...rows, ...errors].join("\n");
}

function renderJobs(data: unknown, mode: OutputMode): string {
  const d = data as {
    jobs: {
      id: string;
      type: string;
      state: string;
      name?: string;
      workflow?: string;
      attempts: number;
      createdAt: string;
      error?: string;
      command?: string;
      exitCode?: number;
    }[];
    total: number;
    nextCursor?: string;
  };
  if (d.jobs.length === 0) return "no jobs";
  // A background command is shown by what it runs and how it ended: EXIT and COMMAND appear when
  // the page has one, COMMAND last, cut to the terminal's width.
  const commands = d.jobs.some((j) => j.command !== undefined);
  const exits = commands || d.jobs.some((j) => j.exitCode !== undefined);
  const body = table(
    [
      "ID",
      "STATE",
      ...(exits ? ["EXIT"] : []),
      "TYPE",
      "NAME",
      "WORKFLOW",
      "TRIES",
      "CREATED",
      ...(commands ? ["COMMAND"] : []),
    ],
    d.jobs.map((j) => [
      shortId(j.id),
      j.state,
      ...(exits ? [j.exitCode === undefined ? "" : String(j.exitCode)] : []),
      j.type,
      j.name ?? "",
      j.workflow ?? "",
      String(j.attempts),
      j.createdAt.slice(0, 19),
      ...(commands ? [j.command ?? ""] : []),
    ]),
    { fit: true },
  );
  const more =
    d.nextCursor === undefined
      ? ""
      : `\n${paint(mode, "dim", `${d.total} in all; next page: --cursor ${d.nextCursor}`)}`;
  return body + more;
}

/** A resume line (`<id> …`) as a person reads it: the job by its short id. */
function shortLine(text: string): string {
  return text.replace(/^[0-9A-HJKMNP-TV-Z]{26}\b/, (id) => shortId(id));
}

/** `-w <workflow>` for a command that narrows to it; nothing for tasks outside any workflow. */
function workflowFlag(workflow: string): string {
  if (workflow === "(none)") return "";
  return ` -w ${/^[A-Za-z0-9_.:@/-]+$/.test(workflow) ? workflow : `'${workflow.replace(/'/g, "'\\''")}'`}`;
}

/**
 * `baton resume` as text: each workflow's counts, what was done last, the tasks left, its failed
 * tasks, and what the budget left out with the command that shows it; then how to carry on.
 */
function renderResume(data: unknown, mode: OutputMode): string {
  const d = data as import("../ops/resume.js").ResumeOutput;
  const out: string[] = [];
  if (d.unknownWorkflow !== undefined)
    out.push(
      `No task of ${d.project} is in a workflow named ${JSON.stringify(d.unknownWorkflow)} — baton workflows names them; -w '' is the tasks in no workflow.`,
    );
  else if (d.remaining === 0) out.push(`Nothing left to do in ${d.project}.`);
  for (const w of d.workflows) {
    out.push(
      paint(
        mode,
        "bold",
        `${w.workflow}: ${w.remaining} left, ${w.done} done${w.failed > 0 ? `, ${w.failed} failed` : ""}`,
      ),
    );
    if (w.lastDone !== undefined) out.push(paint(mode, "dim", `  last done: ${shortLine(w.lastDone)}`));
    for (const t of w.tasks) out.push(`  ${shortLine(t)}`);
    if (w.more > 0)
      out.push(
        paint(
          mode,
          "dim",
          `  … ${w.more} more left, not shown — baton list${workflowFlag(w.workflow)} -s live`,
        ),
      );
    for (const f of w.failedTasks ?? []) out.push(paint(mode, "red", `  ✗ ${shortLine(f)}`));
    const unlisted = w.failed - (w.failedTasks ?? []).length;
    if (unlisted > 0)
      out.push(
        paint(
          mode,
          "dim",
          `  … ${unlisted} ${(w.failedTasks ?? []).length > 0 ? "more " : ""}failed, not shown — baton list${workflowFlag(w.workflow)} -s failed -s timed_out -s cancelled`,
        ),
      );
  }
  const hidden = d.notShown?.workflows ?? 0;
  if (d.notShown !== undefined && hidden > 0) {
    const names = d.notShown.first.map((n) => `${n.workflow} (${n.remaining} left)`).join(", ");
    const none = d.notShown.first.some((n) => n.workflow === "(none)")
      ? " (-w '' for the tasks in no workflow)"
      : "";
    const listed = names === "" ? "" : `: ${names}${hidden > d.notShown.first.length ? ", …" : ""}`;
    out.push(
      `${hidden} more workflow(s) not shown${listed} — baton resume -w <workflow>${none}, or a larger --budget`,
    );
  }
  for (const f of d.finishedSince ?? []) out.push(paint(mode, "dim", `finished: ${shortLine(f)}`));
  out.push(paint(mode, "dim", `cursor: ${d.cursor}`));
  if (d.remaining > 0) {
    out.push(
      d.workflows.length === 0 && hidden === 0
        ? `Nothing changed since the cursor; ${d.remaining} task(s) still left — baton resume`
        : 'Next: do the first task above, then baton complete <id> --evidence "what you did"',
    );
  }
  return out.join("\n");
}

/** enqueue's one-task flags and their field in a --file item; only -w is shared by the file's jobs. */
const ONE_TASK_FLAGS: readonly [option: string, flag: string, field: string][] = [
  ["type", "-t/--type", "type"],
  ["name", "-n/--name", "name"],
  ["tag", "--tag", "tags"],
  ["priority", "-p/--priority", "priority"],
  ["delay", "--delay", "delayMs"],
  ["maxAttempts", "--max-attempts", "maxAttempts"],
  ["key", "-k/--key", "idempotencyKey"],
  ["dependsOn", "--depends-on", "dependsOn"],
  ["resource", "--resource", "resourceKey"],
];

/** Refuse a one-task flag beside --file rather than enqueue the file's jobs without it. */
function refuseFileDefaults(o: Record<string, unknown>): void {
  const given = ONE_TASK_FLAGS.find(([option]) => o[option] !== undefined);
  if (given === undefined) return;
  const [, flag, field] = given;
  throw new InvalidInputError(
    `${flag} applies to one task and is not used with --file: put "${field}" on each job in the file (only -w/--workflow is shared)`,
    { issues: [{ path: flag, message: "not allowed with --file" }] },
  );
}

export const bindings: CliBinding[] = [
  {
    op: "enqueue_task",
    command: "enqueue [payload]",
    options: [
      { flags: "-t, --type <type>", description: "job type (default: task, agent-managed)" },
      { flags: "-w, --workflow <name>", description: "workflow the task belongs to" },
      { flags: "-n, --name <name>", description: "a human name" },
      { flags: "--tag <tag>", description: "a tag (repeatable)", repeatable: true },
      { flags: "-p, --priority <n>", description: "higher runs first (-1000..1000)" },
      { flags: "--delay <duration>", description: "run no earlier than this from now (30s, 10m)" },
      { flags: "--max-attempts <n>", description: "attempts before dead-lettering" },
      {
        flags: "-k, --key <key>",
        description: "idempotency key: the job with it (live, or finished until cleaned) is returned instead",
      },
      {
        flags: "--depends-on <id>",
        description: "a job that must finish first (repeatable)",
        repeatable: true,
      },
      { flags: "--resource <key>", description: "at most one running job per resource key" },
      { flags: "-f, --file <path>", description: "many jobs from a JSON array or NDJSON file ('-' = stdin)" },
      ...scopeOptions,
    ],
    input([payload], o) {
      const common = omitUndefined({ ...scope(o) });
      if (o.file !== undefined) {
        if (payload !== undefined && payload.length > 0)
          throw new InvalidInputError("give a payload or --file, not both");
        refuseFileDefaults(o);
        const tasks = parseJobsFile(readInput(str(o.file) ?? ""));
        return {
          ...common,
          tasks: tasks.map((t) =>
            o.workflow === undefined || (t as Record<string, unknown>).workflow !== undefined
              ? t
              : { ...(t as object), workflow: o.workflow },
          ),
        };
      }
      if (payload?.[0] === undefined && o.name === undefined && o.type === undefined)
        throw new InvalidInputError(
          `enqueue needs a payload ('{"path":"src/a.ts"}'), a name (-n) or a type (-t); many at once with --file`,
        );
      const delay = str(o.delay);
      return omitUndefined({
        ...common,
        type: str(o.type),
        payload: payload?.[0] === undefined ? undefined : json("the payload", payload[0]),
        workflow: str(o.workflow),
        name: str(o.name),
        tags: o.tag,
        priority: int("priority", o.priority),
        delayMs: delay === undefined ? undefined : parseTimerDuration(delay, "--delay"),
        maxAttempts: int("max-attempts", o.maxAttempts),
        idempotencyKey: str(o.key),
        dependsOn: o.dependsOn,
        resourceKey: str(o.resource),
      });
    },
    render(data) {
      const d = data as { jobs: { id: string; state: string; deduplicated: boolean }[] };
      return d.jobs
        .map(
          (j) =>
            `${j.id} (${shortId(j.id)})  ${j.state}${j.deduplicated ? "  (deduplicated: existing job)" : ""}`,
        )
        .join("\n");
    },
  },
  {
    op: "complete_task",
    command: "complete [ids...]",
    summary:
      "Mark tasks done, with evidence of what changed: one id or several (shared --evidence), or --file with each its own.",
    options: [
      { flags: "-e, --evidence <text>", description: "what was done (text or JSON)" },
      { flags: "-r, --result <json>", description: "a result value (JSON)" },
      { flags: "--token <token>", description: "fencing token of a claimed task" },
      {
        flags: "-f, --file <path>",
        description: "NDJSON/JSON of {id, evidence, result} items ('-' = stdin)",
      },
      { flags: "--force", description: "complete even while it waits on unfinished dependencies" },
    ],
    input([ids], o) {
      const items = o.file === undefined ? undefined : parseJobsFile(readInput(str(o.file) ?? ""));
      return omitUndefined({
        ...(items === undefined
          ? oneOrMany(ids)
          : { ids: ids !== undefined && ids.length > 0 ? ids : undefined }),
        items,
        evidence: o.evidence === undefined ? undefined : looseJson(str(o.evidence) ?? ""),
        result: o.result === undefined ? undefined : json("--result", str(o.result) ?? ""),
        token: str(o.token),
        force: o.force === true ? true : undefined,
      });
    },
    render: renderChanged,
  },
  {
    op: "fail_task",
    command: "fail <id> <error>",
    options: [
      { flags: "--token <token>", description: "fencing token of a claimed task" },
      { flags: "--no-retry", description: "dead-letter now even if attempts are left" },
      { flags: "--force", description: "fail it even while it waits on unfinished dependencies" },
    ],
    input([[id], [error]], o) {
      return omitUndefined({
        id,
        error,
        token: str(o.token),
        noRetry: o.retry === false ? true : undefined,
        force: o.force === true ? true : undefined,
      });
    },
  },
  {
    op: "resume_session",
    command: "resume",
    options: [
      {
        flags: "-w, --workflow <name>",
        description: "only this workflow ('' for the tasks in no workflow)",
      },
      { flags: "--budget <tokens>", description: "token budget of the answer (default 600)" },
      {
        flags: "--since <cursor>",
        description: "only what changed since this cursor (e12) or time (yesterday, 2h)",
      },
      {
        flags: "--hook",
        description:
          "for a session-start hook: what is left as context for the agent; nothing when nothing is",
      },
      ...scopeOptions,
    ],
    input(_args, o) {
      return omitUndefined({
        ...scope(o),
        workflow: str(o.workflow),
        budget: int("budget", o.budget),
        since: str(o.since),
      });
    },
    quiet: (o) => o.hook === true && o.json !== true,
    async after(data, o) {
      if (o.hook !== true || o.json === true) return undefined;
      const { hookText } = await import("../integrations/resume-text.js");
      const text = hookText(data as import("../ops/resume.js").ResumeOutput);
      if (text !== "") io().out(`${text}\n`);
      return undefined;
    },
    render: renderResume,
  },
  {
    op: "check_task",
    command: "show <id>",
    options: [{ flags: "--events <n>", description: "recent events to show (default 20)" }],
    input([[id]], o) {
      return omitUndefined({ id, events: int("events", o.events) });
    },
  },
  {
    op: "list_tasks",
    command: "list",
    aliases: ["ls", "ps"],
    options: [
      { flags: "-a, --all", description: "every project" },
      {
        flags: "-s, --state <state>",
        description: "a state, or live / finished (repeatable)",
        repeatable: true,
      },
      { flags: "-t, --type <type>", description: "only this type" },
      { flags: "-w, --workflow <name>", description: "only this workflow" },
      { flags: "--tag <tag>", description: "only jobs with this tag" },
      { flags: "-q, --search <text>", description: "text in id, name, payload, evidence, error" },
      { flags: "--archived", description: "include archived jobs" },
      {
        flags: "--since <when>",
        description: "created at or after (ISO date, 2h / 7d ago, today, yesterday)",
      },
      { flags: "--until <when>", description: "created before (ISO date, 2h / 7d ago, today, yesterday)" },
      { flags: "-l, --limit <n>", description: "page size (default 50)" },
      { flags: "--cursor <id>", description: "next page after this id" },
      ...scopeOptions,
    ],
    input(_args, o) {
      const states = checkStates(o.state as string[] | undefined, ["live", "finished"]);
      return omitUndefined({
        ...scope(o),
        all: o.all === true ? true : undefined,
        state: states === undefined ? undefined : states.length === 1 ? states[0] : states,
        type: str(o.type),
        workflow: str(o.workflow),
        tag: str(o.tag),
        text: str(o.search),
        archived: o.archived === true ? true : undefined,
        since: str(o.since),
        until: str(o.until),
        limit: int("limit", o.limit),
        cursor: str(o.cursor),
      });
    },
    render: renderJobs,
  },
  {
    op: "explain_task",
    command: "explain <id>",
    input: ([[id]]) => ({ id }),
    render: (data) => {
      const d = data as { id: string; state: string; reasons: string[] };
      return [`${d.id} is ${d.state}:`, ...d.reasons.map((r) => `  - ${r}`)].join("\n");
    },
  },
  {
    op: "audit_log",
    command: "audit",
    options: [
      { flags: "--since <when>", description: "ISO date, duration ago (2h, 7d), today, yesterday" },
      { flags: "--until <when>", description: "ISO date, duration ago, today, yesterday" },
      { flags: "-w, --workflow <name>", description: "only this workflow" },
      { flags: "-t, --type <type>", description: "only jobs of this type" },
      { flags: "-a, --all", description: "every project" },
      { flags: "--summary", description: "counts by event kind" },
      { flags: "-l, --limit <n>", description: "newest N events (default 100)" },
      ...scopeOptions,
    ],
    input(_args, o) {
      return omitUndefined({
        ...scope(o),
        since: str(o.since),
        until: str(o.until),
        workflow: str(o.workflow),
        type: str(o.type),
        all: o.all === true ? true : undefined,
        summary: o.summary === true ? true : undefined,
        limit: int("limit", o.limit),
      });
    },
    render(data) {
      const d = data as {
        events?: {
          at: string;
          kind: string;
          actor: string;
          jobId?: string;
          details?: Record<string, unknown>;
        }[];
        summary?: { total: number; byKind: Record<string, number>; jobs: number };
      };
      if (d.summary !== undefined) {
        return [
          `${d.summary.total} events on ${d.summary.jobs} job(s)`,
          ...Object.entries(d.summary.byKind).map(([k, n]) => `  ${k.padEnd(24)} ${n}`),
        ].join("\n");
      }
      return (
        table(
          ["TIME", "EVENT", "JOB", "ACTOR", "DETAILS"],
          (d.events ?? []).map((e) => [
            e.at.slice(0, 23),
            e.kind,
            e.jobId === undefined ? "" : shortId(e.jobId),
            e.actor,
            e.details === undefined ? "" : JSON.stringify(e.details).slice(0, 80),
          ]),
        ) || "no events"
      );
    },
  },
  {
    op: "receipt",
    command: "receipt <workflow>",
    options: scopeOptions,
    input: ([[workflow]], o) => omitUndefined({ ...scope(o), workflow }),
  },
  {
    op: "list_workflows",
    command: "workflows",
    options: [
      { flags: "-a, --all", description: "every project" },
      { flags: "-s, --state <state>", description: "live (tasks left) or finished" },
      { flags: "--archived", description: "count archived tasks too" },
      { flags: "-l, --limit <n>", description: "at most this many (default 100)" },
      ...scopeOptions,
    ],
    input: (_args, o) =>
      omitUndefined({
        ...scope(o),
        all: o.all === true ? true : undefined,
        state: str(o.state),
        archived: o.archived === true ? true : undefined,
        limit: int("limit", o.limit),
      }),
    render(data) {
      const d = data as {
        workflows: { workflow: string; total: number; done: number; remaining: number; failed: number }[];
      };
      if (d.workflows.length === 0) return "no workflows";
      return table(
        ["WORKFLOW", "DONE", "LEFT", "FAILED", "TOTAL"],
        d.workflows.map((w) => [
          w.workflow,
          String(w.done),
          String(w.remaining),
          String(w.failed),
          String(w.total),
        ]),
      );
    },
  },
  { op: "health", command: "health", input: () => ({}) },
  {
    op: "skip_task",
    command: "skip <ids...>",
    options: [{ flags: "--reason <text>", description: "why it is not needed" }],
    input: ([ids], o) => omitUndefined({ ...oneOrMany(ids), reason: str(o.reason) }),
    render: renderChanged,
  },
  {
    op: "accept_before",
    command: "accept-before <id>",
    input: ([[id]]) => ({ id }),
    render: (data) => {
      const d = data as { accepted: string[] };
      return d.accepted.length === 0
        ? "nothing earlier to accept"
        : `accepted ${d.accepted.length}: ${d.accepted.join(", ")}`;
    },
  },
  {
    op: "archive",
    command: "archive [ids...]",
    options: [{ flags: "-w, --workflow <name>", description: "archive a whole workflow" }, ...scopeOptions],
    input: ([ids], o) =>
      omitUndefined({
        ...scope(o),
        ids: ids !== undefined && ids.length > 0 ? ids : undefined,
        workflow: str(o.workflow),
      }),
  },
  { op: "unarchive", command: "unarchive <ids...>", input: ([ids]) => ({ ids }) },
  {
    op: "delete_task",
    command: "delete <ids...>",
    options: [
      {
        flags: "--dependents <what>",
        description: "jobs waiting on a removed job: cancel them, or release the dependency",
      },
    ],
    input: ([ids], o) => omitUndefined({ ids, dependents: str(o.dependents) }),
  },
  {
    op: "redrive_task",
    command: "redrive <ids...>",
    input: ([ids]) => omitUndefined(oneOrMany(ids)),
    render: renderChanged,
  },
  {
    op: "rerun_task",
    command: "rerun <id> [payload]",
    input: ([[id], payload]) =>
      omitUndefined({
        id,
        payload: payload?.[0] === undefined ? undefined : json("the payload", payload[0]),
      }),
    render: (data) => {
      const d = data as { id: string; state: string };
      return `${d.id}  ${d.state}`;
    },
  },
  {
    op: "pause",
    command: "pause [target]",
    options: pauseOptions,
    input: pauseInputOf,
  },
  {
    op: "unpause",
    command: "unpause [target]",
    options: pauseOptions,
    input: pauseInputOf,
  },
  {
    op: "clean",
    command: "clean",
    options: [
      { flags: "--older-than <duration>", description: "age of finished jobs to delete (default 7d)" },
      {
        flags: "-s, --state <state>",
        description: "only this finished state (repeatable)",
        repeatable: true,
      },
      {
        flags: "--dependents <what>",
        description: "jobs waiting on a removed job: cancel them, or release the dependency",
      },
    ],
    input: (_a, o) => {
      const olderThan = str(o.olderThan);
      if (olderThan !== undefined) parseDuration(olderThan, "--older-than");
      return omitUndefined({
        olderThan,
        state: checkStates(o.state as string[] | undefined, []),
        dependents: str(o.dependents),
      });
    },
  },
  {
    op: "doctor",
    command: "doctor",
    input: () => ({}),
    // A check that FAILs is a failure of the command (exit 1), so scripts and CI can rely on it.
    after: async (data) => ((data as { ok: boolean }).ok ? undefined : 1),
    render(data, mode) {
      const d = data as {
        ok: boolean;
        checks: { name: string; ok: boolean; detail: string; fix?: string }[];
      };
      return d.checks
        .map(
          (c) =>
            `${c.ok ? paint(mode, "green", "ok  ") : paint(mode, "red", "FAIL")} ${c.name}: ${c.detail}${c.fix === undefined ? "" : `\n      fix: ${c.fix}`}`,
        )
        .join("\n");
    },
  },
  {
    op: "claim_task",
    command: "claim",
    options: [
      { flags: "-t, --type <type>", description: "claim this type (repeatable)", repeatable: true },
      { flags: "--owner <name>", description: "who claims (default: cli:<pid>)" },
      { flags: "--lease <duration>", description: "lease length (default 30s)" },
      { flags: "-l, --limit <n>", description: "how many (default 1)" },
      { flags: "-w, --workflow <name>", description: "only from this workflow" },
      ...scopeOptions,
    ],
    input(_a, o) {
      const lease = str(o.lease);
      return omitUndefined({
        ...scope(o),
        types: o.type,
        owner: str(o.owner) ?? `cli:${process.pid}`,
        leaseSeconds:
          lease === undefined
            ? undefined
            : Math.max(1, Math.round(parseTimerDuration(lease, "--lease") / 1000)),
        limit: int("limit", o.limit),
        workflow: str(o.workflow),
      });
    },
  },
  {
    op: "heartbeat_task",
    command: "heartbeat <id> <token>",
    options: [{ flags: "--lease <duration>", description: "new lease length from now" }],
    input([[id], [token]], o) {
      const lease = str(o.lease);
      return omitUndefined({
        id,
        token,
        leaseSeconds:
          lease === undefined
            ? undefined
            : Math.max(1, Math.round(parseTimerDuration(lease, "--lease") / 1000)),
      });
    },
  },
  { op: "release_task", command: "release <id> <token>", input: ([[id], [token]]) => ({ id, token }) },
  { op: "recover", command: "recover", input: () => ({}) },
  {
    op: "register_agent",
    command: "register-agent <name>",
    options: [
      { flags: "--meta <key=value>", description: "metadata (repeatable)", repeatable: true },
      { flags: "--ttl <duration>", description: "reaped after this long without a heartbeat (default 2m)" },
    ],
    input([[name]], o) {
      const meta: Record<string, string> = {};
      for (const pair of (o.meta as string[] | undefined) ?? []) {
        const eq = pair.indexOf("=");
        if (eq <= 0) throw new InvalidInputError(`--meta takes key=value, not '${pair}'`);
        meta[pair.slice(0, eq)] = pair.slice(eq + 1);
      }
      const ttl = str(o.ttl);
      return omitUndefined({
        name,
        meta: Object.keys(meta).length > 0 ? meta : undefined,
        ttlSeconds: ttl === undefined ? undefined : Math.round(parseDuration(ttl, "--ttl") / 1000),
      });
    },
  },
  {
    op: "agent_heartbeat",
    command: "agent-heartbeat <name> <token>",
    input: ([[name], [token]]) => ({ name, token }),
  },
  {
    op: "unregister_agent",
    command: "unregister-agent <name> <token>",
    input: ([[name], [token]]) => ({ name, token }),
  },
  {
    op: "list_agents",
    command: "agents",
    input: () => ({}),
    render(data) {
      const d = data as { agents: { name: string; lastSeen: string; meta: Record<string, string> }[] };
      if (d.agents.length === 0) return "no agents registered";
      return table(
        ["NAME", "LAST SEEN", "META"],
        d.agents.map((a) => [
          a.name,
          a.lastSeen.slice(0, 19),
          Object.entries(a.meta)
            .map(([k, v]) => `${k}=${v}`)
            .join(" "),
        ]),
      );
    },
  },
];

export function defaultRender(data: unknown): string {
  return keyValues(data);
}
