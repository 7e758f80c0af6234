/**
 * Annotations are derived, not hand-kept (issue 16): an operation that can start a process, delete
 * data or reach the network is flagged destructive / open-world in the MCP annotations and the
 * HTTP API, and no auto-approve switch that `install-mcp` writes covers such an operation.
 *
 * Where "can start a process" comes from, independently of the operations' own declarations:
 * src/core/executors.ts (the creators of each executor-run type and the rerun operation) and the
 * table of docs/security.md that tells users which operations create those jobs.
 */
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as parser from "jsonc-parser";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PROCESS_STARTING_OPERATIONS } from "../src/core/executors.js";
import { isBatonError } from "../src/core/errors.js";
import { HOSTS } from "../src/integrations/hosts.js";
import type { HostName, Scope } from "../src/integrations/hosts.js";
import { consentTools, planInstallMcp, SERVER_NAME } from "../src/integrations/install-mcp.js";
import { annotationsOf } from "../src/mcp/tools.js";
import { operations } from "../src/ops/catalogue.js";
import { effectsOf } from "../src/ops/operation.js";
import type { Operation } from "../src/ops/operation.js";
import { baton } from "./helpers/cli.js";
import { tempDir } from "./helpers/tmp.js";

const jsonc = (Reflect.get(parser, "default") as typeof parser | undefined) ?? parser;
const byName = new Map(operations.map((op) => [op.name, op]));

/** The operations docs/security.md lists as creating or rerunning executor jobs. */
function documentedProcessStarters(): string[] {
  const doc = readFileSync(join(import.meta.dirname, "..", "docs", "security.md"), "utf8");
  const table = doc.slice(doc.indexOf("| job type | created by |"));
  const rows = table.split("\n").filter((line) => line.startsWith("| `"));
  const names = new Set<string>();
  for (const row of rows) {
    const [, , created, , rerun] = row.split("|");
    for (const cell of [created, rerun])
      for (const m of (cell ?? "").matchAll(/`([a-z_]+)`/g)) if (byName.has(m[1]!)) names.add(m[1]!);
  }
  return [...names].sort();
}

describe("operation effects drive the annotations", () => {
  it("every operation that makes the daemon start a process exists and is destructive and open-world", () => {
    const documented = documentedProcessStarters();
    expect(documented.length).toBeGreaterThanOrEqual(5);
    expect([...PROCESS_STARTING_OPERATIONS].sort()).toEqual(documented);
    for (const name of PROCESS_STARTING_OPERATIONS) {
      const op = byName.get(name);
      expect(op, `${name} (named in src/core/executors.ts) is not in the catalogue`).toBeDefined();
      const a = annotationsOf(op!);
      expect(a.destructiveHint, `${name} starts a process: destructiveHint`).toBe(true);
      expect(a.openWorldHint, `${name} starts a process: openWorldHint`).toBe(true);
      expect(a.readOnlyHint, `${name} starts a process: readOnlyHint`).toBe(false);
      expect(op!.destructive, `${name}: the HTTP API's destructive`).toBe(true);
    }
  });

  it("an operation named for deleting declares it, and its annotations say destructive", () => {
    const deleters = operations.filter((op) => /^(delete|clean|archive|purge|remove|prune)/.test(op.name));
    expect(deleters.map((op) => op.name).sort()).toEqual(["archive", "clean", "delete_task"]);
    for (const op of deleters) {
      expect(effectsOf(op).deletesData, `${op.name} deletes data: effects.deletesData`).toBe(true);
      expect(annotationsOf(op).destructiveHint, `${op.name}: destructiveHint`).toBe(true);
    }
  });

  it("every operation's annotations follow from its effects", () => {
    for (const op of operations) {
      const e = effectsOf(op);
      const a = annotationsOf(op);
      if (e.startsProcess || e.deletesData) expect(a.destructiveHint, op.name).toBe(true);
      expect(a.openWorldHint, op.name).toBe(e.startsProcess || e.network);
      if (e.startsProcess || e.deletesData || e.network) expect(a.readOnlyHint, op.name).toBe(false);
      if (op.readOnly)
        expect(e, `${op.name} is read-only`).toEqual({
          startsProcess: false,
          deletesData: false,
          network: false,
        });
    }
  });

  it("network reach alone makes an operation open-world but not destructive", () => {
    const op = { ...byName.get("health")!, readOnly: false, effects: { network: true } } as Operation;
    expect(annotationsOf(op)).toMatchObject({
      openWorldHint: true,
      destructiveHint: false,
      readOnlyHint: false,
    });
  });

  it("the default tool set holds no operation a host must ask about", () => {
    expect(consentTools("default")).toEqual([]);
    expect(consentTools("full")).toEqual(
      expect.arrayContaining([...PROCESS_STARTING_OPERATIONS, "delete_task"]),
    );
  });

  it("D108 red team finding 4: enable_schedule (it leads to processes starting) needs consent; listing schedules is read-only", () => {
    const enable = operations.find((o) => o.name === "enable_schedule")!;
    expect(annotationsOf(enable)).toMatchObject({ destructiveHint: true, openWorldHint: true });
    expect(consentTools("full")).toContain("enable_schedule");
    expect(operations.find((o) => o.name === "list_schedules")!.readOnly).toBe(true);
  });
});

/**
 * The tools a written config lets the host run without asking: a server-wide switch (`trust: true`
 * on baton's entry, an `mcp__baton` permission) approves every tool of the set; per-tool lists
 * (`autoApprove`, `alwaysAllow`, `permissions.allow`) approve the tools they name.
 */
function approvedTools(text: string, path: string, set: readonly string[]): string[] {
  const approved = new Set<string>();
  if (path.endsWith(".toml")) {
    if (/^\s*(trust|auto_approve|always_allow)\s*=/m.test(text)) set.forEach((t) => approved.add(t));
    return [...approved];
  }
  const walk = (value: unknown, keys: string[]): void => {
    if (Array.isArray(value)) {
      const key = keys.at(-1) ?? "";
      if (/^(autoApprove|alwaysAllow|allow|allowedTools|trustedTools)$/.test(key))
        for (const item of value) {
          if (typeof item !== "string") continue;
          if (item === `mcp__${SERVER_NAME}` || item === `mcp__${SERVER_NAME}__*`)
            set.forEach((t) => approved.add(t));
          const name = item.replace(`mcp__${SERVER_NAME}__`, "");
          if (set.includes(name)) approved.add(name);
        }
      value.forEach((v) => walk(v, keys));
    } else if (value !== null && typeof value === "object") {
      const entry = value as Record<string, unknown>;
      if (keys.at(-1) === SERVER_NAME && entry.trust === true) set.forEach((t) => approved.add(t));
      for (const [k, v] of Object.entries(entry)) walk(v, [...keys, k]);
    }
  };
  walk(jsonc.parse(text, [], { allowTrailingComma: true }), []);
  return [...approved];
}

describe("install-mcp writes no auto-approval for an operation that needs consent", () => {
  let saved: NodeJS.ProcessEnv;
  let project: string;
  beforeEach(() => {
    saved = { ...process.env };
    const home = tempDir("baton-home-");
    project = join(home, "work", "app");
    mkdirSync(join(project, ".git"), { recursive: true });
    Object.assign(process.env, { HOME: home, XDG_CONFIG_HOME: "", APPDATA: "", CODEX_HOME: "" });
  });
  afterEach(() => {
    process.env = saved;
  });

  const hosts = Object.keys(HOSTS) as HostName[];
  for (const tools of ["default", "full"] as const)
    for (const scope of ["user", "project"] as Scope[])
      it(`--trust --tools ${tools} --scope ${scope}`, () => {
        const set = operations
          .filter((op) => op.agent === "default" || (tools === "full" && op.agent === "full"))
          .map((op) => op.name);
        const mustAsk = new Set(
          operations
            .filter((op) => {
              const a = annotationsOf(op);
              return a.destructiveHint === true || a.openWorldHint === true;
            })
            .map((op) => op.name),
        );
        let plan;
        try {
          plan = planInstallMcp({ hosts, scope, command: ["baton"], tools, cwd: project, trust: true });
        } catch (error) {
          // Refusing is the answer when the set holds a tool to ask about, and only then.
          expect(isBatonError(error) && error.code).toBe("USAGE");
          expect(set.some((t) => mustAsk.has(t))).toBe(true);
          return;
        }
        let trustedSomewhere = false;
        for (const change of plan.changes) {
          const approved = approvedTools(change.after, change.path, set);
          if (approved.length > 0) trustedSomewhere = true;
          const bad = approved.filter((t) => mustAsk.has(t));
          expect(bad, `${change.label} (${change.path}) auto-approves`).toEqual([]);
        }
        // The check above sees approvals at all: Gemini's trust switch is written for the default set.
        if (tools === "default" && scope === "user") expect(trustedSomewhere).toBe(true);
      });

  it("the command line refuses --trust with the full tool set, naming the tools, and writes nothing", () => {
    const home = process.env.HOME!;
    const result = baton(
      ["install-mcp", "--host", "gemini", "--tools", "full", "--trust", "--command", "baton"],
      {
        home: join(home, ".baton"),
        cwd: project,
        env: { HOME: home, XDG_CONFIG_HOME: "", APPDATA: "", CODEX_HOME: "", PATH: process.env.PATH ?? "" },
      },
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--trust would let the host run .*run_command.* without asking/);
    expect(() => readFileSync(join(home, ".gemini", "settings.json"), "utf8")).toThrow();
  });
});
