/**
 * Stranger s17j F3: `baton events --help` told users to "pass afterId", an input field of the
 * operation that the command line had no flag for. The catalogue's summaries speak of operation
 * fields; the CLI's help must speak of its own flags. Every command's help (its summary, as
 * `--help` prints it) is checked against its operation's input fields: a field the command has no
 * flag of the same name for must not be named.
 */
import { describe, expect, it } from "vitest";
import type { z } from "zod";
import { allBindings, buildProgram, cliSummary } from "../src/cli/main.js";
import { getOperation } from "../src/ops/catalogue.js";

const camel = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** The long flags a binding has, as the field names they would fill (`--wait-seconds` → waitSeconds). */
function flagFields(options: readonly { flags: string }[]): Set<string> {
  const names = options.flatMap((o) => [...o.flags.matchAll(/--([a-z][a-z-]*)/g)].map((m) => camel(m[1]!)));
  return new Set(names);
}

describe("CLI help names its own flags, not the operation's fields", () => {
  it("every command's help lists the global flags too (--request-id, stranger s18a)", () => {
    const program = buildProgram(() => undefined);
    const stop = program.commands.find((c) => c.name() === "stop")!;
    const run = program.commands.find((c) => c.name() === "task")!.commands.find((c) => c.name() === "run")!;
    for (const command of [stop, run]) {
      expect(command.helpInformation()).toContain("--request-id <id>");
      expect(command.helpInformation()).toContain("--database-url <url>");
    }
  });

  it("the root help lists --json, and a command's help lists it once (stranger s18b)", () => {
    const program = buildProgram(() => undefined);
    expect(program.helpInformation()).toMatch(/^ {2}--json\s+print the command's answer/m);
    const stop = program.commands.find((c) => c.name() === "stop")!;
    expect(stop.helpInformation().match(/--json\b/g), stop.helpInformation()).toHaveLength(1);
  });

  it.each(allBindings.map((b) => [[b.group, b.command.split(" ")[0]].filter(Boolean).join(" "), b] as const))(
    "baton %s",
    (_, binding) => {
      const op = getOperation(binding.op);
      expect(op, binding.op).toBeDefined();
      const shape = (op!.input as z.ZodObject<z.ZodRawShape>).shape ?? {};
      const flags = flagFields([...(binding.options ?? []), { flags: "--project" }]);
      const positional = new Set([...binding.command.matchAll(/[<[]([a-z]+)/g)].map((m) => m[1]!));
      const help = cliSummary(binding);
      const named = Object.keys(shape).filter(
        (field) =>
          // A camelCase field named at all (with a flag, the help says --its-flag), or a field in
          // backticks that is neither a flag nor an operand.
          (/[A-Z]/.test(field) && new RegExp(`\\b${field}\\b`).test(help)) ||
          (help.includes(`\`${field}\``) && !flags.has(field) && !positional.has(field)),
      );
      expect(named, help).toEqual([]);
    },
  );
});
