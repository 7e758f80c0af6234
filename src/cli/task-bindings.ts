/**
 * CLI bindings of configured tasks: `baton task list|describe|run|new`, `runs`, `events`,
 * `capabilities`, `config validate|schema|edit`, `schedule list|install-units`.
 *
 * `task run` waits for the run by default and exits 0 when it succeeded, 1 when it did not, and 2
 * for a completed dry run (docket's codes); `--async` returns the run id at once.
 */
import type { Command } from "commander";
import { BatonError, InvalidInputError } from "../core/errors.js";
import { shortId } from "../core/ids.js";
import { interruptedOutcomes, SETTLE_INTERRUPTED_EVENT } from "../tasks/stranded.js";
import type { CliBinding, CliContext } from "./bindings.js";
import { io } from "./io.js";
import type { OutputMode } from "./output.js";
import { commandHint, keyValues, paint, table } from "./output.js";
import { count, str } from "./option-values.js";

/** Descriptions of the parent commands bindings are grouped under. */
export const groupDescriptions: Record<string, string> = {
  task: "Configured tasks of baton.yaml: list, describe, run, new (add one), import (from docket)",
  config: "baton.yaml: validate, print its JSON Schema, edit safely",
  schedule: "Cron schedules of configured tasks",
  agent:
    "Agent jobs: instructions handed to an agent CLI (submit, delegate, continue, list, show, cancel, pause, resume)",
};

/** `k=v` pairs of repeated --input flags. */
function inputPairs(list: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of Array.isArray(list) ? (list as string[]) : []) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new InvalidInputError(`--input wants key=value, not '${pair}'`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

const scope = () => ({ cwd: io().cwd });

async function waitFinished(ctx: CliContext, id: string): Promise<{ state: string; exitCode?: number }> {
  for (;;) {
    const r = (await ctx.call("wait_job", { id, timeoutSeconds: 45 })) as {
      finished: boolean;
      state: string;
      exitCode?: number;
    };
    if (r.finished) return r;
  }
}

type AfterWork = { hooks: Record<string, unknown>[]; notifications: Record<string, unknown>[] };

/**
 * A settled run's hook and notification results (its `hook` and `notification` events), and those
 * a daemon that died left without an outcome (`settle_interrupted`), marked `interrupted`.
 */
async function afterWork(ctx: CliContext, id: string): Promise<AfterWork> {
  const r = (await ctx.call("job_events", { id, limit: 10_000 })) as {
    events: { kind: string; details?: Record<string, unknown> }[];
  };
  const of = (kind: string) => r.events.filter((e) => e.kind === kind).map((e) => e.details ?? {});
  const interrupted = interruptedOutcomes(r.events.find((e) => e.kind === SETTLE_INTERRUPTED_EVENT)?.details);
  return {
    hooks: [...of("hook"), ...interrupted.hooks],
    notifications: [...of("notification"), ...interrupted.notifications],
  };
}

/** One line per hook that did not exit 0 and per notification not delivered. */
function afterWorkProblems(after: AfterWork): string[] {
  const text = (v: unknown) => (typeof v === "string" || typeof v === "number" ? String(v) : "");
  const hooks = after.hooks
    .filter((h) => h.exitCode !== 0)
    .map(
      (h) => `hook ${text(h.when)}: ${h.error === undefined ? `exit ${text(h.exitCode)}` : text(h.error)}`,
    );
  const notes = after.notifications
    .filter((n) => n.ok !== true)
    .map(
      (n) =>
        `${n.channel === undefined ? "notifications" : `notification ${text(n.channel)}`}: ${text(n.error) || "not delivered"}`,
    );
  return [...hooks, ...notes];
}

function renderEvent(e: {
  id: number;
  at: string;
  kind: string;
  details?: unknown;
  toState?: string;
}): string {
  const details = e.details === undefined ? "" : ` ${JSON.stringify(e.details)}`;
  return `${e.at.slice(11, 19)}  ${e.kind}${e.toState === undefined ? "" : ` → ${e.toState}`}${details}`;
}

function renderPreview(d: { task: string; preview: Record<string, unknown> }, mode: OutputMode): string {
  return [
    paint(mode, "yellow", `dry run of ${d.task}: no dry_run_command, nothing was run; it would run:`),
    keyValues(d.preview),
  ].join("\n");
}

export const taskBindings: CliBinding[] = [
  {
    op: "list_configured_tasks",
    group: "task",
    command: "list",
    input: () => scope(),
    render(data) {
      const d = data as {
        tasks: {
          name: string;
          description?: string;
          kind: string;
          schedule?: string;
          lastRun?: { state: string; createdAt: string; dryRun: boolean };
        }[];
      };
      if (d.tasks.length === 0) return "no tasks (add one with `baton task new <name>`)";
      const last = (r: { state: string; createdAt: string; dryRun: boolean } | undefined) =>
        r === undefined ? "" : `${r.state}${r.dryRun ? " (dry run)" : ""} ${r.createdAt.slice(0, 16)}`;
      return table(
        ["TASK", "KIND", "SCHEDULE", "LAST RUN", "DESCRIPTION"],
        d.tasks.map((t) => [t.name, t.kind, t.schedule ?? "", last(t.lastRun), t.description ?? ""]),
      );
    },
  },
  {
    op: "describe_task",
    group: "task",
    command: "describe <task>",
    input: ([[task]]) => ({ task, ...scope() }),
    render: (data) => keyValues(data),
  },
  {
    op: "run_task",
    group: "task",
    command: "run <task>",
    summary:
      "Run a baton.yaml task (a task:<name> job) and wait for its end (--async: print its id at once); try --dry-run first: it has no side effects.",
    options: [
      { flags: "--input <key=value>", description: "an input value (repeatable)", repeatable: true },
      { flags: "--dry-run", description: "run the dry-run command, or show what would run (exit 2)" },
      { flags: "--async", description: "return the run id at once instead of waiting" },
      { flags: "--force", description: "run even if a `lock: true` task is already running" },
    ],
    input: ([[task]], o) => ({
      task,
      inputs: inputPairs(o.input),
      ...(o.dryRun === true ? { dryRun: true } : {}),
      ...(o.force === true ? { force: true } : {}),
      ...scope(),
    }),
    render(data, mode) {
      const d = data as {
        task: string;
        id?: string;
        state?: string;
        pid?: number;
        preview?: Record<string, unknown>;
      };
      if (d.preview !== undefined)
        return renderPreview(d as { task: string; preview: Record<string, unknown> }, mode);
      const short = shortId(d.id!);
      return [
        `${d.id} (${short})  ${d.task}  ${d.state}${d.pid === undefined ? "" : `  pid ${d.pid}`}`,
        paint(
          mode,
          "dim",
          `logs: ${commandHint(`baton logs ${short} -f`)}   events: ${commandHint(`baton events ${short}`)}   wait: ${commandHint(`baton wait ${short}`)}`,
        ),
      ].join("\n");
    },
    quiet: (o) => o.async !== true,
    async after(data, o, ctx) {
      const d = data as { task: string; dryRun: boolean; id?: string; preview?: Record<string, unknown> };
      if (d.preview !== undefined) {
        if (o.async !== true) {
          if (ctx.mode.json) io().out(`${JSON.stringify({ ok: true, data: d })}\n`);
          else
            io().out(`${renderPreview(d as { task: string; preview: Record<string, unknown> }, ctx.mode)}\n`);
        }
        return 2;
      }
      if (o.async === true) return undefined;
      const r = await waitFinished(ctx, d.id!);
      const status = (await ctx.call("job_status", { id: d.id })) as {
        job?: { result?: unknown; error?: string; state: string };
        exitCode?: number;
      };
      const job = status.job;
      const after = await afterWork(ctx, d.id!);
      if (ctx.mode.json) {
        io().out(
          `${JSON.stringify({ ok: true, data: { ...d, state: r.state, exitCode: r.exitCode, result: job?.result, error: job?.error, ...after } })}\n`,
        );
      } else {
        const summary = (job?.result as { summary?: string } | undefined)?.summary ?? job?.error ?? "";
        io().out(
          `${d.id} (${shortId(d.id!)})  ${d.task}  ${r.state}${d.dryRun ? " (dry run)" : ""}${summary === "" ? "" : `: ${summary}`}\n`,
        );
        for (const line of afterWorkProblems(after)) io().err(`${line}\n`);
      }
      if (r.state === "succeeded") return d.dryRun ? 2 : 0;
      return 1;
    },
  },
  {
    op: "new_task",
    group: "task",
    command: "new <task>",
    options: [
      {
        flags: "--plugin",
        description:
          "a plugin task module in .baton/tasks/ (JavaScript, runs with nothing installed) instead of a command task",
      },
      {
        flags: "--typescript",
        description: "with --plugin: write it in TypeScript (needs esbuild in the project)",
      },
      { flags: "--command <line>", description: "the command line of a command task" },
      { flags: "--description <text>", description: "what the task does" },
    ],
    input: ([[task]], o) => ({
      task,
      ...(o.plugin === true ? { kind: "plugin" } : {}),
      ...(o.typescript === true ? { language: "ts" } : {}),
      ...(str(o.command) === undefined ? {} : { command: str(o.command) }),
      ...(str(o.description) === undefined ? {} : { description: str(o.description) }),
      ...scope(),
    }),
    render: (data) => {
      const d = data as { task: string; kind: string; file: string };
      return `${d.kind} task '${d.task}' written to ${d.file}`;
    },
  },
  {
    op: "import_tasks",
    group: "task",
    command: "import <file>",
    summary:
      "Convert a docket config (~/.docket/config.yaml) into this project's baton.yaml, printing each change (baton also reads it as it is).",
    options: [
      { flags: "--dry-run", description: "print the converted baton.yaml, write nothing" },
      { flags: "--force", description: "replace an existing baton.yaml" },
    ],
    input: ([[file]], o) => ({
      file,
      ...(o.dryRun === true ? { dryRun: true } : {}),
      ...(o.force === true ? { force: true } : {}),
      ...scope(),
    }),
    render(data) {
      const d = data as {
        file: string;
        written: boolean;
        tasks: string[];
        changes: { key: string; message: string }[];
        yaml: string;
      };
      const changes = d.changes.map((c) => `  ${c.key}: ${c.message}`);
      return [
        ...(d.written ? [`wrote ${d.file}: ${d.tasks.length} task(s): ${d.tasks.join(", ")}`] : [d.yaml]),
        ...(changes.length === 0 ? ["nothing to change"] : ["changed:", ...changes]),
      ].join("\n");
    },
  },
  {
    op: "task_runs",
    command: "runs [task]",
    options: [{ flags: "-n, --limit <n>", description: "how many (default 20)" }],
    input([[task]], o) {
      const limit = count("limit", o.limit);
      return {
        ...(task === undefined ? {} : { task }),
        ...(limit === undefined ? {} : { limit }),
        ...scope(),
      };
    },
    render(data) {
      const d = data as {
        runs: {
          id: string;
          task: string;
          state: string;
          createdAt: string;
          error?: string;
          summary?: string;
          exitCode?: number;
          durationMs?: number;
          dryRun: boolean;
          forced: boolean;
        }[];
      };
      if (d.runs.length === 0) return "no runs";
      return table(
        ["ID", "TASK", "STATE", "EXIT", "TOOK", "CREATED", "SUMMARY"],
        d.runs.map((r) => [
          shortId(r.id),
          r.task,
          `${r.state}${r.dryRun ? " (dry run)" : ""}${r.forced ? " (forced)" : ""}`,
          r.exitCode === undefined ? "" : String(r.exitCode),
          r.durationMs === undefined ? "" : `${(r.durationMs / 1000).toFixed(1)}s`,
          r.createdAt.slice(0, 19),
          r.summary ?? r.error ?? "",
        ]),
      );
    },
  },
  {
    op: "job_events",
    command: "events <id>",
    summary:
      "A job's events oldest first: state changes, hook and notification results, and the JSONL lines a task printed (kind output). Pass --after <event id> (the id of the last one you saw, in --json) to get only newer ones.",
    options: [
      {
        flags: "-f, --follow",
        description:
          "keep printing new events until the job ends (--json: one event a line, then the envelope)",
      },
      { flags: "--after <event-id>", description: "only events after this event id (a cursor)" },
      { flags: "-n, --limit <n>", description: "at most this many, 1–10000 (default 1000; with -f, a page)" },
    ],
    input: ([[id]], o) => {
      const afterId = count("after", o.after);
      const limit = count("limit", o.limit);
      return { id, ...(afterId === undefined ? {} : { afterId }), ...(limit === undefined ? {} : { limit }) };
    },
    render(data, mode) {
      const d = data as { lastEventId: number; more: boolean; events: Parameters<typeof renderEvent>[0][] };
      const lines = d.events.map(renderEvent);
      // A full page: there may be more (stranger s18a: 1,100 events were cut at 1,000 silently).
      if (d.more)
        lines.push(paint(mode, "dim", `${lines.length} shown; next page: --after ${d.lastEventId}`));
      return lines.join("\n");
    },
    // Followed, the events are printed as they come, one a line (with --json as `logs -f` does:
    // one object a line, then the envelope): not as pages.
    quiet: (o) => o.follow === true,
    async after(data, o, ctx) {
      if (o.follow !== true) return undefined;
      let d = data as {
        id: string;
        state: string;
        finished: boolean;
        lastEventId: number;
        events: Parameters<typeof renderEvent>[0][];
      };
      const print = () => {
        for (const e of d.events) io().out(`${ctx.mode.json ? JSON.stringify(e) : renderEvent(e)}\n`);
      };
      print();
      const limit = count("limit", o.limit);
      // A long poll: the operation answers as soon as the ledger has a newer event (or the job ends).
      while (!d.finished) {
        d = (await ctx.call("job_events", {
          id: d.id,
          afterId: d.lastEventId,
          waitSeconds: 30,
          ...(limit === undefined ? {} : { limit }),
        })) as typeof d;
        print();
      }
      if (ctx.mode.json) {
        const { id, state, finished, lastEventId } = d;
        io().out(`${JSON.stringify({ ok: true, data: { id, state, finished, lastEventId } })}\n`);
      }
      return 0;
    },
  },
  {
    op: "capabilities",
    command: "capabilities",
    input: () => scope(),
    render(data) {
      const d = data as {
        operations: { name: string; summary: string }[];
        tasks: { name: string; description?: string; destructive: boolean; network: boolean }[];
        configProblems?: string[];
      };
      const flags = (t: { destructive: boolean; network: boolean }) =>
        [t.destructive ? "destructive" : "", t.network ? "network" : ""].filter(Boolean).join(",");
      return [
        `${d.operations.length} operations (baton capabilities --json for schemas)`,
        d.tasks.length === 0
          ? "no configured tasks"
          : table(
              ["TASK", "FLAGS", "DESCRIPTION"],
              d.tasks.map((t) => [t.name, flags(t), t.description ?? ""]),
            ),
        ...(d.configProblems ?? []).map((p) => `config problem: ${p}`),
      ].join("\n");
    },
  },
  {
    op: "validate_config",
    group: "config",
    command: "validate",
    input: () => scope(),
    render(data) {
      const d = data as { ok: boolean; files: string[]; tasks: string[]; messages: string[] };
      if (!d.ok) return d.messages.join("\n");
      return `ok: ${d.tasks.length} task(s) in ${d.files.length === 0 ? "no config file" : d.files.join(", ")}`;
    },
    // --json: an invalid config is an error envelope (CONFIG_INVALID, the problems in its
    // details), as its exit code 2 says; the text form keeps one problem per line on stdout.
    refuse(data, mode) {
      const d = data as { ok: boolean; problems: unknown[]; messages: string[] };
      if (d.ok || !mode.json) return undefined;
      return new BatonError(
        "CONFIG_INVALID",
        `${d.messages.length} problem(s) in the config: ${d.messages.join("; ")}`,
        { details: { problems: d.problems, messages: d.messages } },
      );
    },
    async after(data) {
      return (data as { ok: boolean }).ok ? undefined : 2;
    },
  },
  {
    op: "config_schema",
    group: "config",
    command: "schema",
    input: () => ({}),
    render: (data) => JSON.stringify((data as { schema: unknown }).schema, null, 2),
  },
  {
    op: "list_schedules",
    group: "schedule",
    command: "list",
    options: [{ flags: "-n, --count <n>", description: "next fire times per task (default 3)" }],
    input: (_args, o) => ({
      ...scope(),
      ...(str(o.count) === undefined ? {} : { count: Number(str(o.count)) }),
    }),
    render(data) {
      const d = data as {
        schedules: {
          task: string;
          cron: string;
          scheduler: string;
          catchUp: string;
          next: string[];
          enabled: boolean;
        }[];
      };
      if (d.schedules.length === 0) return "no scheduled tasks";
      return table(
        ["TASK", "CRON", "BY", "CATCH-UP", "ON", "NEXT"],
        d.schedules.map((s) => [
          s.task,
          s.cron,
          s.scheduler,
          s.catchUp,
          s.enabled ? "yes" : "no",
          s.enabled ? s.next.join(" ") : "(switched off)",
        ]),
      );
    },
  },
  ...(["disable", "enable"] as const).map((verb): CliBinding => ({
    op: `${verb}_schedule`,
    group: "schedule",
    command: `${verb} <task>`,
    input: ([[task]]) => ({ task, ...scope() }),
    render(data) {
      const d = data as { task: string; enabled: boolean; changed: boolean };
      return `schedule of ${d.task}: ${d.enabled ? "on" : "off"}${d.changed ? "" : " (already)"}`;
    },
  })),
  {
    op: "install_schedule_units",
    group: "schedule",
    command: "install-units [tasks...]",
    options: [
      { flags: "--format <format>", description: "systemd or launchd (default: by platform)" },
      { flags: "--dir <dir>", description: "where to write the files" },
      { flags: "--dry-run", description: "print the files, write nothing" },
    ],
    input: ([tasks], o) => ({
      ...scope(),
      ...(tasks === undefined || tasks.length === 0 ? {} : { tasks }),
      ...(str(o.format) === undefined ? {} : { format: str(o.format) }),
      ...(str(o.dir) === undefined ? {} : { dir: str(o.dir) }),
      ...(o.dryRun === true ? { dryRun: true } : {}),
    }),
    render(data) {
      const d = data as {
        written: boolean;
        files: { path: string; text: string }[];
        skipped: { task: string; reason: string }[];
        next: string[];
      };
      const skipped = d.skipped.map((s) => `skipped ${s.task}: ${s.reason}`);
      if (!d.written) return [...d.files.map((f) => `# ${f.path}\n${f.text}`), ...skipped].join("\n");
      return [
        ...d.files.map((f) => `wrote ${f.path}`),
        ...skipped,
        "next:",
        ...d.next.map((n) => `  ${n}`),
      ].join("\n");
    },
  },
];

/** Commands that are not operations: `config edit` (interactive) and the hidden plugin host. */
export function registerTaskCommands(program: Command, onExit: (code: number) => void): void {
  const config = program.commands.find((c) => c.name() === "config");
  config
    ?.command("edit")
    .description("edit baton.yaml in $EDITOR; saved only if it validates")
    .option("--personal", "edit ~/.baton/config.yaml instead")
    .option("--json", "print one JSON envelope")
    .exitOverride()
    .action(async (opts: { personal?: boolean; json?: boolean }) => {
      const { editConfig } = await import("./config-edit.js");
      onExit(await editConfig(opts.personal === true, opts.json === true));
    });
  const task = program.commands.find((c) => c.name() === "task");
  task
    ?.command("plugin-host", { hidden: true })
    .argument("<module>")
    .argument("<name>")
    .option("--dry-run")
    .action(async (module: string, name: string, opts: { dryRun?: boolean }) => {
      const { hostPlugin } = await import("../tasks/plugins.js");
      try {
        onExit(
          await hostPlugin(
            module,
            name,
            opts.dryRun === true,
            io().env,
            (text) => io().out(text),
            (line) => io().err(`${line}\n`),
          ),
        );
      } catch (error) {
        io().err(`${(error as Error).message}\n`);
        onExit(1);
      }
    });
}
