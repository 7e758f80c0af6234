/**
 * One definition, many adapters: every operation of the catalogue must be reachable from the CLI,
 * every CLI binding must name a real operation, and the operation metadata the adapters rely on
 * (summary, schemas, honest flags) must be there.
 */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { allBindings as bindings, buildProgram, cliSummary } from "../src/cli/main.js";
import { getOperation, operations } from "../src/ops/catalogue.js";
import { callOp, request, startTestServer } from "./helpers/http.js";

/** Operations deliberately kept off the command line (none today): name → reason. */
const CLI_EXEMPT: Record<string, string> = {};

/** The command word of a commander spec such as `complete [ids...]`. */
const commandName = (spec: string): string => spec.split(/\s+/)[0]!;

describe("operation catalogue ↔ CLI parity", () => {
  it("lists the catalogue", () => {
    expect(operations.length).toBeGreaterThan(0);
    const names = operations.map((op) => op.name);
    expect(new Set(names).size, "operation names are unique").toBe(names.length);
    for (const name of names)
      expect(name, "operation names are snake_case").toMatch(/^[a-z][a-z0-9]*(_[a-z0-9]+)*$/);
    for (const name of names) expect(getOperation(name)?.name).toBe(name);
  });

  it("every operation has a CLI binding", () => {
    const bound = new Set(bindings.map((b) => b.op));
    const missing = operations
      .map((op) => op.name)
      .filter((name) => !bound.has(name) && CLI_EXEMPT[name] === undefined);
    expect(
      missing,
      "operations without a CLI binding (add one to src/cli/bindings.ts or command-bindings.ts)",
    ).toEqual([]);
  });

  it("the CLI's help names commands, not the catalogue's tool names", () => {
    const toolNames = new Set(operations.map((op) => op.name).filter((name) => name.includes("_")));
    for (const binding of bindings) {
      const help = cliSummary(binding);
      expect(help.length, binding.op).toBeGreaterThan(0);
      const named = (help.match(/\b[a-z]+(?:_[a-z]+)+\b/g) ?? []).filter((w) => toolNames.has(w));
      expect(named, `help of ${binding.op}: ${help}`).toEqual([]);
    }
    const run = bindings.find((b) => b.op === "run_command")!;
    expect(cliSummary(run)).toContain("check it later with baton status, baton logs, baton wait");
  });

  it("every binding names a known operation", () => {
    const unknown = bindings.map((b) => b.op).filter((name) => getOperation(name) === undefined);
    expect(unknown, "bindings that name no operation of the catalogue").toEqual([]);
    const twice = bindings.map((b) => b.op).filter((name, i, all) => all.indexOf(name) !== i);
    expect(twice, "operations bound twice").toEqual([]);
  });

  it("no two bindings share a command name or alias", () => {
    const words = bindings.flatMap((b) =>
      [commandName(b.command), ...(b.aliases ?? [])].map((w) =>
        b.group === undefined ? w : `${b.group} ${w}`,
      ),
    );
    const clashes = words.filter((w, i) => words.indexOf(w) !== i);
    expect(clashes, "command names used twice").toEqual([]);
  });

  it("the built program registers each binding once, plus demo, with no name clashes", () => {
    const program = buildProgram(() => undefined);
    const words = program.commands.flatMap((c) => [c.name(), ...c.aliases()]);
    const clashes = words.filter((w, i) => words.indexOf(w) !== i);
    expect(clashes).toEqual([]);
    // A grouped binding (`task run`) is a subcommand of its group's command.
    const parentOf = (b: (typeof bindings)[number]) =>
      b.group === undefined ? program : program.commands.find((c) => c.name() === b.group)!;
    for (const b of bindings) {
      expect(words).toContain(b.group ?? commandName(b.command));
      expect(parentOf(b).commands.map((c) => c.name())).toContain(commandName(b.command));
    }
    expect(words).toContain("demo");
    // Every bound command accepts --json (the envelope is the agents' contract).
    for (const b of bindings) {
      const command = parentOf(b).commands.find((c) => c.name() === commandName(b.command))!;
      expect(
        command.options.some((o) => o.long === "--json"),
        `${b.command} has --json`,
      ).toBe(true);
    }
  });

  it("every operation has a summary, input and output zod schemas, and honest flags", () => {
    for (const op of operations) {
      expect(op.summary.trim(), `${op.name} summary`).not.toBe("");
      expect(op.title.trim(), `${op.name} title`).not.toBe("");
      expect(op.input, `${op.name} input schema`).toBeInstanceOf(z.ZodType);
      expect(op.output, `${op.name} output schema`).toBeInstanceOf(z.ZodType);
      expect(typeof op.run, `${op.name} handler`).toBe("function");
      expect(["default", "full", "none"]).toContain(op.agent);
      if (op.readOnly) {
        expect(op.destructive, `${op.name} is readOnly and must not be destructive`).toBe(false);
        expect(op.idempotent, `${op.name} is readOnly, hence idempotent`).toBe(true);
      }
    }
  });

  it("object input schemas reject unknown keys (a misspelt field is an error, not lost data)", () => {
    for (const op of operations) {
      if (!(op.input instanceof z.ZodObject)) continue;
      const result = op.input.safeParse({ definitelyNotAField: 1 });
      expect(result.success, `${op.name} accepts an unknown key`).toBe(false);
    }
  });
});

describe("operation catalogue ↔ HTTP parity", () => {
  it("GET /api/ops lists exactly the catalogue, and POST /api/ops/<name> validates each with its schema", async () => {
    const server = await startTestServer();
    try {
      const listed = await request(`${server.base}/api/ops`);
      expect(listed.body.data.operations.map((o: { name: string }) => o.name)).toEqual(
        operations.map((op) => op.name),
      );
      for (const op of operations) {
        const answer = await callOp(server.base, op.name, { definitelyNotAField: 1 });
        expect({ op: op.name, status: answer.status, code: answer.body.error.code }).toEqual({
          op: op.name,
          status: 400,
          code: "INVALID_INPUT",
        });
      }
    } finally {
      await server.close();
    }
  });
});
