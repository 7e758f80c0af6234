/**
 * The shape of `baton.yaml` (and of the personal `~/.baton/config.yaml`), as zod schemas. Unknown
 * keys are errors everywhere except under a task's `with:` map (free-form settings for a plugin),
 * so a misspelt `timout:` is reported instead of silently ignored. `baton config schema` prints the
 * JSON Schema generated from these, for editors.
 */
import { Cron } from "croner";
import { z } from "zod";
import { AGENT_PRESETS } from "../core/agent-presets.js";
import { DURATION_UNITS, parseTimerDuration } from "../core/duration.js";
import { BACKOFF_LIMITS } from "../core/job.js";

/** `{{name}}` in an argv element: replaced by the input's value (runner.ts). */
export const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/** The variable an input reaches a command through: `BATON_INPUT_<NAME>`. */
export function inputEnvVar(name: string): string {
  return `BATON_INPUT_${name.toUpperCase()}`;
}

/** Task names become job types (`task:<name>`), unit file names and environment values. */
export const TASK_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The milliseconds of a duration baton.yaml accepts (not zero, at most 10 years), else undefined. */
function durationMs(text: string): number | undefined {
  try {
    const ms = parseTimerDuration(text, "duration");
    return ms > 0 ? ms : undefined;
  } catch {
    return undefined;
  }
}

/** What {@link cronProblem} says of a schedule no date matches. */
export const NEVER_FIRES = "it never fires: no date has that day in that month (such as 30 February)";

/**
 * A cron expression croner accepts (5 fields, or 6 with seconds first) that fires at some time;
 * the reason when it does not.
 */
export function cronProblem(expression: string, timezone?: string): string | undefined {
  const fields = expression.trim().split(/\s+/);
  if (fields.length < 5 || fields.length > 6) {
    return `expected 5 fields (minute hour day month weekday) or 6 (with seconds first), got ${fields.length}`;
  }
  let parsed: Cron;
  try {
    parsed = new Cron(expression, { paused: true, ...(timezone === undefined ? {} : { timezone }) });
  } catch (error) {
    return (error as Error).message.replace(/^CronPattern: /, "");
  }
  // croner lets a stepped range run past its field (hour 21-25/8); the JSON Schema's pattern does not.
  if (!CRON_REGEXP.test(expression)) {
    return "a value outside its field (minute 0-59, hour 0-23, day 1-31, month 1-12, weekday 0-7) or a step larger than the field";
  }
  // Each field in range, yet no date has them all (day 30 of February): it would sit there, never run.
  if (parsed.nextRun() === null) return NEVER_FIRES;
  return undefined;
}

function isTimezone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/**
 * What the JSON Schema can say of a duration: parseDuration's syntax, not zero. It cannot say
 * "at most 10 years" or "not below a millisecond" (docs/tasks.md, "The JSON Schema").
 */
const DURATION_PATTERN = String.raw`^(?=[^1-9]*[1-9])\s*(?:\d+(?:\.\d+)?|(?:\d+(?:\.\d+)?(?:${DURATION_UNITS}))+)\s*$`;

const DURATION_WORDS = "a duration such as 30s, 10m, 2h or 1h30m, or a number of seconds";

/**
 * A duration: parseDuration's text (`30s`, `1h30m`, `"90"`) or a YAML number of seconds (`90`), the
 * same value either way; the output is the text. `atMostMs`: a tighter bound than 10 years, said in
 * `limit`'s words (a retry's `base`, from the engine's own limits).
 */
function durationSchema(atMostMs?: number, limit?: string) {
  const text = z
    .string()
    .superRefine((value, ctx) => {
      const ms = durationMs(value);
      if (ms === undefined)
        ctx.addIssue({ code: "custom", message: `expected ${DURATION_WORDS}, at most 10 years` });
      else if (atMostMs !== undefined && ms > atMostMs)
        ctx.addIssue({
          code: "custom",
          message: `must be at most ${limit ?? `${atMostMs}ms`}, got ${value.trim()}`,
        });
    })
    .meta({ pattern: DURATION_PATTERN });
  return z
    .union([text, z.number().positive().transform(String).pipe(text)])
    .describe("A duration: 30s, 10m, 2h, 1h30m, or a number of seconds.");
}

const duration = durationSchema();

/** `0*(?:lo|…|hi)`: the numbers croner reads in a range (leading zeros allowed), and names. */
function cronValue(lo: number, hi: number, names: readonly string[] = []): string {
  const numbers = Array.from({ length: hi - lo + 1 }, (_, i) => String(hi - i));
  const spelled = names.map((name) => [...name].map((c) => `[${c}${c.toLowerCase()}]`).join(""));
  return `(?:0*(?:${numbers.join("|")})${spelled.map((n) => `|${n}`).join("")})`;
}

/** One cron field: a list of `*`, `?`, values, ranges, steps (after `*` or a range, 1..max). */
function cronField(
  lo: number,
  hi: number,
  stepMax: number,
  names: readonly string[] = [],
  extra = "",
): string {
  const value = cronValue(lo, hi, names);
  const step = `/${cronValue(1, stepMax)}`;
  const item = `(?:[*?](?:${step})?|${value}(?:-${value}(?:${step})?)?${extra})`;
  return `${item}(?:,${item})*`;
}

const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const WEEKDAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/**
 * What the JSON Schema can say of a cron expression: 5 or 6 fields, each value within its field's
 * range (minute 0-59, hour 0-23, day 1-31, month 1-12 or JAN-DEC, weekday 0-7 or SUN-SAT), steps
 * 1..the field's size. It is looser than croner on backwards ranges (5-1) and on combinations of
 * croner's L, W and # forms; docs/tasks.md lists these.
 */
export const CRON_PATTERN = (() => {
  const second = cronField(0, 59, 60);
  const minute = cronField(0, 59, 60);
  const hour = cronField(0, 23, 24);
  const day = `(?:[Ll][Ww]?|${cronValue(1, 31)}[Ww]|${cronField(1, 31, 31)})`;
  const dayList = `(?:${day}(?:,${day})*)`;
  const month = cronField(1, 12, 12, MONTHS);
  const weekday = cronField(0, 7, 7, WEEKDAYS, `(?:[Ll]|#(?:0*[1-5]|[Ll]))?`);
  return `^\\s*(?:${second}\\s+)?${minute}\\s+${hour}\\s+${dayList}\\s+${month}\\s+${weekday}\\s*$`;
})();
const CRON_REGEXP = new RegExp(CRON_PATTERN, "u");

/** One command: a shell string (`/bin/sh -c`) or an argv list run without a shell. */
const commandLine = z
  .union([z.string().min(1, "must not be empty"), z.array(z.string()).min(1, "must not be empty")])
  .describe("A shell command line (run with /bin/sh -c), or an argv list run without a shell.");

/**
 * Hooks: one shell string, or a list whose items are shell strings or argv lists. Run data reaches
 * them only through environment variables (BATON_RUN_ID, BATON_STATUS…), never interpolated.
 */
const hooks = z
  .union([z.string().min(1), z.array(z.union([z.string().min(1), z.array(z.string()).min(1)])).min(1)])
  .describe(
    "Commands run after the task: a shell string or a list of shell strings / argv lists. Data only via environment variables (BATON_RUN_ID, BATON_TASK, BATON_STATUS, BATON_EXIT_CODE, BATON_SUMMARY, BATON_RESULT_JSON, BATON_LOG_PATH).",
  );

/** `value` when it is a map (a plain object), else an empty one. */
function mapOf(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

/**
 * For a map's cross-key checks: run them even when one of its keys is wrong (zod skips them then),
 * so `baton config validate` lists every problem, not one per edit (docs/errors.md). A check run
 * this way reads its fields through their shapes, never as the schema's output type.
 */
const EVERY_PROBLEM = {
  when: (payload: { value: unknown }) =>
    payload.value !== null && typeof payload.value === "object" && !Array.isArray(payload.value),
};

const envName = z.string().regex(ENV_NAME, "expected an environment variable name (letters, digits, _)");

/** `key` or `key_env` (the name of a variable of the caller's environment), exactly one of them. */
function secretPair<K extends string>(key: K, what: string) {
  return {
    [key]: z.string().min(1).optional().describe(what),
    [`${key}_env`]: envName.optional().describe(`The environment variable holding ${what.toLowerCase()}`),
  } as Record<K | `${K}_env`, z.ZodOptional<z.ZodString>>;
}

/** A JSON Schema that requires `key` (declared beside it, as ajv's strict mode wants). */
function requires(key: string): Record<string, unknown> {
  return { properties: { [key]: true }, required: [key] };
}

/** The JSON Schema side of {@link exactlyOne}: one of `key`, `key_env`. */
function oneOfPair(key: string): Record<string, unknown> {
  return { oneOf: [requires(key), requires(`${key}_env`)] };
}

function exactlyOne(obj: Record<string, unknown>, key: string, ctx: z.RefinementCtx): void {
  const plain = obj[key] !== undefined;
  const fromEnv = obj[`${key}_env`] !== undefined;
  if (plain === fromEnv) {
    ctx.addIssue({
      code: "custom",
      message: plain
        ? `give ${key} or ${key}_env, not both`
        : `expected ${key} or ${key}_env (the name of an environment variable holding it)`,
      path: [],
    });
  }
}

const webhookChannel = z
  .strictObject({
    ...secretPair("url", "The URL to POST the JSON to"),
    headers: z.record(z.string(), z.string()).optional().describe("Extra headers (not secret)."),
    headers_env: z
      .record(z.string(), envName)
      .optional()
      .describe("Headers whose values come from environment variables (secrets such as tokens)."),
  })
  .superRefine((v, ctx) => exactlyOne(v, "url", ctx), EVERY_PROBLEM)
  .meta(oneOfPair("url"));

const chatWebhook = (service: string) =>
  z
    .strictObject({ ...secretPair("webhook_url", `The ${service} incoming-webhook URL`) })
    .superRefine((v, ctx) => exactlyOne(v, "webhook_url", ctx), EVERY_PROBLEM)
    .meta(oneOfPair("webhook_url"));

const telegramChannel = z
  .strictObject({
    ...secretPair("bot_token", "The bot token"),
    ...secretPair("chat_id", "The chat id"),
    base_url: z
      .string()
      .regex(/^https?:\/\/[^\s/?#]+\S*$/, "expected an http:// or https:// URL")
      .optional()
      .describe("API base URL (default https://api.telegram.org)."),
  })
  .superRefine((v, ctx) => {
    exactlyOne(v, "bot_token", ctx);
    exactlyOne(v, "chat_id", ctx);
  }, EVERY_PROBLEM)
  .meta({ allOf: [oneOfPair("bot_token"), oneOfPair("chat_id")] });

export const NOTIFY_WHEN = ["success", "failure", "complete"] as const;

/** Variables a notification message template may use: `{{task}}`. */
export const TEMPLATE_VARS = [
  "task",
  "status",
  "run_id",
  "exit_code",
  "summary",
  "duration",
  "project",
  "host",
] as const;

const template = z
  .string()
  .min(1)
  .max(4000)
  .superRefine((text, ctx) => {
    for (const match of text.matchAll(/\{\{\s*([^}]*?)\s*\}\}/g)) {
      const name = match[1] ?? "";
      if (!(TEMPLATE_VARS as readonly string[]).includes(name)) {
        ctx.addIssue({
          code: "custom",
          message: `unknown template variable {{${name}}} (expected one of: ${TEMPLATE_VARS.join(", ")})`,
        });
      }
    }
  })
  .meta({
    // No {{…}} that is not a known variable (the same scan as above, as a pattern).
    not: { pattern: `\\{\\{(?!\\s*(?:${TEMPLATE_VARS.join("|")})\\s*\\}\\})[^}]*\\}\\}` },
  })
  .describe(`Message template; variables: ${TEMPLATE_VARS.map((v) => `{{${v}}}`).join(" ")}.`);

const notify = z
  .strictObject({
    on: z
      .array(z.enum(NOTIFY_WHEN))
      .min(1)
      .optional()
      .describe("When to notify: success, failure, complete (always). Default: [failure]."),
    message: template.optional(),
    webhook: webhookChannel.optional().describe("A generic webhook: JSON POST of the run's outcome."),
    slack: chatWebhook("Slack").optional(),
    discord: chatWebhook("Discord").optional(),
    telegram: telegramChannel.optional(),
    desktop: z
      .union([z.boolean(), z.strictObject({ title: z.string().min(1).max(200).optional() })])
      .optional()
      .describe("A desktop notification (notify-send on Linux, osascript on macOS); skipped where absent."),
  })
  .describe("Notifications sent when a run ends.");

const INPUT_TYPES = ["string", "number", "integer", "boolean"] as const;

/** The JSON Schema side of the default-matches-type check in taskSchema. */
const inputDefaultMatchesType = {
  allOf: INPUT_TYPES.map((type) => ({
    if: { properties: { type: { const: type } }, required: ["type"] },
    then: { properties: { default: { type } } },
  })),
};

const inputSpec = z.union([
  z.string().describe("The input's description (an optional string input)."),
  z
    .strictObject({
      description: z.string().optional(),
      type: z.enum(INPUT_TYPES).optional().describe("Default: string."),
      required: z.boolean().optional(),
      default: z.union([z.string(), z.number(), z.boolean()]).optional(),
      enum: z
        .array(z.union([z.string(), z.number()]))
        .min(1)
        .optional(),
      pattern: z
        .string()
        .refine(
          (p) => {
            try {
              new RegExp(p);
              return true;
            } catch {
              return false;
            }
          },
          { message: "expected a valid regular expression" },
        )
        .optional(),
      allow_dash: z
        .boolean()
        .optional()
        .describe(
          "Accept a given value that begins with '-' where the input is a whole argv element (`{{name}}` alone), which the program may read as an option. Default: refused.",
        ),
    })
    .meta(inputDefaultMatchesType),
]);

/** `86_400_000` as `1d` (the engine's backoff limits are whole days). */
const inDays = (ms: number): string => `${ms / 86_400_000}d`;

/** The engine's backoff limits (BACKOFF_LIMITS), so a retry that validates never fails at run time. */
const retry = z.strictObject({
  attempts: z.number().int().min(1).max(100).describe("Attempts in all (1 = no retry)."),
  backoff: z.enum(["fixed", "exponential"]).optional().describe("Default: exponential."),
  base: durationSchema(BACKOFF_LIMITS.baseMs, inDays(BACKOFF_LIMITS.baseMs))
    .optional()
    .describe(`The first delay (default 1s, at most ${inDays(BACKOFF_LIMITS.baseMs)}).`),
  max: durationSchema(BACKOFF_LIMITS.maxMs, inDays(BACKOFF_LIMITS.maxMs))
    .optional()
    .describe(`The longest delay (default 1h, at most ${inDays(BACKOFF_LIMITS.maxMs)}).`),
  factor: z
    .number()
    .min(1)
    .max(BACKOFF_LIMITS.factor)
    .optional()
    .describe("Each exponential delay is the previous one times this (default 2)."),
});

export const OUTPUT_MODES = ["text", "json", "jsonl", "auto"] as const;
export const CATCH_UP = ["skip", "once", "all"] as const;

export const taskSchema = z
  .strictObject({
    description: z.string().max(2000).optional().describe("What the task does, for people and agents."),
    command: commandLine.optional(),
    args: z.array(z.string()).optional().describe("Arguments appended to an argv command."),
    dry_run_command: commandLine
      .optional()
      .describe("Run instead of `command` by --dry-run; it must have no side effects."),
    plugin: z
      .string()
      .min(1)
      .optional()
      .describe(
        "A JavaScript module (path relative to the config file, or an npm package) exporting the task.",
      ),
    with: z
      .record(z.string(), z.unknown())
      .optional()
      .describe("Free-form settings handed to a plugin task."),
    env: z
      .record(z.string().regex(ENV_NAME, "expected an environment variable name"), z.string())
      .meta({ patternProperties: { _env$: { type: "string", pattern: ENV_NAME.source } } })
      .optional()
      .describe(
        "Environment for the command. A key ending in _env names a variable of the caller's environment, resolved at run time: `TOKEN_env: DEPLOY_TOKEN` sets TOKEN.",
      ),
    required_env: z
      .array(envName)
      .optional()
      .describe("Variables the caller's environment must define (checked before the run is queued)."),
    cwd: z.string().min(1).optional().describe("Working directory, relative to the project root."),
    timeout: duration.optional(),
    idle_timeout: duration.optional().describe("Stop the run when it prints nothing for this long."),
    success_exit_codes: z
      .array(z.number().int().min(0).max(255))
      .min(1)
      .optional()
      .describe("Exit codes that count as success (default [0])."),
    output: z
      .enum(OUTPUT_MODES)
      .optional()
      .describe(
        "How stdout becomes the run's result: text (last line is the summary), json (the whole output), jsonl (each line an event; the last one is the result), auto.",
      ),
    schedule: z
      .string()
      .min(1)
      .superRefine((expression, ctx) => {
        const problem = cronProblem(expression);
        if (problem !== undefined) {
          ctx.addIssue({ code: "custom", message: `invalid cron expression '${expression}': ${problem}` });
        }
      })
      .meta({ pattern: CRON_PATTERN })
      .optional()
      .describe("A cron expression (5 fields, or 6 with seconds first); the daemon runs the task on it."),
    timezone: z
      .string()
      .refine(isTimezone, { message: "expected an IANA time zone such as Europe/Paris or UTC" })
      .optional()
      .describe("Time zone of the schedule (default: the system's)."),
    catch_up: z
      .enum(CATCH_UP)
      .optional()
      .describe(
        "Missed fires (daemon down, clock jump): skip (default), once (one run for all of them), all.",
      ),
    scheduler: z
      .enum(["daemon", "os"])
      .optional()
      .describe(
        "Who fires the schedule: the baton daemon (default) or OS units (baton schedule install-units).",
      ),
    retry: retry.optional(),
    lock: z.boolean().optional().describe("Refuse a second concurrent run (held in the ledger)."),
    on_success: hooks.optional(),
    on_failure: hooks.optional(),
    on_complete: hooks.optional(),
    notify: notify.optional(),
    inputs: z
      .record(z.string().regex(ENV_NAME, "expected a name of letters, digits and _"), inputSpec)
      .optional(),
    outputs: z.record(z.string(), z.string()).optional().describe("Fields of the result, with descriptions."),
    destructive: z.boolean().optional().describe("It deletes or overwrites things."),
    network: z.boolean().optional().describe("It talks to the network."),
    tags: z.array(z.string().min(1).max(100)).max(50).optional(),
  })
  .meta({
    // The checks below that JSON Schema can state. It cannot check that a {{name}} in an argv list
    // names one of the task's inputs (docs/tasks.md, "The JSON Schema").
    oneOf: [requires("command"), requires("plugin")],
    dependentSchemas: { plugin: { properties: { dry_run_command: false } }, with: requires("plugin") },
    allOf: (["command", "dry_run_command"] as const).map((key) => ({
      properties: { [key]: { not: { type: "string", pattern: PLACEHOLDER.source } } },
    })),
  })
  .superRefine((spec, ctx) => {
    // This runs even when other keys are wrong (EVERY_PROBLEM), so `spec` may not be a TaskSpec:
    // each field's shape is checked before it is read (the field's own problem is reported apart).
    const task = spec as Record<string, unknown>;
    if ((task.command === undefined) === (task.plugin === undefined)) {
      ctx.addIssue({
        code: "custom",
        message:
          task.command === undefined
            ? "expected `command` (or `plugin`): a task needs something to run"
            : "give `command` or `plugin`, not both",
        path: [],
      });
    }
    if (task.plugin !== undefined && task.dry_run_command !== undefined) {
      ctx.addIssue({
        code: "custom",
        message: "dry_run_command is for command tasks; a plugin task exports dryRun()",
        path: ["dry_run_command"],
      });
    }
    if (task.with !== undefined && task.plugin === undefined) {
      ctx.addIssue({ code: "custom", message: "`with` is for plugin tasks", path: ["with"] });
    }
    for (const [key, value] of Object.entries(mapOf(task.env))) {
      if (key.endsWith("_env") && typeof value === "string" && !ENV_NAME.test(value)) {
        ctx.addIssue({
          code: "custom",
          message: `${key} names a variable of the caller's environment: expected a variable name`,
          path: ["env", key],
        });
      }
    }
    const inputs = mapOf(task.inputs);
    const inputNames = Object.keys(inputs);
    for (const key of ["command", "dry_run_command", "args"] as const) {
      const value = task[key];
      const parts: unknown[] = typeof value === "string" ? [value] : Array.isArray(value) ? value : [];
      parts.forEach((part, index) => {
        if (typeof part !== "string") return;
        for (const match of part.matchAll(PLACEHOLDER)) {
          const name = match[1]!;
          const path = typeof value === "string" ? [key] : [key, index];
          if (typeof value === "string") {
            ctx.addIssue({
              code: "custom",
              message: `a shell command line gets inputs as "$${inputEnvVar(name)}", not {{${name}}} (use an argv list for {{…}})`,
              path,
            });
          } else if (!inputNames.includes(name)) {
            ctx.addIssue({
              code: "custom",
              message: `unknown placeholder {{${name}}} (inputs: ${inputNames.length === 0 ? "none" : inputNames.join(", ")})`,
              path,
            });
          }
        }
      });
    }
    for (const [name, input] of Object.entries(inputs)) {
      const { type, default: given } = mapOf(input);
      if (given === undefined || !(INPUT_TYPES as readonly unknown[]).includes(type)) continue;
      const ok =
        type === "boolean"
          ? typeof given === "boolean"
          : type === "string"
            ? typeof given === "string"
            : typeof given === "number" && (type === "number" || Number.isInteger(given));
      if (!ok) {
        ctx.addIssue({
          code: "custom",
          message: `the default does not match type ${String(type)}`,
          path: ["inputs", name, "default"],
        });
      }
    }
  }, EVERY_PROBLEM);

const argvTemplate = z
  .array(z.string().max(4096))
  .min(1, "must not be empty")
  .max(200)
  .describe("An argv list run without a shell; `{instructions}` marks where the text goes.");

/** An agent CLI that agent jobs (`baton agent submit --agent <name>`) hand instructions to. */
export const agentSchema = z
  .strictObject({
    description: z.string().max(2000).optional(),
    preset: z
      .enum(Object.keys(AGENT_PRESETS) as [string, ...string[]])
      .optional()
      .describe("Start from a built-in command: claude, codex or gemini."),
    command: argvTemplate.optional(),
    continue_command: argvTemplate
      .optional()
      .describe(
        "How `baton agent continue` resumes the agent's session: `{session}` is the session_id of the earlier answer.",
      ),
    stdin: z.boolean().optional().describe("Hand the instructions over on stdin instead of as an argument."),
    cwd: z.string().min(1).optional().describe("Working directory, relative to the project root."),
    env: z
      .record(z.string().regex(ENV_NAME, "expected an environment variable name"), z.string())
      .optional()
      .describe(
        "Environment for the agent; a key ending in _env names a variable of the caller's environment.",
      ),
    timeout: duration.optional(),
    retries: z.number().int().min(0).max(20).optional().describe("Extra attempts when it fails (default 0)."),
    max_concurrent: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe("Jobs of this agent running at once, in all."),
    max_per_host: z.number().int().min(1).optional().describe("Jobs of this agent running at once per host."),
  })
  .superRefine((agent, ctx) => {
    if (agent.preset !== undefined && agent.command !== undefined) {
      ctx.addIssue({ code: "custom", message: "give `preset` or `command`, not both", path: [] });
    }
  }, EVERY_PROBLEM);

export const configSchema = z
  .strictObject({
    version: z.literal(1).optional().describe("The format version (1)."),
    database_url: z
      .string()
      .regex(/^postgres(ql)?:\/\//, "expected a postgres:// or postgresql:// URL")
      .optional()
      .describe(
        "The PostgreSQL ledger (below --database-url and BATON_DATABASE_URL). Keep the password out: use PGPASSWORD or ~/.pgpass.",
      ),
    tasks: z
      .record(
        z.string().regex(TASK_NAME, "expected a task name: letters, digits, _ . - (at most 64)"),
        taskSchema,
      )
      .optional()
      .describe("The configured tasks, by name."),
    agents: z
      .record(
        z.string().regex(TASK_NAME, "expected an agent name: letters, digits, _ . - (at most 64)"),
        agentSchema,
      )
      .optional()
      .describe("Agent CLIs for agent jobs, by name."),
  })
  .describe("baton.yaml: the configured tasks of a project (or ~/.baton/config.yaml: personal ones).");

export type TaskSpec = z.infer<typeof taskSchema>;
export type AgentSpec = z.infer<typeof agentSchema>;
export type ConfigSpec = z.infer<typeof configSchema>;
export type InputSpec = NonNullable<TaskSpec["inputs"]>[string];
export type NotifySpec = NonNullable<TaskSpec["notify"]>;
export type HookSpec = NonNullable<TaskSpec["on_success"]>;
export type OutputMode = (typeof OUTPUT_MODES)[number];
export type CatchUp = (typeof CATCH_UP)[number];

/** The JSON Schema of baton.yaml (for editors: `# yaml-language-server: $schema=…`). */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, { io: "input", unrepresentable: "any" }) as Record<
    string,
    unknown
  >;
  return { ...(splitUnionTypes(schema) as Record<string, unknown>), title: "baton.yaml" };
}

/** `type: [a, b]` as `anyOf: [{type: a}, {type: b}]`: ajv's strict mode refuses union types. */
function splitUnionTypes(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(splitUnionTypes);
  if (node === null || typeof node !== "object") return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) out[key] = splitUnionTypes(value);
  if (Array.isArray(out.type)) {
    const types = out.type as string[];
    delete out.type;
    if (out.anyOf !== undefined) throw new Error("splitUnionTypes: type list beside anyOf");
    out.anyOf = types.map((type) => ({ type }));
  }
  return out;
}
