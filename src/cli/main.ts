/**
 * The `baton` command. Every checkpoint command is an operation of the catalogue; this file only
 * wires argv to it, prints the result, and maps errors to exit codes.
 *
 * Exit codes: 0 ok, 1 failure, 2 usage or invalid input, 3 not found, 4 conflict (lease lost,
 * wrong state, ambiguous id), 5 store unavailable (busy, full, I/O, schema too new).
 */
import { Command, CommanderError, Option } from "commander";
import { BatonError, ERROR_CODES, InvalidInputError, toBatonError } from "../core/errors.js";
import { getOperation } from "../ops/catalogue.js";
import { describeIssue, invoke } from "../ops/invoke.js";
import { flagFor } from "./suggest.js";
import { openEngine } from "../open.js";
import type { CliBinding, Positional } from "./bindings.js";
import { bindings, defaultRender } from "./bindings.js";
import { commandBindings } from "./command-bindings.js";
import { agentBindings } from "./agent-bindings.js";
import { groupDescriptions, registerTaskCommands, taskBindings } from "./task-bindings.js";
import { LocalCommandHost } from "../daemon/host.js";

/** Every command bound to an operation of the catalogue. */
export const allBindings: CliBinding[] = [...bindings, ...commandBindings, ...taskBindings, ...agentBindings];
import type { OutputMode } from "./output.js";
import { detectColor, printError, printOk } from "./output.js";
import { io, withIo } from "./io.js";
import { registerMcpCommand } from "../mcp/command.js";
import { registerIntegrationCommands } from "../integrations/commands.js";
import { registerHttpCommands } from "./http-bindings.js";
import { registerLedgerCommands } from "./ledger-commands.js";
import { resolveDatabaseUrl, takeDatabaseUrlFlag, takeGlobalFlag } from "./database-url.js";
import { checkRequestId } from "../core/request.js";

const REQUEST_ID_FLAG = "--request-id";

declare const BATON_VERSION: string | undefined;
const version = typeof BATON_VERSION === "string" ? BATON_VERSION : "0.1.0";

function modeFor(json: boolean): OutputMode {
  return { json, color: !json && detectColor() };
}

async function runBinding(
  binding: CliBinding,
  args: Positional,
  opts: Record<string, unknown>,
): Promise<number> {
  const mode = modeFor(opts.json === true);
  const op = getOperation(binding.op);
  if (op === undefined)
    throw new BatonError("INTERNAL", `the CLI names an unknown operation '${binding.op}'`);
  const input = binding.input(args, opts);
  const shared = io().opened;
  const { engine, store, home } = shared ?? (await openEngine({ actor: "cli" }));
  const commands = new LocalCommandHost(home, store.location);
  const context = {
    engine,
    cwd: io().cwd,
    actor: "cli",
    location: store.location,
    env: io().env,
    commands,
  };
  try {
    const parsed = op.input.safeParse(input ?? {});
    if (!parsed.success) throw cliInputError(binding, parsed.error.issues);
    const requestId = io().requestId;
    const data = await invoke(op, input, requestId === undefined ? context : { ...context, requestId }).catch(
      (error: unknown) => {
        throw inFlagWords(binding, error);
      },
    );
    if (binding.quiet?.(opts) !== true)
      printOk(mode, data, () => (binding.render ?? defaultRender)(data, mode));
    const errors = (data as { errors?: unknown[] }).errors;
    let code = Array.isArray(errors) && errors.length > 0 ? 1 : 0;
    if (binding.after !== undefined) {
      const after = await binding.after(data, opts, {
        mode,
        call: (name, callInput) => invoke(getOperation(name)!, callInput, context),
      });
      if (after !== undefined) code = after;
    }
    return code;
  } finally {
    commands.close();
    if (shared === undefined) await store.close();
  }
}

/** A number of seconds or milliseconds as a duration a flag takes (`5s`, `250ms`). */
function asDuration(value: number, field: string): string {
  const ms = field.endsWith("Ms") ? value : value * 1000;
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/**
 * A schema's complaint in the command line's words: the flag as typed (`--ttl`, not `ttlSeconds`),
 * a bound as a duration where the flag takes one, and the valid values where there is a list.
 */
function cliInputError(
  binding: CliBinding,
  issues: readonly {
    path: readonly PropertyKey[];
    message: string;
    code?: string;
    minimum?: unknown;
    maximum?: unknown;
    values?: unknown;
  }[],
): BatonError {
  const issue = issues[0];
  const field = String(issue?.path[0] ?? "");
  const flag = issue === undefined ? undefined : flagFor(binding, field);
  if (issue === undefined || flag === undefined)
    return new InvalidInputError(`${binding.op}: ${describeIssue(issues)}`);
  const timed = /(Seconds|Ms)$/.test(field);
  const bound = (value: unknown) =>
    timed && typeof value === "number" ? asDuration(value, field) : String(value);
  let text = issue.message;
  if (issue.code === "too_small" && issue.minimum !== undefined)
    text = `must be at least ${bound(issue.minimum)}`;
  if (issue.code === "too_big" && issue.maximum !== undefined)
    text = `must be at most ${bound(issue.maximum)}`;
  if (Array.isArray(issue.values)) text = `must be one of ${issue.values.map(String).join(", ")}`;
  return new InvalidInputError(`${flag} ${text}`);
}

/**
 * An INVALID_INPUT raised below the operation's schema (the engine's own check of a job) names
 * catalogue fields too: `invalid job: timeoutMs: Too small…` becomes `invalid job: --timeout …`.
 */
const BOUND_WORDS: Record<string, string> = {
  ">": "more than",
  ">=": "at least",
  "<": "less than",
  "<=": "at most",
};

function inFlagWords(binding: CliBinding, error: unknown): unknown {
  if (!(error instanceof BatonError) || error.code !== "INVALID_INPUT") return error;
  const message = error.message.replace(/\b([a-z][A-Za-z]+): /g, (whole, field: string) => {
    const flag = flagFor(binding, field);
    return flag === undefined ? whole : `${flag} `;
  });
  if (message === error.message) return error;
  return new InvalidInputError(
    message
      .replace(/(--[a-z-]+) Too (small|big): /, "$1 ")
      .replace(
        /expected number to be ([<>]=?)(\d+)/,
        (_, op: string, n: string) => `must be ${BOUND_WORDS[op] ?? op} ${n}`,
      ),
    error.details === undefined ? undefined : { ...error.details },
  );
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** The word a binding is called by at the top level: its group, else its command's name. */
function topWord(binding: CliBinding): string {
  return binding.group ?? binding.command.split(" ")[0]!;
}

/** How a binding is typed: `baton task run`. */
function commandLine(binding: CliBinding): string {
  return ["baton", binding.group, binding.command.split(" ")[0]].filter((w) => w !== undefined).join(" ");
}

/**
 * An operation's summary as the CLI's help shows it: the catalogue speaks of operations by their
 * tool names (`wait_job`), which on the command line are commands (`baton wait`).
 */
export function cliSummary(binding: CliBinding): string {
  const summary = binding.summary ?? getOperation(binding.op)?.summary ?? "";
  return summary.replace(/\b[a-z]+(?:_[a-z]+)+\b/g, (name) => {
    const named = allBindings.find((b) => b.op === name);
    return named === undefined ? name : commandLine(named);
  });
}

/**
 * The CLI. With `only` (the first word of the command line), the catalogue's commands are
 * registered only when they answer to that word: a call builds one command, not sixty, which is
 * most of what a one-shot call costs the daemon that serves it. Any other word (help, an unknown
 * command, a command outside the catalogue) gets all of them, so help and suggestions are whole.
 */
export function buildProgram(onExit: (code: number) => void, only?: string): Command {
  const program = new Command("baton")
    .description("A durable work ledger and runner for AI coding agents.")
    .version(version, "-V, --version")
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ outputError: () => undefined });

  program.enablePositionalOptions();
  // Taken out of argv before parsing (see selectDatabase); declared here for --help.
  program.option("--database-url <url>", "PostgreSQL ledger (else BATON_DATABASE_URL, database_url, SQLite)");
  program.option(
    "--request-id <id>",
    "name this call: repeated with the same id, a change answers the first call's outcome instead of running again",
  );
  const groups = new Map<string, Command>();
  const parentOf = (group: string | undefined): Command => {
    if (group === undefined) return program;
    let parent = groups.get(group);
    if (parent === undefined) {
      parent = program
        .command(group)
        .description(groupDescriptions[group] ?? "")
        .exitOverride();
      parent.configureOutput({ outputError: () => undefined });
      groups.set(group, parent);
    }
    return parent;
  };
  const answers = (binding: CliBinding, word: string) =>
    topWord(binding) === word || (binding.group === undefined && (binding.aliases ?? []).includes(word));
  const selected =
    only !== undefined && allBindings.some((b) => answers(b, only))
      ? allBindings.filter((b) => answers(b, only))
      : allBindings;
  for (const binding of selected) {
    const command = parentOf(binding.group)
      .command(binding.command)
      .description(cliSummary(binding))
      .exitOverride();
    if (binding.passThrough === true) command.passThroughOptions();
    for (const alias of binding.aliases ?? []) command.alias(alias);
    for (const option of binding.options ?? []) {
      const o = new Option(option.flags, option.description);
      if (option.repeatable === true) o.argParser(collect);
      command.addOption(o);
    }
    command.option("--json", "print one JSON envelope: {ok, data} or {ok:false, error}");
    command.configureOutput({ outputError: () => undefined });
    command.action(async (...received: unknown[]) => {
      // Commander passes each declared argument, then the options, then the command.
      const opts = (received[received.length - 2] ?? {}) as Record<string, unknown>;
      const lists = received
        .slice(0, -2)
        .map((v) =>
          v === undefined
            ? []
            : Array.isArray(v)
              ? (v as string[])
              : [typeof v === "string" ? v : JSON.stringify(v)],
        );
      const positional: Positional = [lists[0] ?? [], lists[1] ?? [], lists[2] ?? []];
      onExit(await runBinding(binding, positional, opts));
    });
  }

  program
    .command("demo")
    .description("Show crash-safe checkpoints: 20 tasks, 12 done, SIGKILL, resume, finish the 8 left")
    .option("--keep", "keep the demo's temporary BATON_HOME")
    .option("--json", "print the demo's verdict as JSON")
    .action(async (opts: { keep?: boolean; json?: boolean }) => {
      const { runDemo } = await import("./demo.js");
      onExit(await runDemo({ keep: opts.keep === true, json: opts.json === true }));
    });
  const daemon = program
    .command("daemon")
    .description("The background daemon: supervisor and scheduler (started on demand)");
  for (const verb of ["start", "stop", "status", "restart", "run"] as const) {
    daemon
      .command(verb)
      .description(
        {
          start: "start the daemon if it is not running",
          stop: "stop the daemon (running commands keep running and are re-attached later)",
          status: "is the daemon running, and what is it running",
          restart: "stop, then start",
          run: "run the daemon in the foreground",
        }[verb],
      )
      .option("--json", "print one JSON envelope")
      .exitOverride()
      .action(async (opts: { json?: boolean }) => {
        const { daemonCommand } = await import("./daemon-command.js");
        onExit(await daemonCommand(verb, modeFor(opts.json === true), main));
      });
  }
  program
    .command("completion")
    .description("print a shell completion script: bash, zsh or fish")
    .argument("<shell>")
    .action(async (shell: string) => {
      const { completionScript } = await import("./completion.js");
      io().out(completionScript(shell, program));
      onExit(0);
    });
  registerMcpCommand(program, version, onExit);
  registerIntegrationCommands(program, onExit);
  registerTaskCommands(program, onExit);
  registerHttpCommands(program, onExit);
  registerLedgerCommands(program, onExit);
  program
    .command("demo-agent", { hidden: true })
    .argument("<phase>")
    .argument("<dir>")
    .action(async (phase: string, dir: string) => {
      const { demoAgent } = await import("./demo.js");
      onExit(await demoAgent(phase, dir));
    });
  return program;
}

/**
 * Strip `--database-url` from `argv` and, in a CLI process of its own (not a call the daemon serves
 * with its open ledger), point this process (and the daemon it may start) at the ledger chosen by
 * flag > BATON_DATABASE_URL > baton.yaml > config.yaml (see database-url.ts).
 */
function selectDatabase(argv: string[]): string[] {
  const taken = takeDatabaseUrlFlag(argv);
  if (io().opened === undefined) {
    const { url } = resolveDatabaseUrl(taken.url, process.env, io().cwd);
    if (url !== undefined) process.env.BATON_DATABASE_URL = url;
  }
  return taken.argv;
}

/** Options of one CLI invocation that are not on its command line. */
export interface MainOptions {
  /** The request id the thin client gave the call (bin/baton.js), when `--request-id` is absent. */
  requestId?: string;
}

/**
 * Run the CLI with `argv` (without node and script). Resolves to the exit code. `--request-id <id>`
 * (or `options.requestId`) names the call: a mutating command repeated with the same id answers
 * the first call's outcome instead of doing the work again.
 */
export async function main(argv: string[], options: MainOptions = {}): Promise<number> {
  const json = argv.includes("--json");
  try {
    const taken = takeGlobalFlag(argv, REQUEST_ID_FLAG, "any id of yours, e.g. deploy-2026-01-01-1");
    const requestId = taken.value ?? options.requestId ?? io().requestId;
    if (requestId === undefined) return await parseAndRun(taken.argv, json);
    checkRequestId(requestId);
    return await withIo({ ...io(), requestId }, () => parseAndRun(taken.argv, json));
  } catch (error) {
    return failed(error, json);
  }
}

async function parseAndRun(argv: string[], json: boolean): Promise<number> {
  let code = 0;
  try {
    const args = selectDatabase(argv);
    const first = args[0];
    const program = buildProgram(
      (c) => {
        code = c;
      },
      first === undefined || first.startsWith("-") ? undefined : first,
    );
    await program.parseAsync(args, { from: "user" });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (
        error.code === "commander.helpDisplayed" ||
        error.code === "commander.version" ||
        error.exitCode === 0
      ) {
        return 0;
      }
      // No command (`baton`) or `baton help <unknown>`: commander printed the help to stderr.
      if (error.code === "commander.help") return ERROR_CODES.USAGE.exit;
      if (error.code === "commander.executeSubCommandAsync") return error.exitCode;
      // Commander puts its "(Did you mean status?)" on a second line: keep it on the one line.
      const message =
        error.message
          .replace(/^error: /, "")
          .split("\n")
          .map((l) => l.trim())
          .filter((l) => l !== "")
          .join(" ") || "invalid command line";
      printError(modeFor(json), new BatonError("USAGE", `${message} (see baton --help)`));
      return ERROR_CODES.USAGE.exit;
    }
    return failed(error, json);
  }
}

/** Print an error that ended the call (an envelope with `--json`); its exit code. */
function failed(error: unknown, json: boolean): number {
  const e = toBatonError(error);
  printError(modeFor(json), e);
  if (e.code === "INTERNAL" && process.env.BATON_DEBUG === "1")
    io().err(`${String((error as Error).stack)}\n`);
  return e.exitCode;
}
