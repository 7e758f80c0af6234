/** Shell completion scripts generated from the program's own commands and options. */
import type { Command } from "commander";
import { InvalidInputError } from "../core/errors.js";

function words(program: Command): { commands: string[]; options: Map<string, string[]> } {
  const options = new Map<string, string[]>();
  const commands: string[] = [];
  for (const c of program.commands) {
    if ((c as unknown as { _hidden?: boolean })._hidden === true) continue;
    const flags = c.options.flatMap((o) =>
      [o.long, o.short].filter((f): f is string => typeof f === "string"),
    );
    // Aliases (`ps`, `ls` for `list`) complete like the command they stand for.
    for (const name of [c.name(), ...c.aliases()]) {
      commands.push(name);
      options.set(name, flags);
    }
  }
  return { commands, options };
}

export function completionScript(shell: string, program: Command): string {
  const { commands, options } = words(program);
  switch (shell) {
    case "bash": {
      const cases = [...options.entries()].map(([c, o]) => `    ${c}) opts="${o.join(" ")}";;`).join("\n");
      return `# baton bash completion: eval "$(baton completion bash)"
_baton() {
  local cur=\${COMP_WORDS[COMP_CWORD]} cmd=\${COMP_WORDS[1]} opts=""
  if [ "$COMP_CWORD" -eq 1 ]; then COMPREPLY=($(compgen -W "${commands.join(" ")}" -- "$cur")); return; fi
  case "$cmd" in
${cases}
  esac
  COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -F _baton baton
`;
    }
    case "zsh":
      return `#compdef baton
# baton zsh completion: eval "$(baton completion zsh)"
_baton() {
  if (( CURRENT == 2 )); then compadd ${commands.join(" ")}; return; fi
  case $words[2] in
${[...options.entries()].map(([c, o]) => `    ${c}) compadd -- ${o.join(" ")};;`).join("\n")}
  esac
}
compdef _baton baton
`;
    case "fish":
      return `# baton fish completion: baton completion fish | source
${commands.map((c) => `complete -c baton -n "__fish_use_subcommand" -a ${c}`).join("\n")}
${[...options.entries()]
  .flatMap(([c, o]) =>
    o
      .filter((f) => f.startsWith("--"))
      .map((f) => `complete -c baton -n "__fish_seen_subcommand_from ${c}" -l ${f.slice(2)}`),
  )
  .join("\n")}
`;
    default:
      throw new InvalidInputError(`no completion for '${shell}': choose bash, zsh or fish`);
  }
}
