/**
 * CLI bindings of the agent-job operations: `baton agent submit (run) | delegate | continue | list |
 * show | cancel | pause | resume`, and `baton search` over jobs of any kind. An agent job's log is
 * `baton logs <id>`, as for any background command.
 */
import { readFileSync } from "node:fs";
import { resolve as resolvePath } from "node:path";
import { csvJobs } from "../agents/bulk.js";
import { parseTimerDuration } from "../core/duration.js";
import { InvalidInputError } from "../core/errors.js";
import type { CliBinding, CliContext, CliOption } from "./bindings.js";
import { parseJobsFile } from "./bindings.js";
import { io } from "./io.js";
import { commandHint, keyValues, table } from "./output.js";
import { count, str } from "./option-values.js";

function omitUndefined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

/** `--meta key=value` (repeatable) into a record. */
function metaOf(values: unknown): Record<string, string> | undefined {
  if (!Array.isArray(values)) return undefined;
  const meta: Record<string, string> = {};
  for (const item of values as string[]) {
    const at = item.indexOf("=");
    if (at <= 0) throw new InvalidInputError(`--meta takes key=value, not '${item}'`);
    meta[item.slice(0, at)] = item.slice(at + 1);
  }
  return meta;
}

function commandOf(text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
    throw new InvalidInputError(
      `--command takes a JSON array of strings, e.g. '["my-agent","--prompt","{instructions}"]'`,
    );
  }
  return value;
}

/** The instructions: the argument, or stdin with `-` (`agent` commands always run in the caller's process). */
function instructionsOf(arg: string | undefined): string {
  if (arg !== undefined && arg !== "-") return arg;
  if (arg === undefined) {
    throw new InvalidInputError(
      'give the instructions: baton agent submit -a claude "…" (or - to read stdin)',
    );
  }
  try {
    return readFileSync(0, "utf8");
  } catch (error) {
    throw new InvalidInputError(`cannot read the instructions from stdin: ${(error as Error).message}`);
  }
}

/** The jobs of a bulk file, with the command line's --agent/--type/--user/--meta as defaults. */
function jobsFromFile(path: string, defaults: Record<string, unknown>): Record<string, unknown>[] {
  let text: string;
  try {
    text = readFileSync(path === "-" ? 0 : resolvePath(io().cwd, path), "utf8");
  } catch (error) {
    throw new InvalidInputError(`cannot read ${path}: ${(error as Error).message}`);
  }
  const rows = path.toLowerCase().endsWith(".csv") ? csvJobs(text) : parseJobsFile(text);
  return rows.map((row, i) => {
    if (typeof row !== "object" || row === null || Array.isArray(row)) {
      throw new InvalidInputError(`job ${i + 1} of ${path} is not an object`);
    }
    const r = row as Record<string, unknown>;
    const meta = {
      ...(defaults.meta as Record<string, string> | undefined),
      ...(r.meta as object | undefined),
    };
    return omitUndefined({ ...defaults, ...r, meta: Object.keys(meta).length === 0 ? undefined : meta });
  });
}

/** Wait for each job, print its answer; exit 0 when all succeeded. */
async function waitAll(ctx: CliContext, ids: string[]): Promise<number> {
  let ok = true;
  for (const id of ids) {
    for (;;) {
      const r = (await ctx.call("wait_job", { id, timeoutSeconds: 45 })) as { finished: boolean };
      if (r.finished) break;
    }
    const shown = (await ctx.call("agent_show", { id, lines: 0 })) as {
      state: string;
      summary?: string;
      error?: string;
    };
    ok &&= shown.state === "succeeded";
    if (ctx.mode.json) io().out(`${JSON.stringify({ ok: true, data: shown })}\n`);
    else
      io().out(`${ids.length > 1 ? `${id}  ` : ""}${shown.state}: ${shown.summary ?? shown.error ?? ""}\n`);
  }
  return ok ? 0 : 1;
}

const jobOptions: CliOption[] = [
  {
    flags: "-a, --agent <name>",
    description: "an agent of baton.yaml, claude, codex, gemini, or a name for --command",
  },
  { flags: "--command <json>", description: 'an ad-hoc command template: \'["cli","-p","{instructions}"]\'' },
  { flags: "--type <kind>", description: "the kind of work (review, fix…), searchable" },
  { flags: "--meta <key=value>", description: "metadata to search by (repeatable)", repeatable: true },
  { flags: "--user <name>", description: "who the job is for or from" },
  { flags: "--timeout <duration>", description: "stop the agent after this long" },
  {
    flags: "-k, --key <key>",
    description: "idempotency key: the job with it (live, or finished until cleaned) is returned instead",
  },
  { flags: "--retries <n>", description: "extra attempts when it fails (default 0)" },
];

function jobInput(o: Record<string, unknown>): Record<string, unknown> {
  const timeout = str(o.timeout);
  // Checked here so the refusal names the flag as typed (the operation names its field `timeout`).
  if (timeout !== undefined) parseTimerDuration(timeout, "--timeout");
  return omitUndefined({
    agent: str(o.agent),
    command: commandOf(str(o.command)),
    type: str(o.type),
    meta: metaOf(o.meta),
    user: str(o.user),
    timeout,
    key: str(o.key),
    retries: count("retries", o.retries),
  });
}

function needAgent(input: Record<string, unknown>): void {
  if (input.agent === undefined)
    throw new InvalidInputError("name the agent: --agent claude (or a name from baton.yaml)");
}

interface Submitted {
  id: string;
  agent: string;
  state: string;
  deduplicated: boolean;
}

const filterOptions: CliOption[] = [
  { flags: "--meta <key=value>", description: "metadata (repeatable: all must match)", repeatable: true },
  { flags: "--user <name>", description: "submitted with this --user" },
  { flags: "--type <kind>", description: "submitted with this --type" },
  { flags: "-s, --state <state>", description: "only jobs in this state (repeatable)", repeatable: true },
  {
    flags: "--after <when>",
    description: "created after: 2026-11-01, 2026-11-01T12:00Z, or an age (2h, 7d)",
  },
  { flags: "--before <when>", description: "created before: a date or an age" },
  { flags: "-q, --search <text>", description: "text in the id, name, instructions or error" },
  { flags: "-l, --limit <n>", description: "at most this many (default 50)" },
  { flags: "--all", description: "every project" },
];

function filterInput(o: Record<string, unknown>): Record<string, unknown> {
  return omitUndefined({
    meta: metaOf(o.meta),
    user: str(o.user),
    type: str(o.type),
    states: o.state,
    after: str(o.after),
    before: str(o.before),
    text: str(o.search),
    limit: count("limit", o.limit),
    all: o.all === true ? true : undefined,
    cwd: io().cwd,
  });
}

const renderState = (data: unknown) => {
  const d = data as { id: string; state: string; paused?: boolean };
  return `${d.id}  ${d.state}${d.paused === true ? " (paused)" : ""}`;
};

export const agentBindings: CliBinding[] = [
  {
    op: "agent_submit",
    group: "agent",
    command: "submit [instructions]",
    aliases: ["run"],
    summary:
      "Start agent jobs in the background: the instructions go to an agent CLI (configured in baton.yaml, a preset: claude, codex, gemini, or a command) never through a shell. One job, or many with --file (atomically). Returns the ids at once; baton agent show gives the answer.",
    options: [
      ...jobOptions,
      {
        flags: "-f, --file <path>",
        description: "many jobs: NDJSON, a JSON array, or CSV with a header (- for stdin)",
      },
      { flags: "--wait", description: "wait for the answers and print them; exit 1 when an agent failed" },
    ],
    input([[instructions]], o) {
      const base = jobInput(o);
      const file = str(o.file);
      if (file !== undefined) {
        if (instructions !== undefined) throw new InvalidInputError("give instructions or --file, not both");
        return { jobs: jobsFromFile(file, base), cwd: io().cwd };
      }
      needAgent(base);
      return { ...base, instructions: instructionsOf(instructions), cwd: io().cwd };
    },
    render: (data) => {
      const d = data as { jobs: Submitted[] };
      const rows = d.jobs.map(
        (j) => `${j.id}  ${j.agent}  ${j.state}${j.deduplicated ? "  (deduplicated)" : ""}`,
      );
      const first = d.jobs[0]!.id;
      return [
        ...rows,
        `answer: ${commandHint(`baton agent show ${first}`)}   cancel: ${commandHint(`baton agent cancel ${first}`)}`,
      ].join("\n");
    },
    quiet: (o) => o.wait === true,
    after: (data, o, ctx) =>
      o.wait === true
        ? waitAll(
            ctx,
            (data as { jobs: Submitted[] }).jobs.map((j) => j.id),
          )
        : Promise.resolve(undefined),
  },
  {
    op: "delegate",
    group: "agent",
    command: "delegate [instructions]",
    summary:
      "Hand instructions to another agent (baton agent submit) and wait up to --wait-seconds (default 45) for its answer. Still running then: baton wait, then baton agent show.",
    options: [
      ...jobOptions,
      { flags: "--wait-seconds <n>", description: "wait this long for the answer (default 45, at most 45)" },
    ],
    input([[instructions]], o) {
      const base = jobInput(o);
      needAgent(base);
      return omitUndefined({
        ...base,
        instructions: instructionsOf(instructions),
        waitSeconds: count("wait-seconds", o.waitSeconds),
        cwd: io().cwd,
      });
    },
    render: (data) => {
      const d = data as { id: string; state: string; finished: boolean; summary?: string; error?: string };
      return d.finished
        ? `${d.id}  ${d.state}: ${d.summary ?? d.error ?? ""}`
        : `${d.id}  still ${d.state}: ${commandHint(`baton wait ${d.id}`)}, then ${commandHint(`baton agent show ${d.id}`)}`;
    },
  },
  {
    op: "agent_continue",
    group: "agent",
    command: "continue <id> [instructions]",
    options: [{ flags: "--wait", description: "wait for the answer and print it" }],
    input: ([[id], [instructions]]) => ({ id, instructions: instructionsOf(instructions) }),
    render: (data) => {
      const d = data as { id: string; state: string; continues: string };
      return `${d.id}  ${d.state}  (continues ${d.continues})\nanswer: ${commandHint(`baton agent show ${d.id}`)}`;
    },
    quiet: (o) => o.wait === true,
    after: (data, o, ctx) =>
      o.wait === true ? waitAll(ctx, [(data as { id: string }).id]) : Promise.resolve(undefined),
  },
  {
    op: "list_configured_agents",
    group: "agent",
    command: "configured",
    input: () => ({ cwd: io().cwd }),
    render: (data) => {
      const d = data as { agents: { name: string; source: string; command: string[] }[] };
      return table(
        ["AGENT", "FROM", "COMMAND"],
        d.agents.map((a) => [a.name, a.source, a.command.join(" ")]),
      );
    },
  },
  {
    op: "agent_list",
    group: "agent",
    command: "list",
    aliases: ["ls"],
    options: [{ flags: "-a, --agent <name>", description: "only this agent" }, ...filterOptions],
    input: (_args, o) => omitUndefined({ agent: str(o.agent), ...filterInput(o) }),
    render: (data) => {
      const d = data as { jobs: { id: string; agent: string; state: string; createdAt: string }[] };
      if (d.jobs.length === 0) return "no agent jobs";
      return table(
        ["ID", "AGENT", "STATE", "CREATED"],
        d.jobs.map((j) => [j.id, j.agent, j.state, j.createdAt.slice(0, 19)]),
      );
    },
  },
  {
    op: "agent_show",
    group: "agent",
    command: "show <id>",
    options: [{ flags: "-n, --lines <n>", description: "log lines to show (default 20)" }],
    input: ([[id]], o) => omitUndefined({ id, lines: count("lines", o.lines) }),
    render: (data) => keyValues(data),
  },
  {
    op: "agent_cancel",
    group: "agent",
    command: "cancel <id>",
    options: [{ flags: "--force", description: "SIGKILL at once instead of SIGTERM first" }],
    input: ([[id]], o) => omitUndefined({ id, force: o.force === true ? true : undefined }),
    render: renderState,
  },
  {
    op: "agent_pause",
    group: "agent",
    command: "pause <id>",
    input: ([[id]]) => ({ id }),
    render: renderState,
  },
  {
    op: "agent_resume",
    group: "agent",
    command: "resume <id>",
    input: ([[id]]) => ({ id }),
    render: renderState,
  },
  {
    op: "search_jobs",
    command: "search [text]",
    options: [
      ...filterOptions,
      { flags: "--job-type <type>", description: "only jobs of this type (agent:reviewer, command…)" },
    ],
    input: ([[text]], o) =>
      omitUndefined({ ...filterInput(o), text: text ?? str(o.search), jobType: str(o.jobType) }),
    render: (data) => {
      const d = data as {
        jobs: { id: string; type: string; state: string; createdAt: string; tags: string[] }[];
      };
      if (d.jobs.length === 0) return "no jobs";
      return table(
        ["ID", "TYPE", "STATE", "CREATED", "TAGS"],
        d.jobs.map((j) => [j.id, j.type, j.state, j.createdAt.slice(0, 19), j.tags.join(" ")]),
      );
    },
  },
];
