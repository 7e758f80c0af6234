/**
 * From a task definition and a caller's request to the run the supervisor executes: inputs checked
 * against the task's `inputs:`, the argv (no shell) or `/bin/sh -c` line, the environment (with
 * `*_env` references resolved from the caller's environment at run time), cwd, timeouts and retry
 * policy; and, when the process ends, its stdout turned into the run's result by `output:`.
 *
 * Secrets stay out of the ledger: the payload holds no environment, only the names of variables;
 * the resolved environment goes to the run's 0600 env file, deleted when the run finishes.
 */
import { isAbsolute, resolve } from "node:path";
import { parseDuration, parseTimerDuration } from "../core/duration.js";
import { InvalidInputError } from "../core/errors.js";
import type { BackoffPolicy } from "../core/job.js";
import { DEFAULT_BACKOFF } from "../core/job.js";
import type { CommandPayload } from "../supervisor/supervisor.js";
import type { TaskDef } from "./config.js";
import type { HookSpec, InputSpec, OutputMode, TaskSpec } from "./schema.js";
import { inputEnvVar, PLACEHOLDER } from "./schema.js";

/** The job type of a task's runs (declared with the other reserved types). */
export { TASK_TYPE_PREFIX } from "../core/executors.js";
import { TASK_TYPE_PREFIX } from "../core/executors.js";

/** The kind of the last event of a task run: written once its hooks and notifications are done. */
export const SETTLED_EVENT = "settled";

export function taskType(name: string): string {
  return `${TASK_TYPE_PREFIX}${name}`;
}

export type InputValue = string | number | boolean;

/** What a task run's payload holds besides the command: enough to finish the run without the config. */
export interface TaskRunInfo {
  name: string;
  /** The config file (or plugin module) that defined the task when the run started. */
  file: string;
  kind: "command" | "plugin";
  dryRun: boolean;
  inputs: Record<string, InputValue>;
  output: OutputMode;
  successExitCodes: number[];
  /** The ledger lock this run holds (`lock: true`, not forced, not a dry run), else null. */
  lock: string | null;
  hooks: { on_success?: HookSpec; on_failure?: HookSpec; on_complete?: HookSpec };
  /** The task has a `notify:` block (read from the config again when the run ends: it may hold secrets). */
  notify: boolean;
}

export interface TaskPayload extends CommandPayload {
  task: TaskRunInfo;
}

export function isTaskPayload(value: unknown): value is TaskPayload {
  const v = value as Partial<TaskPayload> | null;
  return typeof v === "object" && v !== null && typeof v.task === "object" && v.task !== null;
}

function inputType(spec: InputSpec): "string" | "number" | "integer" | "boolean" {
  return typeof spec === "string" ? "string" : (spec.type ?? "string");
}

/** A task's inputs (baton.yaml's form, or a docket-style plugin's) as JSON Schema. */
export function inputsJsonSchema(specs: Record<string, InputSpec>): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  const required: string[] = [];
  for (const [name, spec] of Object.entries(specs)) {
    if (typeof spec === "string") {
      properties[name] = { type: "string", description: spec };
      continue;
    }
    properties[name] = {
      type: spec.type ?? "string",
      ...(spec.description === undefined ? {} : { description: spec.description }),
      ...(spec.default === undefined ? {} : { default: spec.default }),
      ...(spec.enum === undefined ? {} : { enum: spec.enum }),
      ...(spec.pattern === undefined ? {} : { pattern: spec.pattern }),
    };
    if (spec.required === true) required.push(name);
  }
  return { type: "object", properties, required, additionalProperties: false };
}

/** True when an argv list of the task has `{{name}}` as a whole element (not inside `--x={{name}}`). */
function standsAlone(task: TaskDef, name: string): boolean {
  const { command, dry_run_command: dry, args } = task.spec;
  const alone = new RegExp(`^\\{\\{\\s*${name}\\s*\\}\\}$`);
  return [command, dry, args].some((list) => Array.isArray(list) && list.some((part) => alone.test(part)));
}

/** An integer input's text: an optional '-' and decimal digits, no leading zero (D133). */
const INTEGER_TEXT = /^(0|-?[1-9][0-9]*)$/;
/** A number input's text: JSON's number grammar (no hex, '+', '.5', spaces or Infinity). */
const NUMBER_TEXT = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/;

function invalidValue(task: TaskDef, name: string, message: string): InvalidInputError {
  return new InvalidInputError(`input '${name}' ${message}`, { task: task.name, input: name });
}

/** A decimal's value as `digits e exponent` without spare zeros: `1.50` and `15e-1` alike. */
function decimalValue(text: string): string {
  const m = /^(-?)([0-9]+)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?$/.exec(text);
  if (m === null) return text;
  const fraction = m[3] ?? "";
  let digits = (m[2]! + fraction).replace(/^0+/, "");
  let exponent = Number(m[4] ?? "0") - fraction.length;
  if (digits === "") return "0";
  while (digits.endsWith("0")) {
    digits = digits.slice(0, -1);
    exponent += 1;
  }
  return `${m[1]}${digits}e${exponent}`;
}

/**
 * A number or integer input's value exactly as given, or INVALID_INPUT (D133): a command gets the
 * value's text (`{{n}}`, BATON_INPUT_N) and BATON_INPUTS_JSON its JSON number, so only a value whose
 * text both say alike is taken — an integer within ±(2^53−1), a number written as JavaScript prints
 * it (`1.5`, not `1.50`). Nothing is rounded, read as hex or cut to 0 on the way.
 */
function numberValue(task: TaskDef, name: string, type: "number" | "integer", raw: string | number): number {
  const what = type === "integer" ? "an integer" : "a number";
  const text = typeof raw === "number" ? String(raw) : raw;
  const n = typeof raw === "number" ? raw : Number(raw);
  if (typeof raw === "string" && !(type === "integer" ? INTEGER_TEXT : NUMBER_TEXT).test(raw))
    throw invalidValue(
      task,
      name,
      `must be ${what} in decimal (${type === "integer" ? "digits with an optional '-'" : "like 12, -0.5 or 1e-3"}), not '${raw}'`,
    );
  if (!Number.isFinite(n) || (type === "integer" && !Number.isInteger(n)))
    throw invalidValue(task, name, `must be ${what}, not '${text}'`);
  if (type === "integer" && !Number.isSafeInteger(n))
    throw invalidValue(
      task,
      name,
      `is ${text}, outside the integers a command gets exactly (±${Number.MAX_SAFE_INTEGER}); make it a string input to pass larger ones as text`,
    );
  if (String(n) !== text)
    throw invalidValue(
      task,
      name,
      decimalValue(text) !== decimalValue(String(n))
        ? `is ${text}, which a number input cannot hold exactly (it would reach the command as ${String(n)}); make it a string input to pass it as text`
        : `is ${text}: write it as ${String(n)}, the text the command gets (a number input is passed as written, never rounded)`,
    );
  return n;
}

/**
 * Check input values against the task's `inputs:` (the JSON Schema describe_task shows); apply
 * defaults. `--input k=v` gives strings, which are converted to the input's type; MCP, HTTP and the
 * library may give JSON numbers and booleans too (D133). A given string beginning with '-' that
 * would be a whole argv element is refused unless the input says `allow_dash: true`: the program
 * would read `--delete` as its own option, not as the value.
 */
export function resolveInputs(task: TaskDef, given: Record<string, InputValue>): Record<string, InputValue> {
  const specs = task.spec.inputs ?? {};
  const out: Record<string, InputValue> = {};
  for (const key of Object.keys(given)) {
    if (specs[key] === undefined) {
      const known = Object.keys(specs);
      throw new InvalidInputError(
        `task '${task.name}' has no input '${key}' (inputs: ${known.length === 0 ? "none" : known.join(", ")})`,
        { task: task.name, input: key },
      );
    }
  }
  for (const [name, spec] of Object.entries(specs)) {
    const raw = given[name];
    const type = inputType(spec);
    const detail = typeof spec === "string" ? undefined : spec;
    if (raw === undefined) {
      if (detail?.default !== undefined) out[name] = detail.default;
      else if (detail?.required === true)
        throw new InvalidInputError(`task '${task.name}' needs the input '${name}' (--input ${name}=…)`, {
          task: task.name,
          input: name,
        });
      continue;
    }
    let value: InputValue = raw;
    if (type === "boolean") {
      if (typeof raw === "number" || (typeof raw === "string" && !/^(true|false|1|0|yes|no)$/i.test(raw)))
        throw invalidValue(task, name, `must be true or false, not '${raw}'`);
      value = typeof raw === "boolean" ? raw : /^(true|1|yes)$/i.test(raw);
    } else if (type === "number" || type === "integer") {
      if (typeof raw === "boolean")
        throw invalidValue(
          task,
          name,
          `must be ${type === "integer" ? "an integer" : "a number"}, not ${raw}`,
        );
      value = numberValue(task, name, type, raw);
    } else if (typeof raw !== "string") {
      throw invalidValue(task, name, `must be a string, not the ${typeof raw} ${raw} (give "${raw}")`);
    }
    const text = String(raw);
    if (detail?.enum !== undefined && !detail.enum.some((e) => String(e) === String(value)))
      throw invalidValue(task, name, `must be one of ${detail.enum.join(", ")}, not '${text}'`);
    if (detail?.pattern !== undefined && !new RegExp(detail.pattern).test(text))
      throw invalidValue(task, name, `must match /${detail.pattern}/, not '${text}'`);
    if (
      typeof value === "string" &&
      value.startsWith("-") &&
      detail?.allow_dash !== true &&
      standsAlone(task, name)
    )
      throw new InvalidInputError(
        `input '${name}' is '${text}', which begins with '-': it is a whole argument of task '${task.name}' ({{${name}}}), where the program could read it as an option; give a value that does not begin with '-' (./${text} for a file), or set allow_dash: true on the input`,
        { task: task.name, input: name },
      );
    out[name] = value;
  }
  return out;
}

/** Parse repeated `k=v` strings. */
export function parseInputPairs(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new InvalidInputError(`--input wants key=value, not '${pair}'`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

/**
 * An argv list, or `/bin/sh -c <line> <task>` for a shell string (extra args become "$@").
 * In an argv list each `{{name}}` becomes the input's value, inside the one argument it is in
 * (`--name={{who}}`), never parsed by a shell. Shell strings see inputs only as
 * `$BATON_INPUT_<NAME>` (a `{{name}}` in one is a config error).
 */
export function commandArgv(
  command: NonNullable<TaskSpec["command"]>,
  args: readonly string[],
  inputs: Record<string, InputValue>,
  taskName: string,
): string[] {
  if (typeof command === "string") return ["/bin/sh", "-c", command, taskName, ...args];
  return [...command, ...args].map((part) =>
    part.replace(PLACEHOLDER, (_all, name: string) => {
      const value = inputs[name];
      return value === undefined ? "" : String(value);
    }),
  );
}

/** Names of the caller's variables a task reads: `required_env` and the `*_env` references. */
export function requiredEnv(spec: TaskSpec): string[] {
  const names = new Set(spec.required_env ?? []);
  for (const [key, value] of Object.entries(spec.env ?? {})) if (key.endsWith("_env")) names.add(value);
  return [...names].sort();
}

/**
 * The environment of a run: the caller's, the task's `env:` (a `KEY_env: VAR` entry sets KEY to the
 * caller's VAR, resolved now), the inputs as BATON_INPUT_*, and BATON_RUN_ID / BATON_TASK.
 */
export function runEnv(
  task: TaskDef,
  callerEnv: NodeJS.ProcessEnv,
  inputs: Record<string, InputValue>,
  runId: string,
  dryRun: boolean,
): NodeJS.ProcessEnv {
  const missing = (task.spec.required_env ?? []).filter((n) => callerEnv[n] === undefined);
  const env: NodeJS.ProcessEnv = { ...callerEnv };
  for (const [key, value] of Object.entries(task.spec.env ?? {})) {
    if (key.endsWith("_env")) {
      const resolved = callerEnv[value];
      if (resolved === undefined) missing.push(value);
      else env[key.slice(0, -4)] = resolved;
    } else {
      env[key] = value;
    }
  }
  if (missing.length > 0) {
    throw new InvalidInputError(
      `task '${task.name}' needs environment variable(s) ${[...new Set(missing)].join(", ")}: set them in the caller's environment`,
      { task: task.name, missing: [...new Set(missing)] },
    );
  }
  for (const [name, value] of Object.entries(inputs)) env[inputEnvVar(name)] = String(value);
  env.BATON_INPUTS_JSON = JSON.stringify(inputs);
  if (task.kind === "plugin") env.BATON_TASK_WITH = JSON.stringify(task.spec.with ?? {});
  env.BATON_RUN_ID = runId;
  env.BATON_TASK = task.name;
  if (dryRun) env.BATON_DRY_RUN = "1";
  else delete env.BATON_DRY_RUN;
  return env;
}

/** The task's retry policy as the engine's attempts and backoff. */
export function retryPolicy(spec: TaskSpec): { maxAttempts: number; backoff: BackoffPolicy } {
  const retry = spec.retry;
  if (retry === undefined) return { maxAttempts: 1, backoff: DEFAULT_BACKOFF };
  return {
    maxAttempts: retry.attempts,
    backoff: {
      baseMs: retry.base === undefined ? 1000 : parseDuration(retry.base),
      factor: retry.backoff === "fixed" ? 1 : (retry.factor ?? 2),
      maxMs: retry.max === undefined ? 3_600_000 : parseDuration(retry.max),
      jitter: 0.1,
    },
  };
}

export function taskCwd(task: TaskDef, callerCwd: string): string {
  const base = task.scope === "project" ? task.root : callerCwd;
  const cwd = task.spec.cwd;
  if (cwd === undefined) return base;
  return isAbsolute(cwd) ? cwd : resolve(base, cwd);
}

export interface RunPlan {
  payload: TaskPayload;
  maxAttempts: number;
  backoff: BackoffPolicy;
  timeoutMs: number | undefined;
}

/**
 * The payload and policy of one run of a command task (or of a plugin task, whose argv is the
 * plugin host: `pluginArgv`). `dryRun` selects `dry_run_command`; without one there is nothing to
 * run and the caller reports the plan instead.
 */
export function planRun(
  task: TaskDef,
  inputs: Record<string, InputValue>,
  callerCwd: string,
  options: { dryRun: boolean; lock: string | null; pluginArgv?: string[] },
): RunPlan | undefined {
  const spec = task.spec;
  let argv: string[];
  if (options.pluginArgv !== undefined) {
    argv = options.pluginArgv;
  } else {
    const command = options.dryRun ? spec.dry_run_command : spec.command;
    if (command === undefined) return undefined;
    argv = commandArgv(command, spec.args ?? [], inputs, task.name);
  }
  const timeoutMs = spec.timeout === undefined ? undefined : parseTimerDuration(spec.timeout, "timeout");
  const idleTimeoutMs =
    spec.idle_timeout === undefined ? undefined : parseTimerDuration(spec.idle_timeout, "idle_timeout");
  const retry = options.dryRun ? { maxAttempts: 1, backoff: DEFAULT_BACKOFF } : retryPolicy(spec);
  const hooks: TaskRunInfo["hooks"] = {};
  if (!options.dryRun) {
    if (spec.on_success !== undefined) hooks.on_success = spec.on_success;
    if (spec.on_failure !== undefined) hooks.on_failure = spec.on_failure;
    if (spec.on_complete !== undefined) hooks.on_complete = spec.on_complete;
  }
  return {
    payload: {
      argv,
      cwd: taskCwd(task, callerCwd),
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
      ...(idleTimeoutMs === undefined ? {} : { idleTimeoutMs }),
      task: {
        name: task.name,
        file: task.file,
        kind: task.kind,
        dryRun: options.dryRun,
        inputs,
        output: options.pluginArgv !== undefined ? "json" : (spec.output ?? "auto"),
        successExitCodes: spec.success_exit_codes ?? [0],
        lock: options.lock,
        hooks,
        notify: spec.notify !== undefined && !options.dryRun,
      },
    },
    ...retry,
    timeoutMs,
  };
}

// --- output → result -------------------------------------------------------------------------

function tryJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

/** One JSON object per stdout line, when `output` makes lines events (jsonl, or auto that looks like it). */
export function jsonLine(line: string): Record<string, unknown> | undefined {
  const trimmed = line.trim();
  if (!trimmed.startsWith("{")) return undefined;
  const parsed = tryJson(trimmed);
  return parsed.ok &&
    parsed.value !== null &&
    typeof parsed.value === "object" &&
    !Array.isArray(parsed.value)
    ? (parsed.value as Record<string, unknown>)
    : undefined;
}

const SUMMARY_MAX = 500;

/**
 * A run's result from its stdout: `text` keeps the last line as the summary; `json` parses the
 * whole output; `jsonl` takes the last line's fields; `auto` tries json, then jsonl, then text.
 * A malformed json/jsonl output is a value with `error`, not an exception.
 */
export function parseOutput(
  mode: OutputMode,
  stdout: string,
  exitCode: number,
): { result: Record<string, unknown>; error?: string } {
  const lines = stdout.split("\n").filter((l) => l.trim() !== "");
  const base = { exitCode };
  const text = () => {
    const last = lines[lines.length - 1]?.trim() ?? "";
    return { result: { ...base, ...(last === "" ? {} : { summary: last.slice(0, SUMMARY_MAX) }) } };
  };
  const json = () => {
    const parsed = tryJson(stdout.trim());
    if (!parsed.ok) return undefined;
    const value = parsed.value;
    return value !== null && typeof value === "object" && !Array.isArray(value)
      ? { result: { ...base, ...(value as Record<string, unknown>) } }
      : { result: { ...base, value } };
  };
  const jsonl = () => {
    if (lines.length === 0) return undefined;
    const objects = lines.map(jsonLine);
    if (objects.some((o) => o === undefined)) return undefined;
    return { result: { ...base, ...objects[objects.length - 1], lines: objects.length } };
  };
  switch (mode) {
    case "text":
      return text();
    case "json":
      return json() ?? { ...text(), error: "output: json, but stdout is not one JSON document" };
    case "jsonl":
      return jsonl() ?? { ...text(), error: "output: jsonl, but a stdout line is not a JSON object" };
    case "auto":
      return (stdout.trim() === "" ? undefined : (json() ?? jsonl())) ?? text();
  }
}
