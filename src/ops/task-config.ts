/**
 * The configuration side of configured tasks: validate baton.yaml, print its JSON Schema, list the
 * schedules with their next fire times, write OS scheduler units, scaffold a new task.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseDocument, stringify } from "yaml";
import { z } from "zod";
import { urlHasSecret } from "../core/database-url.js";
import { BatonError, InvalidInputError } from "../core/errors.js";
import { packageRoot } from "../store/sql-files.js";
import { herePlace } from "../supervisor/hosts.js";
import type { Checked, TaskConfig } from "../tasks/config.js";
import {
  configError,
  configPaths,
  displayPath,
  findTask,
  formatProblem,
  loadTaskConfig,
  parseConfig,
  PLUGIN_DIR,
  requireTaskConfig,
} from "../tasks/config.js";
import { fromDocket } from "../tasks/docket.js";
import { pluginProblems } from "../tasks/plugins.js";
import { configJsonSchema, TASK_NAME } from "../tasks/schema.js";
import { nextFires, scheduleKey } from "../tasks/schedules.js";
import { unitPlan } from "../tasks/units.js";
import { commandHome, configDir, scopeFields } from "./common.js";
import type { OpContext } from "./operation.js";
import { defineOperation } from "./operation.js";

const problemSchema = z.object({
  file: z.string(),
  line: z.number().optional(),
  column: z.number().optional(),
  key: z.string(),
  message: z.string(),
});

/** The place whose daemon fires the schedules a caller syncs: its host and its command home. */
function schedulesPlace(ctx: OpContext): string {
  return herePlace(ctx.env ?? process.env, commandHome(ctx));
}

/**
 * The config with every plugin task's module loaded and checked: a plugin with a syntax error,
 * no export or a key of the wrong shape is a problem like a bad key in baton.yaml. `broken`: the
 * plugin tasks that cannot run (the config's other tasks can); undefined when no task can.
 */
async function loadWithPlugins(
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<Checked<TaskConfig> & { broken?: string[] }> {
  const loaded = loadTaskConfig(cwd, env);
  if (!loaded.ok) return loaded;
  const { problems, broken } = await pluginProblems(loaded.value.tasks);
  return problems.length === 0 ? loaded : { ok: false, problems, broken };
}

/** `doctor`'s view of baton.yaml: the problems, or how many tasks and schedules it holds. */
export async function configCheck(
  ctx: OpContext,
): Promise<{ name: string; ok: boolean; detail: string; fix?: string }> {
  const loaded = await loadWithPlugins(ctx.cwd, ctx.env ?? process.env);
  if (!loaded.ok) {
    const root = configPaths(ctx.cwd, ctx.env ?? process.env).root;
    const broken = loaded.broken;
    return {
      name: "config",
      ok: false,
      detail: loaded.problems.map((p) => formatProblem(p, root)).join("; "),
      fix: `fix the file at the line named (\`baton config validate\` lists every problem); until then ${
        broken === undefined
          ? "no task runs"
          : `${broken.length === 1 ? "the task" : "the tasks"} ${broken.join(", ")} cannot run (the others do)`
      }`,
    };
  }
  const scheduled = loaded.value.tasks.filter((t) => t.spec.schedule !== undefined).length;
  return {
    name: "config",
    ok: true,
    detail:
      loaded.value.files.length === 0
        ? "no baton.yaml here and no personal config"
        : `${loaded.value.tasks.length} task(s), ${scheduled} scheduled, in ${loaded.value.files.join(", ")}`,
  };
}

export const validateConfig = defineOperation({
  name: "validate_config",
  title: "Validate baton.yaml",
  summary:
    "Check baton.yaml and ~/.baton/config.yaml: every problem with file, line, key and what was expected.",
  input: z.object({ ...scopeFields }),
  output: z.object({
    ok: z.boolean(),
    files: z.array(z.string()),
    tasks: z.array(z.string()),
    problems: z.array(problemSchema),
    messages: z.array(z.string()),
  }),
  readOnly: true,
  destructive: false,
  idempotent: true,
  agent: "full",
  async run(input, ctx) {
    const cwd = configDir(input, ctx);
    const loaded = await loadWithPlugins(cwd, ctx.env ?? process.env);
    if (!loaded.ok) {
      const root = configPaths(cwd, ctx.env ?? process.env).root;
      return {
        ok: false,
        files: [],
        tasks: [],
        problems: loaded.problems,
        messages: loaded.problems.map((p) => formatProblem(p, root)),
      };
    }
    // Read-only: checking a file registers none of its schedules (D79); `schedule list` does.
    return {
      ok: true,
      files: loaded.value.files,
      tasks: loaded.value.tasks.map((t) => t.name),
      problems: [],
      messages: [],
    };
  },
});

export const configSchemaOp = defineOperation({
  name: "config_schema",
  title: "baton.yaml JSON Schema",
  summary: "The JSON Schema of baton.yaml, for editors (yaml-language-server) and agents writing tasks.",
  input: z.object({}),
  output: z.object({ schema: z.record(z.string(), z.unknown()) }),
  readOnly: true,
  destructive: false,
  idempotent: true,
  agent: "full",
  async run() {
    return { schema: configJsonSchema() };
  },
});

export const listSchedules = defineOperation({
  name: "list_schedules",
  title: "List schedules",
  summary: "Scheduled tasks with their cron expression, catch-up policy and next fire times.",
  input: z.object({
    ...scopeFields,
    count: z.number().int().min(1).max(50).optional().describe("Fire times each (default 3)."),
  }),
  output: z.object({
    schedules: z.array(
      z.object({
        task: z.string(),
        cron: z.string(),
        timezone: z.string().optional(),
        scheduler: z.string(),
        catchUp: z.string(),
        next: z.array(z.string()),
        lastFiredAt: z.string().optional(),
        enabled: z.boolean().describe("False while switched off (disable_schedule): no slot fires."),
      }),
    ),
  }),
  // Listing registers nothing (D108): a schedule fires only once `enable_schedule` (consent) turned it on.
  readOnly: true,
  destructive: false,
  idempotent: true,
  agent: "full",
  async run(input, ctx) {
    const config = requireTaskConfig(configDir(input, ctx), ctx.env ?? process.env);
    const place = schedulesPlace(ctx);
    const rows = new Map((await ctx.engine.store.schedules()).map((r) => [r.key, r]));
    const now = ctx.engine.clock.now();
    return {
      schedules: config.tasks
        .filter((t) => t.spec.schedule !== undefined)
        .map((t) => {
          const row = rows.get(scheduleKey(t, place));
          return {
            task: t.name,
            cron: t.spec.schedule!,
            ...(t.spec.timezone === undefined ? {} : { timezone: t.spec.timezone }),
            scheduler: t.spec.scheduler ?? "daemon",
            catchUp: t.spec.catch_up ?? "skip",
            next: nextFires(t.spec.schedule!, t.spec.timezone, input.count ?? 3, now).map((ms) =>
              new Date(ms).toISOString(),
            ),
            ...(row?.lastFiredAt == null ? {} : { lastFiredAt: new Date(row.lastFiredAt).toISOString() }),
            enabled: row !== undefined && row.disabledAt == null,
          };
        }),
    };
  },
});

const scheduleSwitchInput = z.object({
  task: z
    .string()
    .regex(TASK_NAME, "a task name (letters, digits, _ . -)")
    .describe("The scheduled task's name."),
  ...scopeFields,
});
const scheduleSwitchOutput = z.object({ task: z.string(), enabled: z.boolean(), changed: z.boolean() });

/** Switch a configured task's daemon schedule off or on, in the ledger (D77). */
async function switchSchedule(
  input: z.infer<typeof scheduleSwitchInput>,
  ctx: OpContext,
  disabled: boolean,
): Promise<z.infer<typeof scheduleSwitchOutput>> {
  const config = requireTaskConfig(configDir(input, ctx), ctx.env ?? process.env);
  const def = findTask(config, input.task);
  if (def.spec.schedule === undefined)
    throw new InvalidInputError(`task '${def.name}' has no schedule`, { task: def.name });
  if (def.spec.scheduler === "os")
    throw new InvalidInputError(
      `task '${def.name}' is scheduled by the OS (scheduler: os): switch its timer or plist off there`,
      { task: def.name },
    );
  const place = schedulesPlace(ctx);
  const key = scheduleKey(def, place);
  // Only the switch registers, and only this task's schedule (D108): listing registers nothing,
  // and switching on needs consent (it leads to processes starting). A schedule first seen by
  // `enable` is registered off, as `schedule list` showed it, so turning it on is a recorded change;
  // one first seen by `disable` is registered and then switched off, also recorded.
  await ctx.engine.store.registerSchedule(
    { key, configPath: def.file, task: def.name, cron: def.spec.schedule },
    { off: !disabled },
  );
  const switched = await ctx.engine.store.setScheduleDisabled(key, disabled, ctx.actor);
  if (switched === undefined)
    throw new BatonError("NOT_FOUND", `task '${def.name}' has no registered schedule`);
  return { task: def.name, enabled: switched.schedule.disabledAt === null, changed: switched.changed };
}

/** `disable_schedule` or `enable_schedule`: the same switch, one each way. */
function scheduleSwitch(disabled: boolean, title: string, summary: string) {
  return defineOperation({
    name: disabled ? "disable_schedule" : "enable_schedule",
    title,
    summary,
    input: scheduleSwitchInput,
    output: scheduleSwitchOutput,
    // Switching on leads to processes starting at each slot: destructive, open-world, consent.
    ...(disabled ? {} : { effects: { startsProcess: true } }),
    readOnly: false,
    destructive: false,
    idempotent: true,
    agent: "full",
    run: (input, ctx) => switchSchedule(input, ctx, disabled),
  });
}

export const disableSchedule = scheduleSwitch(
  true,
  "Switch a schedule off",
  "Stop a configured task's cron schedule from firing (kept across daemon restarts) without editing baton.yaml; the task can still be run by hand.",
);

export const enableSchedule = scheduleSwitch(
  false,
  "Switch a schedule on",
  "Let a switched-off schedule fire again from its next slot (the slots it was off for are not caught up).",
);

export const installScheduleUnits = defineOperation({
  name: "install_schedule_units",
  title: "Write OS scheduler units",
  summary:
    "Write systemd user units (.service + .timer) or launchd plists for the scheduled tasks into a directory, for users who prefer the OS scheduler.",
  input: z.object({
    ...scopeFields,
    format: z.enum(["systemd", "launchd"]).optional().describe("Default: launchd on macOS, else systemd."),
    dir: z
      .string()
      .min(1)
      .max(4096)
      .optional()
      .describe("Default: ~/.config/systemd/user or ~/Library/LaunchAgents."),
    dryRun: z.boolean().optional().describe("Return the files without writing them."),
    tasks: z
      .array(z.string().min(1).max(64))
      .max(1000)
      .optional()
      .describe("Only these tasks (default: every task with a schedule)."),
  }),
  output: z.object({
    format: z.string(),
    dir: z.string(),
    written: z.boolean(),
    files: z.array(z.object({ path: z.string(), text: z.string() })),
    skipped: z
      .array(z.object({ task: z.string(), reason: z.string() }))
      .describe("Tasks given no unit, and why (the daemon still fires them)."),
    next: z.array(z.string()),
  }),
  readOnly: false,
  destructive: false,
  // The units it writes start `baton task run` when their timers fire.
  effects: { startsProcess: true },
  idempotent: true,
  agent: "full",
  async run(input, ctx) {
    const cwd = input.cwd ?? ctx.cwd;
    const env = ctx.env ?? process.env;
    const config = requireTaskConfig(cwd, env);
    const format = input.format ?? (process.platform === "darwin" ? "launchd" : "systemd");
    const home = env.HOME ?? "~";
    const dir = resolve(
      cwd,
      input.dir ??
        (format === "launchd"
          ? join(home, "Library", "LaunchAgents")
          : join(home, ".config", "systemd", "user")),
    );
    const chosen =
      input.tasks === undefined
        ? config.tasks.filter((t) => t.spec.schedule !== undefined)
        : input.tasks.map((name) => findTask(config, name));
    const skipped = chosen
      .filter((t) => t.spec.schedule === undefined)
      .map((t) => ({ task: t.name, reason: "it has no schedule" }));
    const scheduled = chosen.filter((t) => t.spec.schedule !== undefined);
    if (scheduled.length === 0 && input.tasks === undefined)
      throw new BatonError("NOT_FOUND", "no task has a schedule: nothing to install");
    const unitVars = unitEnv(env, commandHome(ctx));
    const plan = unitPlan(format, scheduled, {
      batonArgv: [process.execPath, join(packageRoot(), "bin", "baton.js")],
      env: unitVars,
    });
    skipped.push(...plan.skipped);
    const units = plan.files;
    const files = units.map((u) => ({ path: join(dir, u.name), text: u.text }));
    if (input.dryRun !== true && files.length > 0) {
      mkdirSync(dir, { recursive: true });
      for (const f of files) writeFileSync(f.path, f.text, { mode: 0o644 });
    }
    const timers = units.filter((u) => u.name.endsWith(".timer")).map((u) => u.name);
    const next =
      format === "systemd"
        ? ["systemctl --user daemon-reload", ...timers.map((t) => `systemctl --user enable --now ${t}`)]
        : units.map((u) => `launchctl load ${join(dir, u.name)}`);
    if (env.BATON_DATABASE_URL !== undefined && unitVars.BATON_DATABASE_URL === undefined)
      next.push(
        "BATON_DATABASE_URL holds a password, so it is not in the units: set it in the units' environment yourself (systemctl --user edit, or an EnvironmentFile=)",
      );
    if (units.length > 0)
      next.push("set `scheduler: os` on these tasks so the baton daemon does not fire them too");
    return { format, dir, written: input.dryRun !== true && files.length > 0, files, skipped, next };
  },
});

/**
 * The plugin scaffold: plain JavaScript that Node imports as it is, with no dependency (its inputs
 * and outputs are docket-style maps, checked by baton), so it runs in a fresh npm project.
 */
const PLUGIN_TEMPLATE = (name: string, description: string) => `/**
 * The plugin task '${name}': baton imports this module only when the task is described or run.
 * Run it with: baton task run ${name} --input who=world   (dry run: --dry-run)
 * See what baton reads from it: baton task describe ${name}
 */
export default {
  description: ${JSON.stringify(description)},
  // Each input: a description, or { description, type, required, default, enum, pattern }.
  inputs: {
    who: { description: "who to greet", default: "world" },
  },
  // Fields of the result, with descriptions.
  outputs: {
    summary: "the greeting",
  },
  // Environment variables the run needs: checked before it is queued.
  requiredEnv: [],
  network: false,
  destructive: false,
  async run({ inputs, log }) {
    log(\`greeting \${inputs.who}\`);
    return { summary: \`hello \${inputs.who}\` };
  },
  async dryRun({ inputs }) {
    return { summary: \`would greet \${inputs.who}\` };
  },
};
`;

/** The TypeScript scaffold (--typescript): compiled with esbuild, inputs as a zod schema. */
const PLUGIN_TEMPLATE_TS = (name: string, description: string) => `/**
 * The plugin task '${name}': baton imports this module only when the task is described or run.
 * TypeScript is compiled with esbuild: install it in the project (npm i -D esbuild).
 * Run it with: baton task run ${name} --input who=world   (dry run: --dry-run)
 */
import { z } from "zod";

export default {
  description: ${JSON.stringify(description)},
  inputs: z.object({ who: z.string().default("world") }),
  outputs: z.object({ summary: z.string() }),
  requiredEnv: [],
  network: false,
  destructive: false,
  async run({ inputs, log }: { inputs: { who: string }; log(line: string): void }) {
    log(\`greeting \${inputs.who}\`);
    return { summary: \`hello \${inputs.who}\` };
  },
  async dryRun({ inputs }: { inputs: { who: string } }) {
    return { summary: \`would greet \${inputs.who}\` };
  },
};
`;

/**
 * baton.yaml with a command task added at the end of its `tasks:` map (an empty `tasks: {}`
 * becomes a block), indented like the tasks already there; the rest of the text is kept as is.
 */
function withTaskBlock(before: string, name: string, description: string, command: string): string {
  const lines = before.replace(/\n$/, "").split("\n");
  const start = lines.findIndex((l) => /^tasks:\s*(\{\s*\})?\s*(#.*)?$/.test(l));
  let end = start + 1;
  let last = start;
  while (start >= 0 && end < lines.length && /^(\s|#|$)/.test(lines[end]!)) {
    if (/^\s+\S/.test(lines[end]!)) last = end;
    end++;
  }
  const indent = (start >= 0 ? /^(\s+)\S/.exec(lines[start + 1] ?? "")?.[1] : undefined) ?? "  ";
  const block = [
    `${indent}${name}:`,
    `${indent}${indent}description: ${description}`,
    `${indent}${indent}command: ${command}`,
  ];
  if (before.trim() === "")
    return `# baton.yaml: configured tasks (baton config schema prints the JSON Schema)\ntasks:\n${block.join("\n")}\n`;
  if (start < 0) return `${before.replace(/\n?$/, "\n")}tasks:\n${block.join("\n")}\n`;
  lines[start] = lines[start]!.replace(/\{\s*\}/, "").trimEnd();
  lines.splice(last + 1, 0, ...block);
  return `${lines.join("\n")}\n`;
}

export const newTask = defineOperation({
  name: "new_task",
  title: "Scaffold a task",
  summary:
    "Add a command task to baton.yaml (kept as is otherwise) or write a plugin task module in .baton/tasks/.",
  input: z.object({
    task: z.string().regex(TASK_NAME, "expected a task name: letters, digits, _ . -"),
    kind: z.enum(["command", "plugin"]).optional().describe("Default: command."),
    language: z
      .enum(["js", "ts"])
      .optional()
      .describe("A plugin's language: js (default: runs with nothing installed) or ts (needs esbuild)."),
    command: z.string().min(1).max(4096).optional().describe("The command line (default: an echo)."),
    description: z.string().max(2000).optional(),
    ...scopeFields,
  }),
  output: z.object({ task: z.string(), kind: z.string(), file: z.string() }),
  readOnly: false,
  destructive: false,
  idempotent: false,
  agent: "full",
  async run(input, ctx) {
    const cwd = input.cwd ?? ctx.cwd;
    const { root, projectFile } = configPaths(cwd, ctx.env ?? process.env);
    const config = requireTaskConfig(cwd, ctx.env ?? process.env);
    const taken = config.tasks.find((t) => t.name === input.task);
    if (taken !== undefined) {
      // Say where, so the user can open it: baton.yaml:12, .baton/tasks/greet.mjs, ~/.baton/config.yaml.
      const where = `${displayPath(taken.file, root)}${taken.line === undefined ? "" : `:${taken.line}`}`;
      throw new BatonError("NAME_TAKEN", `a task '${input.task}' exists already (${where})`, {
        details: { task: input.task, file: taken.file },
      });
    }
    if (input.language !== undefined && input.kind !== "plugin")
      throw new InvalidInputError("language is for plugin tasks (kind: plugin)");
    if (input.kind === "plugin") {
      const ts = input.language === "ts";
      const file = join(root, PLUGIN_DIR, `${input.task}.${ts ? "ts" : "mjs"}`);
      const description = input.description ?? `Say hello (replace with what ${input.task} does)`;
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, (ts ? PLUGIN_TEMPLATE_TS : PLUGIN_TEMPLATE)(input.task, description), {
        flag: "wx",
      });
      return { task: input.task, kind: "plugin", file };
    }
    const before = existsSync(projectFile) ? readFileSync(projectFile, "utf8") : "";
    const description = JSON.stringify(input.description ?? `What ${input.task} does`);
    const command = JSON.stringify(input.command ?? `echo "${input.task}: replace this command"`);
    const after = withTaskBlock(before, input.task, description, command);
    const checked = parseConfig(after, projectFile);
    if (!checked.ok) {
      throw new InvalidInputError(
        `the new task would break baton.yaml: ${formatProblem(checked.problems[0]!, root)}`,
      );
    }
    writeFileSync(projectFile, after);
    return { task: input.task, kind: "command", file: projectFile };
  },
});

export const importTasks = defineOperation({
  name: "import_tasks",
  title: "Import a docket config",
  summary:
    "Convert a docket config.yaml (or any config using docket's spellings) into the project's baton.yaml, listing each change. baton also reads such a file as it is.",
  input: z.object({
    file: z.string().min(1).max(4096).describe("The config to import (docket's ~/.docket/config.yaml)."),
    dryRun: z.boolean().optional().describe("Return the converted baton.yaml without writing it."),
    force: z.boolean().optional().describe("Replace an existing baton.yaml."),
    ...scopeFields,
  }),
  output: z.object({
    from: z.string(),
    file: z.string(),
    written: z.boolean(),
    tasks: z.array(z.string()),
    changes: z.array(z.object({ key: z.string(), message: z.string() })),
    yaml: z.string(),
  }),
  readOnly: false,
  destructive: false,
  idempotent: true,
  agent: "full",
  async run(input, ctx) {
    const cwd = input.cwd ?? ctx.cwd;
    const from = resolve(cwd, input.file);
    const { root, projectFile } = configPaths(cwd, ctx.env ?? process.env);
    let text: string;
    try {
      text = readFileSync(from, "utf8");
    } catch (error) {
      throw new BatonError("NOT_FOUND", `cannot read ${from}: ${(error as Error).message}`);
    }
    const checked = parseConfig(text, from);
    if (!checked.ok) throw configError(checked.problems, root);
    const raw = (parseDocument(text).toJS() ?? {}) as Record<string, unknown>;
    const { changes } = fromDocket(raw);
    const yaml = `# Imported by baton task import from ${from}\n${stringify(checked.value, { lineWidth: 0 })}`;
    const write = input.dryRun !== true;
    if (write && existsSync(projectFile) && input.force !== true && resolve(projectFile) !== from) {
      throw new BatonError(
        "INVALID_INPUT",
        `${displayPath(projectFile, root)} exists already: pass force to replace it, or pass dryRun to see the result`,
      );
    }
    if (write) writeFileSync(projectFile, yaml);
    return {
      from,
      file: projectFile,
      written: write,
      tasks: Object.keys(checked.value.tasks ?? {}),
      changes,
      yaml,
    };
  },
});

/**
 * The environment a unit runs baton with: the ledger this call used (`BATON_HOME`, and
 * `BATON_DATABASE_URL` when it holds no password: a unit file is world-readable) and the caller's
 * PATH, so the task's commands resolve as they do from the caller's shell.
 */
function unitEnv(env: NodeJS.ProcessEnv, home: string): Record<string, string> {
  const out: Record<string, string> = { BATON_HOME: home };
  const url = env.BATON_DATABASE_URL;
  if (url !== undefined && url !== "" && !urlHasSecret(url)) out.BATON_DATABASE_URL = url;
  if (env.PATH !== undefined) out.PATH = env.PATH;
  return out;
}
