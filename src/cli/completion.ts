/**
 * Shell completion. The scripts are thin: bash, zsh and fish each hand the words typed so far to
 * the hidden `baton __complete -- <words…> <current word>`, which answers one candidate a line:
 * subcommands, flags, and values, from the program's own commands and options and from the ledger
 * (job short ids and names of this project, workflows, configured tasks and agents, job types,
 * states). One place decides what completes, so the three shells agree; the daemon answers it
 * when it runs (bin/baton.js serves `__complete`), so a TAB costs a socket round trip.
 */
import type { Command, Option } from "commander";
import { InvalidInputError } from "../core/errors.js";
import { JOB_STATES } from "../core/states.js";

/** Values read from the ledger (or the project's config). */
/** `scheduled`: configured tasks that have a schedule (what `schedule enable/disable` take). */
export type LedgerKind = "jobs" | "workflows" | "tasks" | "scheduled" | "agents" | "types";

/** What a value is, when the ledger or a fixed list knows the candidates. */
type ValueKind = { kind: LedgerKind } | { kind: "words"; words: readonly string[] };

const words = (list: readonly string[]): ValueKind => ({ kind: "words", words: list });

/** The value an option takes, by its long name (and the command, where it differs). */
function optionKind(path: string, option: Option): ValueKind | undefined {
  switch (option.long ?? "") {
    case "--workflow":
      return { kind: "workflows" };
    case "--state":
      return path === "workflows" ? words(["live", "finished"]) : words([...JOB_STATES, "live", "finished"]);
    case "--depends-on":
      return { kind: "jobs" };
    case "--agent":
      return { kind: "agents" };
    case "--type":
      return { kind: "types" };
    case "--scope":
      return path === "pause" || path === "unpause" ? words(["all", "type", "workflow"]) : undefined;
    case "--dependents":
      return words(["cancel", "release"]);
    default:
      return undefined;
  }
}

/** The value a positional argument takes, by its name. */
function argumentKind(path: string, name: string): ValueKind | undefined {
  if (name === "id" || name === "ids") return { kind: "jobs" };
  if (name === "task" || name === "tasks")
    return path === "schedule enable" || path === "schedule disable"
      ? { kind: "scheduled" }
      : { kind: "tasks" };
  if (name === "workflow" || (name === "target" && (path === "pause" || path === "unpause")))
    return { kind: "workflows" };
  if (name === "shell") return words(["bash", "zsh", "fish"]);
  return undefined;
}

const isHidden = (c: Command) => (c as unknown as { _hidden?: boolean })._hidden === true;

function subcommandNames(c: Command): string[] {
  return c.commands
    .filter((s) => !isHidden(s) && s.name() !== "help")
    .flatMap((s) => [s.name(), ...s.aliases()]);
}

function findSub(c: Command, word: string): Command | undefined {
  return c.commands.find((s) => s.name() === word || s.aliases().includes(word));
}

function findOption(c: Command, word: string): Option | undefined {
  const flag = word.includes("=") ? word.slice(0, word.indexOf("=")) : word;
  return c.options.find((o) => o.long === flag || o.short === flag);
}

const takesValue = (o: Option) => o.required || o.optional;

/** Options every command takes, taken out of argv before parsing (main.ts). */
const GLOBAL_VALUED = new Set(["--database-url", "--request-id"]);

/** What to offer for the word under the cursor. */
export interface CompletionAnswer {
  /** Fixed candidates (subcommands, flags, listed values). */
  fixed: string[];
  /** Candidates to read from the ledger. */
  ledger?: LedgerKind;
  /** The word being completed (candidates that do not start with it are left out). */
  current: string;
}

/**
 * What completes the last of `typed` (the words after `baton`; the last is the word under the
 * cursor, possibly empty).
 */
export function completionFor(program: Command, typed: readonly string[]): CompletionAnswer {
  const current = typed.length === 0 ? "" : typed[typed.length - 1]!;
  const before = typed.slice(0, -1);
  let command = program;
  let path: string[] = [];
  let positional = 0;
  let pendingValue: Option | "global" | undefined;
  for (const word of before) {
    if (pendingValue !== undefined) {
      pendingValue = undefined;
      continue;
    }
    if (word === "--") return { fixed: [], current }; // a command's own argv (`run -- make`)
    if (word.startsWith("-")) {
      if (GLOBAL_VALUED.has(word)) pendingValue = "global";
      const option = findOption(command, word);
      if (option !== undefined && takesValue(option) && !word.includes("=")) pendingValue = option;
      continue;
    }
    const sub = positional === 0 ? findSub(command, word) : undefined;
    if (sub !== undefined && sub.name() !== "help") {
      command = sub;
      path = [...path, sub.name()];
      continue;
    }
    positional++;
  }
  const key = path.join(" ");
  const answer = (kind: ValueKind | undefined, extra: string[] = []): CompletionAnswer =>
    kind === undefined
      ? { fixed: extra, current }
      : kind.kind === "words"
        ? { fixed: [...kind.words, ...extra], current }
        : { fixed: extra, ledger: kind.kind, current };

  if (pendingValue === "global") return { fixed: [], current };
  if (pendingValue !== undefined) return answer(optionKind(key, pendingValue));
  if (current.startsWith("-")) {
    const flags = command.options.flatMap((o) =>
      [o.long, o.short].filter((f): f is string => f !== undefined),
    );
    flags.push(...(command === program ? ["--database-url", "--request-id", "--version"] : []), "--help");
    return { fixed: [...new Set(flags)], current };
  }
  const subs = positional === 0 ? subcommandNames(command) : [];
  const args = command.registeredArguments;
  if (args.length === 0) return { fixed: subs, current };
  const arg = args[Math.min(positional, args.length - 1)]!;
  if (positional >= args.length && !arg.variadic) return { fixed: subs, current };
  return answer(argumentKind(key, arg.name()), subs);
}

/** The candidates that start with the current word (a short id in any case), each once. */
export function filterCandidates(candidates: readonly string[], current: string): string[] {
  const upper = current.toUpperCase();
  return [...new Set(candidates)].filter(
    (c) => c.startsWith(current) || (/^[0-9A-Z]{6}$/.test(c) && c.startsWith(upper)),
  );
}

const script = {
  bash: `# baton bash completion: eval "$(baton completion bash)" (or save it as bash-completion's completions/baton)
_baton() {
  local IFS=$'\\n' i
  COMPREPLY=($(baton __complete -- "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))
  # A name with spaces is offered quoted.
  for i in "\${!COMPREPLY[@]}"; do
    [[ "\${COMPREPLY[i]}" == *[[:space:]\\'\\"]* ]] && COMPREPLY[i]=$(printf '%q' "\${COMPREPLY[i]}")
  done
  return 0
}
complete -o default -F _baton baton
`,
  zsh: `#compdef baton
# baton zsh completion: eval "$(baton completion zsh)" (or save it as _baton on your $fpath)
_baton() {
  local -a candidates
  candidates=("\${(@f)$(baton __complete -- "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
  candidates=("\${(@)candidates:#}")
  if (( \${#candidates} > 0 )); then
    compadd -a -- candidates
  else
    _files
  fi
}
if (( $+functions[compdef] )); then
  compdef _baton baton
fi
`,
  fish: `# baton fish completion: baton completion fish | source (or save it as ~/.config/fish/completions/baton.fish)
function __baton_complete
    set -l typed (commandline -opc)
    set -e typed[1]
    baton __complete -- $typed (commandline -ct) 2>/dev/null
end
complete -c baton -f -a '(__baton_complete)'
`,
} as const;

export function completionScript(shell: string): string {
  if (shell === "bash" || shell === "zsh" || shell === "fish") return script[shell];
  throw new InvalidInputError(`no completion for '${shell}': choose bash, zsh or fish`);
}
