/**
 * What the integration commands do once their command line is parsed: plan the file changes, then
 * print the diff (`--dry-run`) or apply them, in text or as the `--json` envelope.
 */
import { createInterface } from "node:readline/promises";
import { BatonError } from "../core/errors.js";
import type { AppliedChange, FileChange } from "./files.js";
import {
  actionOf,
  applyChanges,
  describeApplied,
  describeDryRun,
  displayPath,
  unifiedDiff,
} from "./files.js";
import type { HostName, Scope } from "./hosts.js";
import { HOST_NAMES, HOSTS, batonCommand, detectedHosts, isHostName } from "./hosts.js";
import { planHooks } from "./hooks.js";
import type { HostNote, Skipped } from "./install-mcp.js";
import { planInstallMcp } from "./install-mcp.js";
import type { InstructionTarget } from "./instructions.js";
import { INSTRUCTION_TARGETS, planInstructions } from "./instructions.js";
import { planSkills } from "./skills.js";

export interface CommonOptions {
  dryRun?: boolean;
  json?: boolean;
  scope?: string;
  command?: string;
}

function scopeOf(value: string | undefined, fallback: Scope): Scope {
  if (value === undefined) return fallback;
  if (value === "project" || value === "user") return value;
  throw new BatonError("USAGE", `--scope must be project or user, not '${value}'`);
}

function out(text: string): void {
  if (text !== "") process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
}

/** Notes printed after the changes: files a host would refuse, and what the user must still do. */
interface Notes {
  skipped?: Skipped[];
  warnings?: HostNote[];
  nextSteps?: HostNote[];
  notices?: HostNote[];
}

function printNotes(notes: Notes): void {
  for (const s of notes.skipped ?? []) out(`skipped ${s.host}: ${s.reason}`);
  for (const n of notes.notices ?? []) out(`note: ${n.host}: ${n.message}`);
  for (const w of notes.warnings ?? []) process.stderr.write(`warning: ${w.host}: ${w.message}\n`);
  const steps = notes.nextSteps ?? [];
  if (steps.length > 0) out(["still to do:", ...steps.map((s) => `  - ${s.message}`)].join("\n"));
}

/** Print the result of one install step and return its exit code. */
function finish(changes: FileChange[], options: CommonOptions, notes: Notes = {}): number {
  const extra = {
    skipped: notes.skipped ?? [],
    ...(notes.warnings === undefined ? {} : { warnings: notes.warnings }),
    ...(notes.nextSteps === undefined ? {} : { nextSteps: notes.nextSteps }),
    ...(notes.notices === undefined ? {} : { notices: notes.notices }),
  };
  if (options.dryRun === true) {
    if (options.json === true) {
      const data = {
        dryRun: true,
        changes: changes.map((c) => ({
          path: c.path,
          label: c.label,
          action: actionOf(c),
          ...(actionOf(c) === "unchanged" ? {} : { diff: unifiedDiff(c.path, c.before, c.after) }),
        })),
        ...extra,
      };
      out(JSON.stringify({ ok: true, data }));
    } else {
      out(describeDryRun(changes));
      printNotes(notes);
    }
    return 0;
  }
  const applied: AppliedChange[] = applyChanges(changes);
  if (options.json === true) {
    out(JSON.stringify({ ok: true, data: { dryRun: false, changes: applied, ...extra } }));
  } else {
    out(describeApplied(applied));
    printNotes(notes);
  }
  return 0;
}

async function askHosts(): Promise<HostName[]> {
  const detected = detectedHosts();
  process.stdout.write("Install baton's MCP server into which hosts?\n");
  HOST_NAMES.forEach((name, i) => {
    const mark = detected.includes(name) ? " (found)" : "";
    process.stdout.write(`  ${i + 1}. ${name.padEnd(15)} ${HOSTS[name].title}${mark}\n`);
  });
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const hint = detected.length > 0 ? `Enter = the ${detected.length} found` : "e.g. 1,2";
    const answer = (await rl.question(`Numbers or names, comma-separated (${hint}): `)).trim();
    if (answer === "") return detected;
    return answer.split(/[\s,]+/).map((word) => {
      const n = Number(word);
      const name = Number.isInteger(n) && n >= 1 && n <= HOST_NAMES.length ? HOST_NAMES[n - 1]! : word;
      if (!isHostName(name)) throw new BatonError("USAGE", `unknown host '${word}'`);
      return name;
    });
  } finally {
    rl.close();
  }
}

export interface InstallMcpCliOptions extends CommonOptions {
  host?: string[];
  all?: boolean;
  tools?: string;
  trust?: boolean;
}

export async function runInstallMcp(options: InstallMcpCliOptions): Promise<number> {
  const scope = scopeOf(options.scope, "user");
  const named = (options.host ?? [])
    .flatMap((h) => h.split(","))
    .map((h) => h.trim())
    .filter((h) => h !== "");
  for (const name of named) {
    if (!isHostName(name))
      throw new BatonError("USAGE", `unknown host '${name}' (one of: ${HOST_NAMES.join(", ")})`);
  }
  let hosts: HostName[];
  if (options.all === true) {
    if (named.length > 0) throw new BatonError("USAGE", "give --host or --all, not both");
    hosts = detectedHosts();
    if (hosts.length === 0) {
      throw new BatonError(
        "NOT_FOUND",
        `no supported agent host found on this machine; name one with --host (${HOST_NAMES.join(", ")})`,
      );
    }
  } else if (named.length > 0) {
    hosts = [...new Set(named as HostName[])];
  } else if (process.stdin.isTTY === true && process.stdout.isTTY === true && options.json !== true) {
    hosts = await askHosts();
    if (hosts.length === 0) throw new BatonError("USAGE", "no host chosen");
  } else {
    throw new BatonError("USAGE", `name a host with --host <name> (${HOST_NAMES.join(", ")}) or use --all`);
  }
  if (options.tools !== undefined && options.tools !== "default" && options.tools !== "full") {
    throw new BatonError("USAGE", `--tools must be default or full, not '${options.tools}'`);
  }
  const plan = planInstallMcp({
    hosts,
    scope,
    command: batonCommand(options.command),
    tools: options.tools === "full" ? "full" : "default",
    cwd: process.cwd(),
    env: process.env,
    trust: options.trust === true,
  });
  // A single named host that cannot take this scope is a usage error, not a quiet skip.
  if (named.length > 0 && plan.changes.length === 0 && plan.skipped.length > 0) {
    throw new BatonError("USAGE", plan.skipped.map((s) => s.reason).join("; "));
  }
  return finish(plan.changes, options, plan);
}

export async function runSkillsInstall(options: CommonOptions): Promise<number> {
  return finish(planSkills(scopeOf(options.scope, "user"), process.cwd()), options);
}

export interface InstructionsCliOptions extends CommonOptions {
  target?: string[];
  all?: boolean;
}

export async function runInstructionsInstall(options: InstructionsCliOptions): Promise<number> {
  const named = (options.target ?? [])
    .flatMap((t) => t.split(","))
    .map((t) => t.trim())
    .filter((t) => t !== "");
  for (const t of named) {
    if (!(INSTRUCTION_TARGETS as readonly string[]).includes(t)) {
      throw new BatonError("USAGE", `unknown target '${t}' (one of: ${INSTRUCTION_TARGETS.join(", ")})`);
    }
  }
  const targets = options.all === true ? [...INSTRUCTION_TARGETS] : (named as InstructionTarget[]);
  return finish(planInstructions(process.cwd(), targets), options);
}

export async function runHooksInstall(options: CommonOptions): Promise<number> {
  const changes = planHooks(scopeOf(options.scope, "user"), process.cwd(), batonCommand(options.command));
  const code = finish(changes, options);
  if (options.dryRun !== true && options.json !== true) {
    out(
      `New Claude Code sessions now start with \`baton resume --hook\` (${displayPath(changes[0]!.path)}).`,
    );
  }
  return code;
}
