/**
 * The `baton` command. Every checkpoint command is an operation of the catalogue; this file only
 * wires argv to it, prints the result, and maps errors to exit codes.
 *
 * Exit codes: 0 ok, 1 failure, 2 usage or invalid input, 3 not found, 4 conflict (lease lost,
 * wrong state, ambiguous id), 5 store unavailable (busy, full, I/O, schema too new).
 */
import { Command, CommanderError, Help, Option } from "commander";
import { BatonError, ERROR_CODES, InvalidInputError, toBatonError } from "../core/errors.js";
import { getOperation } from "../ops/catalogue.js";
import { projectDirectory } from "../ops/common.js";
import { boundsFirst, describeIssue, invoke } from "../ops/invoke.js";
import { flagFor } from "./suggest.js";
import type { CliBinding, Positional } from "./bindings.js";
import { bindings, defaultRender, scopeOptions } from "./bindings.js";
import { commandBindings } from "./command-bindings.js";
import { agentBindings } from "./agent-bindings.js";
import { groupDescriptions, registerTaskCommands, taskBindings } from "./task-bindings.js";

/** Every command bound to an operation of the catalogue. */
export const allBindings: CliBinding[] = [...bindings, ...commandBindings, ...taskBindings, ...agentBindings];
import type { OutputMode } from "./output.js";
import type { Opened } from "../open.js";
import { checkHints, commandHint, detectColor, printError, printOk } from "./output.js";
import { io, withIo } from "./io.js";
import { daemonUnresponsive } from "../ops/daemon-client.js";
import { batonHome } from "../core/paths.js";
import { registerMcpCommand } from "../mcp/command.js";
import { registerIntegrationCommands } from "../integrations/commands.js";
import { registerHttpCommands } from "./http-bindings.js";
import { registerLedgerCommands } from "./ledger-commands.js";
import { resolveDatabaseUrl, takeDatabaseUrlFlag, takeGlobalFlag } from "./database-url.js";
import { checkRequestId } from "../core/request.js";
import { checkSettings } from "../core/settings.js";

const REQUEST_ID_FLAG = "--request-id";

declare const BATON_VERSION: string | undefined;
const version = typeof BATON_VERSION === "string" ? BATON_VERSION : "0.1.0";

/**
 * The ledger a call works on: the daemon's, when it serves the call, else one opened here; and the
 * host of background commands. Loaded on first use, not at start-up: `--help`, `--version` and a
 * mistyped command never load the store, its native driver or the daemon's code.
 */
async function openLedger(shared: Opened | undefined) {
  const [{ openEngine }, { LocalCommandHost }] = await Promise.all([
    import("../open.js"),
    import("../ops/local-host.js"),
  ]);
  const opened = shared ?? (await openEngine({ actor: "cli" }));
  return { ...opened, commands: new LocalCommandHost(opened.home, opened.store.ledger) };
}

/** True when `binding` takes a job reference (`<id>`, `[id]`, `<ids...>`, `[ids...]`). */
function takesReference(binding: CliBinding): boolean {
  return /[<[]ids?(\.\.\.)?[>\]]/.test(binding.command);
}

/** Whether the binding's operation takes a `project` (scopeFields, refScopeFields): `--project` sets it. */
function takesProject(binding: CliBinding): boolean {
  const input = getOperation(binding.op)?.input as { shape?: Record<string, unknown> } | undefined;
  return input?.shape?.project !== undefined;
}

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
  // The daemon took the socket but not the call (D135): it may still commit it when it resumes, so
  // a change made here could be made twice. Reads are answered from the ledger here.
  const unresponsive = io().daemonUnresponsive;
  if (unresponsive !== undefined && !op.readOnly)
    throw daemonUnresponsive(batonHome(), io().requestId, unresponsive.argv);
  // A --project that is no directory is refused (it found "no jobs" before); the one given is where
  // the call works, so a job's name or short id is looked up there first too.
  const project =
    typeof opts.project === "string" && opts.project !== ""
      ? projectDirectory(opts.project, io().cwd, "--project")
      : undefined;
  const given = binding.input(args, project === undefined ? opts : { ...opts, project }) as
    Record<string, unknown> | undefined;
  // The operation's `project`, for a binding that does not map the flag itself (D144).
  const input =
    project !== undefined && given !== undefined && given.project === undefined && takesProject(binding)
      ? { ...given, project }
      : given;
  const shared = io().opened;
  const { engine, store, commands } = await openLedger(shared);
  const context = {
    engine,
    cwd: project ?? io().cwd,
    actor: "cli",
    location: store.location,
    env: io().env,
    commands,
  };
  try {
    const parsed = op.input.safeParse(input ?? {});
    if (!parsed.success) throw cliInputError(binding, parsed.error.issues);
    const requestId = io().requestId;
    const answer = await invoke(
      op,
      input,
      requestId === undefined ? context : { ...context, requestId },
    ).catch((error: unknown) => {
      throw inFlagWords(binding, error);
    });
    const data = batchInFlagWords(binding, answer);
    const refused = binding.refuse?.(data, mode);
    if (refused !== undefined) throw refused;
    if (binding.quiet?.(opts) !== true) {
      const shown = checkHints(data);
      printOk(mode, shown, () => (binding.render ?? defaultRender)(shown, mode));
    }
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
    /** What was measured: "string" (its length), "number", "array"… */
    origin?: string;
  }[],
): BatonError {
  const issue = boundsFirst(issues)[0];
  const field = String(issue?.path[0] ?? "");
  const flag = issue === undefined ? undefined : flagFor(binding, field);
  if (issue === undefined || flag === undefined)
    return new InvalidInputError(`${binding.op}: ${describeIssue(issues)}`);
  const timed = /(Seconds|Ms)$/.test(field);
  const bound = (value: unknown) =>
    timed && typeof value === "number" ? asDuration(value, field) : String(value);
  let text = issue.message;
  if (issue.code === "too_small" && issue.minimum !== undefined)
    text =
      issue.origin !== "string"
        ? `must be at least ${bound(issue.minimum)}`
        : issue.minimum === 1
          ? "must not be empty"
          : `must be at least ${bound(issue.minimum)} characters`;
  if (issue.code === "too_big" && issue.maximum !== undefined)
    text = `must be at most ${bound(issue.maximum)}${issue.origin === "string" ? " characters" : ""}`;
  if (Array.isArray(issue.values)) text = `must be one of ${issue.values.map(String).join(", ")}`;
  return new InvalidInputError(`${flag} ${text}`);
}

/**
 * An INVALID_INPUT raised below the operation's schema (the engine's own check of a job) names
 * catalogue fields too: `timeoutMs: Too small…` becomes `--timeout must be more than 0`.
 */
const BOUND_WORDS: Record<string, string> = {
  ">": "more than",
  ">=": "at least",
  "<": "less than",
  "<=": "at most",
};

/**
 * An operation's error in the command line's words. Operations name the fields a caller may
 * pass to get past a refusal (`pass dependents: cancel`, `pass force to reopen it`, as MCP and
 * HTTP callers write them); on the CLI they are the flags (`pass --dependents cancel`,
 * `pass --force`), and so is a field a message starts with (`dependsOn names…`). Field names an
 * INVALID_INPUT starts a complaint with (`timeoutMs: `) too. A `(baton …)` hint gets the call's
 * `--database-url` (D117).
 */
function inFlagWords(binding: CliBinding, error: unknown): unknown {
  if (!(error instanceof BatonError)) return error;
  const message = flagWords(binding, error.code, error.message);
  if (message === error.message) return error;
  return new BatonError(error.code, message, {
    cause: error,
    ...(error.details === undefined ? {} : { details: { ...error.details } }),
  });
}

/** A batch's per-item errors (`errors: [{code, message}]`) in the command line's words too. */
function batchInFlagWords(binding: CliBinding, data: unknown): unknown {
  const errors = (data as { errors?: unknown } | null)?.errors;
  if (!Array.isArray(errors) || errors.length === 0) return data;
  return {
    ...(data as object),
    errors: errors.map((e: unknown) => {
      const item = e as { code?: unknown; message?: unknown };
      return typeof item.code === "string" && typeof item.message === "string"
        ? { ...item, message: flagWords(binding, item.code, item.message) }
        : e;
    }),
  };
}

/** {@link inFlagWords} of one message. */
function flagWords(binding: CliBinding, code: string, text: string): string {
  let message = text
    .replace(/\bpass ([a-z][A-Za-z]+):? /g, (whole, field: string) => {
      const flag = flagFor(binding, field);
      return flag === undefined ? whole : `pass ${flag} `;
    })
    // A message about one field starts with its name: `dependsOn names unknown job(s)`.
    .replace(/^([a-z]+[A-Z][A-Za-z]*) /, (whole, field: string) => {
      const flag = flagFor(binding, field);
      return flag === undefined ? whole : `${flag} `;
    })
    // A command to run next, in parentheses, carries the call's ledger like every hint (D117).
    .replace(/\((baton [a-z][^()]*)\)/g, (_, line: string) => `(${commandHint(line)})`);
  if (code === "INVALID_INPUT")
    message = message
      .replace(/\b([a-z][A-Za-z]+): /g, (whole, field: string) => {
        const flag = flagFor(binding, field);
        return flag === undefined ? whole : `${flag} `;
      })
      .replace(/(--[a-z-]+) Too (small|big): /, "$1 ")
      .replace(
        /expected number to be ([<>]=?)(\d+)/,
        (_, op: string, n: string) => `must be ${BOUND_WORDS[op] ?? op} ${n}`,
      );
  return message;
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
    .configureHelp({
      showGlobalOptions: true,
      // Every command has its own --json; the root's line is for `baton --help` alone.
      visibleGlobalOptions(cmd) {
        return Help.prototype.visibleGlobalOptions.call(this, cmd).filter((o) => o.long !== "--json");
      },
    })
    .exitOverride()
    .configureOutput({ outputError: () => undefined });

  program.enablePositionalOptions();
  // Taken out of argv before parsing (see selectDatabase); declared here for --help.
  program.option("--database-url <url>", "PostgreSQL ledger (else BATON_DATABASE_URL, database_url, SQLite)");
  program.option(
    "--request-id <id>",
    "name this call: repeated with the same id, a change answers the first call's outcome instead of running again",
  );
  // Moved after the command's words before parsing (jsonAfterCommand); declared here for --help.
  program.option("--json", "print the command's answer (and errors) as one JSON envelope");
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
    // A job reference's name is looked up in the current project first (docs/cli.md "Job
    // references"), so every command that takes one can be told which project that is; so can
    // every command whose operation works in a project (D144: `task run`, `runs`, `schedule`…).
    if (
      (takesReference(binding) || takesProject(binding)) &&
      !(binding.options ?? []).some((o) => o.flags.startsWith("--project "))
    )
      for (const option of scopeOptions) command.addOption(new Option(option.flags, option.description));
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
    .option("--json", "print {shell, script} as a JSON envelope")
    .action(async (shell: string, opts: { json?: boolean }) => {
      const { completionScript } = await import("./completion.js");
      const script = completionScript(shell);
      printOk(modeFor(opts.json === true), { shell, script }, () => script);
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
const HELP_WORDS = new Set(["--help", "-h", "help", "--version", "-V"]);

function selectDatabase(argv: string[]): { argv: string[]; url: string | undefined } {
  const taken = takeDatabaseUrlFlag(argv);
  // The daemon reads these; a bad one in the caller's environment is named here, not in daemon.log
  // or ignored (help and the version are still given).
  if (!argv.some((a) => HELP_WORDS.has(a)) && argv.length > 0) checkSettings(io().env);
  if (io().opened === undefined) {
    const { url } = resolveDatabaseUrl(taken.url, process.env, io().cwd);
    if (url !== undefined) process.env.BATON_DATABASE_URL = url;
  }
  return taken;
}

/** Options of one CLI invocation that are not on its command line. */
export interface MainOptions {
  /** The request id the thin client gave the call (bin/baton.js), when `--request-id` is absent. */
  requestId?: string;
  /** The thin client's daemon did not take the call in time (bin/baton.js; D135). */
  daemonUnresponsive?: boolean;
}

/**
 * Run the CLI with `argv` (without node and script). Resolves to the exit code. `--request-id <id>`
 * (or `options.requestId`) names the call: a mutating command repeated with the same id answers
 * the first call's outcome instead of doing the work again.
 */
export async function main(argv: string[], options: MainOptions = {}): Promise<number> {
  if (argv[0] === COMPLETE_WORD) return complete(argv.slice(argv[1] === "--" ? 2 : 1));
  // Anywhere, even after `--`: scripts and tests append --json to a whole command line, and an error
  // must then be an envelope (the command's own output is not: its --json is its argument).
  const json = argv.includes("--json");
  try {
    const taken = takeGlobalFlag(argv, REQUEST_ID_FLAG, "any id of yours, e.g. deploy-2026-01-01-1");
    const requestId = taken.value ?? options.requestId ?? io().requestId;
    const unresponsive =
      options.daemonUnresponsive === true ? { daemonUnresponsive: { argv: taken.argv } } : {};
    if (requestId === undefined) return await parseAndRun(taken.argv, json);
    checkRequestId(requestId);
    return await withIo({ ...io(), requestId, ...unresponsive }, () => parseAndRun(taken.argv, json));
  } catch (error) {
    return failed(error, json);
  }
}

/**
 * `baton <command…> --help` for the deepest command the words of `args` name: a usage error in
 * `baton task run` points at its own help, not the top level's.
 */
function helpFor(program: Command | undefined, args: readonly string[]): string {
  const path: string[] = [];
  let command = program;
  for (const arg of args) {
    if (command === undefined || arg === "--") break;
    if (arg.startsWith("-")) continue;
    const sub: Command | undefined = command.commands.find(
      (c) => c.name() === arg || c.aliases().includes(arg),
    );
    if (sub === undefined) break;
    path.push(sub.name());
    command = sub;
  }
  return ["baton", ...path, "--help"].join(" ");
}

/**
 * `--json` typed before the command (`baton --json status x`) is the command's own flag: moved after
 * the words that name it, where commander looks for it (it said "unknown option '--json'").
 */
export function jsonAfterCommand(program: Command, args: readonly string[]): string[] {
  const at = args.indexOf("--json");
  const first = args.findIndex((a) => !a.startsWith("-"));
  if (at === -1 || first === -1 || at > first) return [...args];
  const rest = args.filter((_, i) => i !== at);
  let command = program;
  let end = first - 1;
  for (; end < rest.length; end++) {
    const word = rest[end]!;
    const sub = command.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (sub === undefined) break;
    command = sub;
  }
  // Not a command: after the word, so that commander names it ("unknown command").
  if (command === program) end = first;
  return [...rest.slice(0, end), "--json", ...rest.slice(end)];
}

async function parseAndRun(argv: string[], json: boolean): Promise<number> {
  let code = 0;
  let program: Command | undefined;
  let args: string[] = argv;
  try {
    const selected = selectDatabase(argv);
    args = selected.argv;
    const first = args[0];
    program = buildProgram(
      (c) => {
        code = c;
      },
      first === undefined || first.startsWith("-") ? undefined : first,
    );
    args = jsonAfterCommand(program, args);
    const parse = () => program!.parseAsync(args, { from: "user" });
    const url = selected.url?.trim();
    // The hints this call prints name the ledger it was told to use (see output.ts' commandHint).
    await (url === undefined || url === "" ? parse() : withIo({ ...io(), databaseUrlFlag: url }, parse));
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
      if (error.code === "commander.help") {
        // `baton --json` alone (or `help <unknown>`): the help went to stderr; a caller that asked
        // for JSON gets its envelope too.
        if (json) {
          const words = args.filter((a) => !a.startsWith("-"));
          const said =
            words[0] === "help" && words[1] !== undefined
              ? `unknown command '${words[1]}'`
              : "no command given";
          printError(modeFor(json), new BatonError("USAGE", `${said} (see ${helpFor(program, args)})`));
        }
        return ERROR_CODES.USAGE.exit;
      }
      if (error.code === "commander.executeSubCommandAsync") return error.exitCode;
      // Commander puts its "(Did you mean status?)" on a second line: keep it on the one line.
      const message =
        error.message
          .replace(/^error: /, "")
          .split("\n")
          .map((l) => l.trim())
          .filter((l) => l !== "")
          .join(" ") || "invalid command line";
      const help = helpFor(program, args);
      // The four commands whose output is itself the product take no --json (README, "Interfaces"):
      // say so, rather than "unknown option" for a flag `baton --help` lists (stranger s19a).
      const said =
        error.code === "commander.unknownOption" && /'--json'/.test(message)
          ? `${help.replace(/ --help$/, "")} takes no --json: ${NO_JSON_REASON[help.split(" ")[1] ?? ""] ?? "its output is not an envelope"}`
          : message;
      printError(modeFor(json), new BatonError("USAGE", `${said} (see ${help})`));
      return ERROR_CODES.USAGE.exit;
    }
    return failed(error, json);
  }
}

/** Why a command takes no --json: what it prints is its product. */
const NO_JSON_REASON: Record<string, string> = {
  export: "it prints the ledger as NDJSON, one record a line",
  instructions: "it prints text for an agent's rules file",
  mcp: "it is a server (MCP over stdio or HTTP)",
  serve: "it is a server (the HTTP API and dashboard)",
};

/** The hidden command the completion scripts call (completion.ts). */
const COMPLETE_WORD = "__complete";

/**
 * `baton __complete -- <words…> <current>`: the candidates for the word under the cursor, one a
 * line. Never an error on the terminal: a ledger that cannot be read offers what the program knows.
 */
async function complete(typed: string[]): Promise<number> {
  try {
    const { completionFor, filterCandidates } = await import("./completion.js");
    const answer = completionFor(
      buildProgram(() => undefined),
      typed,
    );
    let candidates = answer.fixed;
    if (answer.ledger !== undefined) {
      const kind = answer.ledger;
      candidates = [
        ...candidates,
        ...(await withOperations((call) => ledgerCandidates(kind, call)).catch(() => [])),
      ];
    }
    const shown = filterCandidates(candidates, answer.current);
    if (shown.length > 0) io().out(`${shown.join("\n")}\n`);
  } catch {
    // Completion prints candidates or nothing.
  }
  return 0;
}

type Call = (name: string, input: Record<string, unknown>) => Promise<unknown>;

/** Values of one kind from the ledger and the project's config, for completion. */
async function ledgerCandidates(kind: import("./completion.js").LedgerKind, call: Call): Promise<string[]> {
  const cwd = io().cwd;
  type Jobs = { jobs: { id: string; name?: string; type: string }[] };
  switch (kind) {
    case "jobs": {
      // What is live first (what a command usually means), then the newest of the rest.
      const live = (await call("list_tasks", { cwd, state: "live", limit: 200 })) as Jobs;
      const recent = (await call("list_tasks", { cwd, limit: 50 })) as Jobs;
      return [...live.jobs, ...recent.jobs].flatMap((j) => [
        j.id.slice(-6),
        ...(j.name === undefined ? [] : [j.name]),
      ]);
    }
    case "types":
      return ((await call("list_tasks", { cwd, limit: 200 })) as Jobs).jobs.map((j) => j.type);
    case "workflows":
      return (
        (await call("list_workflows", { cwd, limit: 200 })) as { workflows: { workflow: string }[] }
      ).workflows.map((w) => w.workflow);
    case "tasks":
    case "scheduled":
      return (
        (await call("list_configured_tasks", { cwd })) as { tasks: { name: string; schedule?: string }[] }
      ).tasks
        .filter((t) => kind === "tasks" || t.schedule !== undefined)
        .map((t) => t.name);
    case "agents":
      return ((await call("list_configured_agents", { cwd })) as { agents: { name: string }[] }).agents.map(
        (a) => a.name,
      );
  }
}

/** Run `fn` with the catalogue's operations on this call's ledger (the daemon's, when it serves). */
async function withOperations<T>(fn: (call: Call) => Promise<T>): Promise<T> {
  const shared = io().opened;
  const { engine, store, commands } = await openLedger(shared);
  const context = { engine, cwd: io().cwd, actor: "cli", location: store.location, env: io().env, commands };
  try {
    return await fn((name, input) => invoke(getOperation(name)!, input, context));
  } finally {
    commands.close();
    if (shared === undefined) await store.close();
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
