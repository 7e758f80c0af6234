/**
 * `baton install-mcp`: add baton's MCP server to agent hosts' config files. An upsert by server name:
 * the rest of each file (other servers, other settings, comments) is kept, an existing `baton`
 * entry's extra keys (env, disabled…) too, and a second run changes nothing.
 */
import { join, resolve } from "node:path";
import type { ParseError } from "jsonc-parser";
import * as parser from "jsonc-parser";
import { BatonError } from "../core/errors.js";
import { urlHasSecret } from "../core/database-url.js";
import { findProject } from "../core/project.js";
import { operations } from "../ops/catalogue.js";
import { needsConsent } from "../ops/operation.js";
import type { FileChange } from "./files.js";
import { displayPath, home, readText } from "./files.js";
import type { HostName, HostSpec, Scope } from "./hosts.js";
import { HOSTS } from "./hosts.js";
import { checkLocation, setAt, upsertArrayElement, upsertObject, valueAt, withoutBom } from "./jsonc.js";
import type { TomlEdit, TomlValue } from "./toml.js";
import { stringArray, upsertTomlTable } from "./toml.js";

const jsonc = (Reflect.get(parser, "default") as typeof parser | undefined) ?? parser;

export const SERVER_NAME = "baton";

export interface InstallMcpOptions {
  hosts: readonly HostName[];
  scope: Scope;
  /** The command that starts baton (see `batonCommand`), e.g. `["baton"]`. */
  command: readonly string[];
  tools: "default" | "full";
  cwd: string;
  /** The installer's environment: where its ledger is (BATON_HOME, BATON_DATABASE_URL). */
  env?: NodeJS.ProcessEnv;
  /** Also write the hosts' own "run this server's tools without asking" flags (Gemini `trust`). */
  trust?: boolean;
}

/** Something the user should know about one host: a file the host would reject, a step left to do. */
export interface HostNote {
  host: HostName;
  message: string;
}

export interface Skipped {
  host: HostName;
  reason: string;
}

export interface InstallPlan {
  changes: FileChange[];
  skipped: Skipped[];
  /** Files the host would refuse as they stand (baton's edit keeps the user's syntax). */
  warnings: HostNote[];
  /** What the user must still do before the host uses baton. */
  nextSteps: HostNote[];
  /** What this call changed or kept in baton's entry that the user set before (a value, an approval). */
  notices: HostNote[];
}

/** The ledger's variables for a host that starts servers without the caller's environment. */
export interface LedgerEnvironment {
  /** Written into the entry: values that are not secret. */
  env: Record<string, string>;
  /** Names the host should forward from its own environment (their values are never written). */
  forward: string[];
  notes: string[];
}

/**
 * Which of the installer's ledger variables a host that drops the environment needs: BATON_HOME
 * when it is not the default `~/.baton` (as an absolute path), BATON_DATABASE_URL as a value when it
 * holds no password, else by name only (D71): a password never lands in a host's config file.
 */
export function ledgerEnvironment(env: NodeJS.ProcessEnv): LedgerEnvironment {
  const out: LedgerEnvironment = { env: {}, forward: [], notes: [] };
  const batonHome = env.BATON_HOME;
  if (batonHome !== undefined && batonHome !== "" && resolve(batonHome) !== join(home(), ".baton"))
    out.env.BATON_HOME = resolve(batonHome);
  const url = env.BATON_DATABASE_URL?.trim();
  if (url !== undefined && url !== "") {
    if (urlHasSecret(url)) {
      out.forward.push("BATON_DATABASE_URL");
      out.notes.push(
        "BATON_DATABASE_URL holds a password, so only its name is written: start the host where BATON_DATABASE_URL is set",
      );
    } else {
      out.env.BATON_DATABASE_URL = url;
    }
  }
  return out;
}

/** Where the host's own parser would fail on `text` (which baton's JSONC parser accepts), or undefined. */
export function hostSyntaxProblem(spec: HostSpec, text: string): string | undefined {
  if (spec.refusesBom === true && text.startsWith("\uFEFF"))
    return `${spec.title} will refuse this file: it starts with a byte-order mark; save it as UTF-8 without one`;
  if (spec.syntax === "jsonc" || spec.syntax === "toml") return undefined;
  const errors: ParseError[] = [];
  jsonc.parseTree(withoutBom(text), errors, {
    allowTrailingComma: false,
    disallowComments: spec.syntax === "json",
  });
  // Comments alone are reported as InvalidCommentToken; a trailing comma as PropertyNameExpected/ValueExpected.
  const first = errors[0];
  if (first === undefined) return undefined;
  const line = text.slice(0, first.offset).split("\n").length;
  const what =
    jsonc.printParseErrorCode(first.error) === "InvalidCommentToken"
      ? "a comment"
      : spec.syntax === "json"
        ? "a comment or trailing comma"
        : "a trailing comma";
  return `${spec.title} will refuse this file: ${what} near line ${line} (${jsonc.printParseErrorCode(first.error)}); remove it by hand`;
}

/** The server's command and arguments for a host entry. */
export function serverCommand(
  command: readonly string[],
  tools: "default" | "full",
): { command: string; args: string[] } {
  const [executable, ...rest] = command;
  return {
    command: executable ?? "baton",
    args: [...rest, "mcp", ...(tools === "full" ? ["--tools", "full"] : [])],
  };
}

/** The tools of a set that a host must never run without asking (they start processes or delete data). */
export function consentTools(tools: "default" | "full"): string[] {
  return operations
    .filter((op) => op.agent === "default" || (tools === "full" && op.agent === "full"))
    .filter(needsConsent)
    .map((op) => op.name);
}

/**
 * The keys of a server entry by which hosts run its tools without asking: Gemini's `trust`,
 * Cline's `autoApprove`, Roo's `alwaysAllow`. Removed from baton's entry unless this call sets them.
 */
const APPROVE_KEYS = ["trust", "autoApprove", "alwaysAllow"] as const;

/**
 * The keys of an HTTP server entry (Claude's `url`/`headers`, Gemini's `httpUrl`, Windsurf's
 * `serverUrl`, opencode's `type: "remote"`): left beside the command baton writes, the host would
 * still connect to the old address (Gemini prefers `httpUrl`), with a stale bearer token kept.
 */
const HTTP_KEYS = ["url", "httpUrl", "serverUrl", "headers", "type"] as const;

const httpRemoved = (key: string, was: string) =>
  `removed \`${key}\`${was} from baton's entry: it belongs to an HTTP server, and baton now runs as a command (stdio)`;

/** Codex's keys of an HTTP server (`url` with a bearer token or headers), removed the same way. */
const CODEX_HTTP_KEYS = [
  "url",
  "bearer_token_env_var",
  "bearer_token",
  "http_headers",
  "env_http_headers",
  "oauth_resource",
];

/** The variables by which baton finds its ledger; a host that drops the environment gets them in its entry. */
const LEDGER_VARIABLES = ["BATON_HOME", "BATON_DATABASE_URL"] as const;

/** Whether a TOML or JSON string's text is a database URL with a password. */
function hidesSecret(text: string): boolean {
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === "string" && /^postgres(ql)?:/.test(value) && urlHasSecret(value);
  } catch {
    return false;
  }
}

/**
 * The names a host forwards from its environment (Codex `env_vars`): the user's own names kept,
 * baton's ledger variables as this call's environment has them; removed when none are left.
 */
function forwardEdit(forward: readonly string[]): TomlEdit {
  return (current) => {
    const names = current === undefined ? [] : stringArray(current);
    // A list baton cannot read is kept, unless this call needs one.
    if (names === undefined) return forward.length > 0 ? [...forward] : undefined;
    const next = [...names.filter((n) => !(LEDGER_VARIABLES as readonly string[]).includes(n)), ...forward];
    if (next.length > 0) return next;
    return current === undefined ? undefined : null;
  };
}

/** Compute (but do not write) the change each host's config needs. */
export function planInstallMcp(options: InstallMcpOptions): InstallPlan {
  if (options.trust === true) {
    // A host's trust switch approves every tool of the server: only for a set with none to ask about.
    const ask = consentTools(options.tools);
    if (ask.length > 0)
      throw new BatonError(
        "USAGE",
        `--trust would let the host run ${ask.join(", ")} without asking (they start or stop processes, or delete data): use --trust with the default tools only`,
        { details: { tools: options.tools, needConsent: ask } },
      );
  }
  const project = findProject(options.cwd);
  const { command, args } = serverCommand(options.command, options.tools);
  const plan: InstallPlan = { changes: [], skipped: [], warnings: [], nextSteps: [], notices: [] };
  const ledger = ledgerEnvironment(options.env ?? {});
  for (const name of options.hosts) {
    const host = HOSTS[name];
    const path = host.path(options.scope, project);
    if (path === undefined) {
      plan.skipped.push({
        host: name,
        reason: `${host.title} has no ${options.scope}-scope config (use --scope user)`,
      });
      continue;
    }
    const before = readText(path);
    const entry: Record<string, unknown> = host.entry(command, args);
    // Variables the host would not pass on: set one by one, so the user's own variables stay.
    const vars: Record<string, string> = host.passesEnvironment ? {} : ledger.env;
    if (!host.passesEnvironment) {
      if (ledger.forward.length > 0 && host.forwardKey !== undefined && host.format !== "toml")
        entry[host.forwardKey] = ledger.forward;
      for (const message of ledger.notes) plan.nextSteps.push({ host: name, message });
    }
    if (options.trust === true && host.trust !== undefined) Object.assign(entry, host.trust);
    const location = [...host.serversKey, SERVER_NAME];
    const notice = (message: string) =>
      plan.notices.push({ host: name, message: `${message} (${displayPath(path)})` });
    const changed = (key: string, was: string, now: string | undefined) => {
      // A URL with a password the user wrote into the entry is not printed.
      if (now === undefined && CODEX_HTTP_KEYS.includes(key)) {
        // An address or a header may hold a token: the key's name only.
        notice(httpRemoved(key, ""));
        return;
      }
      const shown = hidesSecret(was) ? "a URL with a password" : was;
      const why = LEDGER_VARIABLES.some((v) => key.endsWith(`.${v}`))
        ? " (it follows the installer's environment, D150)"
        : "";
      notice(
        `baton's entry: ${key} was ${shown}, ${now === undefined ? `removed${why}` : `now ${now}`}${/"--tools",\s*"full"/.test(was) && options.tools !== "full" ? " (the default tool set: pass --tools full to keep the full one)" : ""}`,
      );
    };
    let after: string;
    if (host.format === "toml") {
      const table: Record<string, TomlEdit> = { ...(entry as Record<string, TomlValue>) };
      for (const key of CODEX_HTTP_KEYS) table[key] = null;
      if (!host.passesEnvironment) {
        // Baton's ledger variables follow the installer's environment: set, changed or removed (D150).
        table[host.envKey] = Object.fromEntries(LEDGER_VARIABLES.map((v) => [v, ledger.env[v] ?? null]));
        if (host.forwardKey !== undefined) table[host.forwardKey] = forwardEdit(ledger.forward);
      }
      after = upsertTomlTable(before, location, table, changed);
    } else {
      checkLocation(path, before, location);
      const previous = (
        before === null || before.trim() === "" ? undefined : valueAt(path, before, location)
      ) as Record<string, unknown> | undefined;
      // A host's own off switch the user set stays off (opencode `enabled: false`, `disabled: true`).
      if (previous?.enabled === false && entry.enabled === true) {
        delete entry.enabled;
        notice("kept `enabled: false`: the host will not start baton until you set it to true");
      }
      if (previous?.disabled === true)
        notice("kept `disabled: true`: the host will not start baton until you remove it");
      for (const [key, value] of Object.entries(entry)) {
        const was = previous?.[key];
        const replaced = typeof value !== "object" || Array.isArray(value);
        if (was !== undefined && replaced && JSON.stringify(was) !== JSON.stringify(value))
          changed(key, JSON.stringify(was), JSON.stringify(value));
      }
      after = upsertObject(path, before, location, entry);
      // Rewriting an entry grants exactly what this call grants (D108): a host's run-without-asking
      // key kept from an earlier `--trust` would approve a tool set that needs consent.
      const current = valueAt(path, after, location);
      if (current !== null && typeof current === "object" && !Array.isArray(current)) {
        for (const key of APPROVE_KEYS) {
          if (key in current && !(key in entry)) {
            after = setAt(path, after, [...location, key], undefined);
            notice(
              `removed \`${key}\` from baton's entry: an install grants only the approval it is asked for (D108)${options.trust === true ? "" : "; --trust sets the host's own switch (default tools only)"}`,
            );
          }
        }
      }
      const written = valueAt(path, after, location);
      if (written !== null && typeof written === "object" && !Array.isArray(written)) {
        for (const key of HTTP_KEYS) {
          const old = (written as Record<string, unknown>)[key];
          if (!(key in written) || key in entry || (key === "type" && old === "stdio")) continue;
          after = setAt(path, after, [...location, key], undefined);
          // A header or an address may hold a token: only the key's name is said.
          const was = key === "type" ? ` (was ${JSON.stringify(old)})` : "";
          notice(httpRemoved(key, was));
        }
      }
      for (const [key, value] of Object.entries(vars)) {
        if (valueAt(path, after, [...location, host.envKey, key]) !== value)
          after = setAt(path, after, [...location, host.envKey, key], value);
      }
      const problem = hostSyntaxProblem(host, after);
      if (problem !== undefined) plan.warnings.push({ host: name, message: `${problem} (${path})` });
    }
    plan.changes.push({ path, before, after, label: name });
    if (options.trust === true && name === "claude-code" && options.scope === "project") {
      // Claude Code's own switch for approving a project server without asking.
      const local = join(project, ".claude", "settings.local.json");
      const text = readText(local);
      plan.changes.push({
        path: local,
        before: text,
        after: upsertArrayElement(
          local,
          text,
          ["enabledMcpjsonServers"],
          SERVER_NAME,
          (v) => v === SERVER_NAME,
        ),
        label: name,
      });
    } else {
      if (name === "claude-code" && options.scope === "project") {
        // Without --trust, an approval an earlier --trust wrote must not carry over to this tool set.
        const local = join(project, ".claude", "settings.local.json");
        const text = readText(local);
        const enabled =
          text === null || text.trim() === "" ? undefined : valueAt(local, text, ["enabledMcpjsonServers"]);
        if (Array.isArray(enabled) && enabled.includes(SERVER_NAME)) {
          plan.notices.push({
            host: name,
            message: `removed baton from enabledMcpjsonServers (${displayPath(local)}): a call without --trust approves nothing (D108); approve it again in \`claude\`, or use --trust (default tools only)`,
          });
          plan.changes.push({
            path: local,
            before: text,
            after: setAt(
              local,
              text,
              ["enabledMcpjsonServers"],
              enabled.filter((v) => v !== SERVER_NAME),
            ),
            label: name,
          });
        }
      }
      for (const message of host.nextSteps(options.scope, options.trust === true))
        plan.nextSteps.push({ host: name, message });
    }
  }
  return plan;
}
