/**
 * The agent hosts `baton install-mcp` knows: where each keeps its MCP server list, per scope, and
 * the shape of one server entry there. Paths follow each host's own documentation.
 */
import { accessSync, constants, existsSync, realpathSync } from "node:fs";
import { delimiter, join } from "node:path";
import { configHome, home } from "./files.js";

export const HOST_NAMES = [
  "vscode",
  "claude-code",
  "claude-desktop",
  "cursor",
  "windsurf",
  "codex",
  "gemini",
  "cline",
  "zed",
  "opencode",
] as const;
export type HostName = (typeof HOST_NAMES)[number];

export type Scope = "project" | "user";

export interface HostSpec {
  name: HostName;
  title: string;
  format: "json" | "toml";
  /** The config file for a scope, or undefined when the host has none at that scope. */
  path(scope: Scope, project: string): string | undefined;
  /** Where the server map sits in the file: `["mcpServers"]`, `["servers"]`, `["mcp_servers"]`… */
  serversKey: readonly string[];
  /** One server entry for `command args…`. */
  entry(command: string, args: readonly string[]): Record<string, unknown>;
  /** Paths whose existence means the host is installed here. */
  markers(): string[];
  /** Programs whose presence on the PATH means the host is installed here. */
  programs: readonly string[];
  /** The entry's key for environment variables (`env`; opencode: `environment`). */
  envKey: string;
  /**
   * False when the host starts MCP servers without the caller's environment (Codex keeps only a few
   * variables such as HOME and PATH): then the ledger's variables go into the entry itself.
   */
  passesEnvironment: boolean;
  /** The entry's key for names of variables the host forwards from its own environment (Codex `env_vars`). */
  forwardKey?: string;
  /** What the host's own parser allows: JSON with comments and trailing commas, comments only, or neither. */
  syntax: "jsonc" | "json-comments" | "json" | "toml";
  /** The host refuses a file that starts with a UTF-8 byte-order mark (baton keeps one it finds). */
  refusesBom?: boolean;
  /** Keys that make the host run baton's tools without asking (written only with `--trust`). */
  trust?: Readonly<Record<string, unknown>>;
  /** What the user must still do after the file is written, for a scope; `trust`: `--trust` was given. */
  nextSteps(scope: Scope, trust: boolean): string[];
}

/** Per-user application data: `~/Library/Application Support`, `%APPDATA%`, or the XDG config dir. */
export function appData(): string {
  if (process.platform === "darwin") return join(home(), "Library", "Application Support");
  if (process.platform === "win32") return process.env.APPDATA ?? join(home(), "AppData", "Roaming");
  return configHome();
}

function codexHome(): string {
  const fromEnv = process.env.CODEX_HOME;
  return fromEnv !== undefined && fromEnv !== "" ? fromEnv : join(home(), ".codex");
}

function zedConfigDir(): string {
  if (process.platform === "win32") return join(appData(), "Zed");
  return join(process.platform === "darwin" ? join(home(), ".config") : configHome(), "zed");
}

const commandArgs = (command: string, args: readonly string[]) => ({ command, args: [...args] });
const none = (): string[] => [];
/** Defaults shared by most hosts. */
const common = {
  envKey: "env",
  passesEnvironment: true,
  syntax: "jsonc",
  nextSteps: none,
} as const;
const userOnly = (path: () => string) => (scope: Scope) => (scope === "user" ? path() : undefined);

export const HOSTS: Readonly<Record<HostName, HostSpec>> = {
  vscode: {
    name: "vscode",
    title: "VS Code (GitHub Copilot)",
    format: "json",
    path: (scope, project) =>
      scope === "project"
        ? join(project, ".vscode", "mcp.json")
        : join(appData(), "Code", "User", "mcp.json"),
    serversKey: ["servers"],
    entry: (command, args) => ({ type: "stdio", ...commandArgs(command, args) }),
    markers: () => [join(appData(), "Code")],
    programs: ["code"],
    ...common,
    nextSteps: () => [
      "VS Code: start the server from the MCP view (or `MCP: List Servers`) and trust it when asked",
    ],
  },
  "claude-code": {
    name: "claude-code",
    title: "Claude Code",
    format: "json",
    path: (scope, project) =>
      scope === "project" ? join(project, ".mcp.json") : join(home(), ".claude.json"),
    serversKey: ["mcpServers"],
    entry: (command, args) => ({ type: "stdio", ...commandArgs(command, args) }),
    markers: () => [join(home(), ".claude"), join(home(), ".claude.json")],
    programs: ["claude"],
    ...common,
    // Claude Code reads .mcp.json and ~/.claude.json with JSON.parse: no comments, no trailing commas.
    syntax: "json",
    nextSteps: (scope) =>
      scope === "project"
        ? [
            "Claude Code: a project server stays 'Pending approval' until approved: start `claude` in the project and approve `baton` (or add it to enabledMcpjsonServers in .claude/settings.local.json; --trust does that)",
          ]
        : [],
  },
  "claude-desktop": {
    name: "claude-desktop",
    title: "Claude Desktop",
    format: "json",
    path: userOnly(() => join(appData(), "Claude", "claude_desktop_config.json")),
    serversKey: ["mcpServers"],
    entry: commandArgs,
    markers: () => [join(appData(), "Claude")],
    programs: [],
    ...common,
    syntax: "json",
    nextSteps: () => ["Claude Desktop: restart the app to load the server"],
  },
  cursor: {
    name: "cursor",
    title: "Cursor",
    format: "json",
    path: (scope, project) => join(scope === "project" ? project : home(), ".cursor", "mcp.json"),
    serversKey: ["mcpServers"],
    entry: commandArgs,
    markers: () => [join(home(), ".cursor")],
    programs: ["cursor", "cursor-agent"],
    ...common,
  },
  windsurf: {
    name: "windsurf",
    title: "Windsurf",
    format: "json",
    path: userOnly(() => join(home(), ".codeium", "windsurf", "mcp_config.json")),
    serversKey: ["mcpServers"],
    entry: commandArgs,
    markers: () => [join(home(), ".codeium", "windsurf")],
    programs: ["windsurf"],
    ...common,
  },
  codex: {
    name: "codex",
    title: "OpenAI Codex",
    format: "toml",
    // A project's .codex/config.toml is read only when the user trusts the project.
    path: (scope, project) =>
      scope === "project" ? join(project, ".codex", "config.toml") : join(codexHome(), "config.toml"),
    serversKey: ["mcp_servers"],
    entry: commandArgs,
    markers: () => [codexHome()],
    programs: ["codex"],
    ...common,
    passesEnvironment: false,
    forwardKey: "env_vars",
    syntax: "toml",
    nextSteps: (scope) =>
      scope === "project"
        ? ["Codex: reads .codex/config.toml only in a trusted project: trust the folder when Codex asks"]
        : [],
  },
  gemini: {
    name: "gemini",
    title: "Gemini CLI",
    format: "json",
    path: (scope, project) => join(scope === "project" ? project : home(), ".gemini", "settings.json"),
    serversKey: ["mcpServers"],
    entry: commandArgs,
    markers: () => [join(home(), ".gemini")],
    programs: ["gemini"],
    ...common,
    // Gemini strips comments, then JSON.parse: a trailing comma makes it refuse the whole file.
    syntax: "json-comments",
    // Gemini CLI 0.61: "Unexpected token '\uFEFF' … is not valid JSON" (Claude Code reads such a file).
    refusesBom: true,
    trust: { trust: true },
    // Checked against Gemini CLI 0.61: `gemini mcp list` shows the server "Disabled" in an untrusted
    // folder (user-level servers too) and "Connected" with GEMINI_CLI_TRUST_WORKSPACE=true; a
    // headless run names `--skip-trust` and that variable itself.
    nextSteps: (_scope, trust) => [
      "Gemini CLI: MCP servers (user-level ones too) are disabled in an untrusted folder: trust the folder when Gemini asks (or `/permissions`); headless, run `gemini --skip-trust -p …` or set GEMINI_CLI_TRUST_WORKSPACE=true",
      ...(trust
        ? []
        : [
            "Gemini CLI: headless `gemini -p` offers only a trusted server's tools: run `baton install-mcp --host gemini --trust` for that (default tool set only)",
          ]),
    ],
  },
  cline: {
    name: "cline",
    title: "Cline (VS Code extension)",
    format: "json",
    path: userOnly(() =>
      join(
        appData(),
        "Code",
        "User",
        "globalStorage",
        "saoudrizwan.claude-dev",
        "settings",
        "cline_mcp_settings.json",
      ),
    ),
    serversKey: ["mcpServers"],
    entry: commandArgs,
    markers: () => [join(appData(), "Code", "User", "globalStorage", "saoudrizwan.claude-dev")],
    programs: [],
    ...common,
  },
  zed: {
    name: "zed",
    title: "Zed",
    format: "json",
    path: (scope, project) =>
      scope === "project" ? join(project, ".zed", "settings.json") : join(zedConfigDir(), "settings.json"),
    serversKey: ["context_servers"],
    entry: (command, args) => ({ source: "custom", ...commandArgs(command, args), env: {} }),
    markers: () => [zedConfigDir()],
    programs: ["zed", "zeditor"],
    ...common,
  },
  opencode: {
    name: "opencode",
    title: "opencode",
    format: "json",
    // opencode.json at the project root, or the global one under $XDG_CONFIG_HOME/opencode/.
    path: (scope, project) =>
      scope === "project" ? join(project, "opencode.json") : join(configHome(), "opencode", "opencode.json"),
    serversKey: ["mcp"],
    entry: (command, args) => ({ type: "local", command: [command, ...args], enabled: true }),
    markers: () => [join(configHome(), "opencode")],
    programs: ["opencode"],
    ...common,
    envKey: "environment",
  },
};

export function isHostName(name: string): name is HostName {
  return (HOST_NAMES as readonly string[]).includes(name);
}

/** Hosts that look installed on this machine: their config directory exists, or their program is on the PATH. */
export function detectedHosts(): HostName[] {
  return HOST_NAMES.filter(
    (name) => HOSTS[name].markers().some((p) => existsSync(p)) || HOSTS[name].programs.some(onPath),
  );
}

export function onPath(executable: string): boolean {
  const names = process.platform === "win32" ? [`${executable}.cmd`, `${executable}.exe`] : [executable];
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    for (const name of names) {
      try {
        accessSync(join(dir, name), constants.X_OK);
        return true;
      } catch {
        // not here
      }
    }
  }
  return false;
}

/**
 * How a host should start baton: `baton` when it is on PATH, else this node binary with this
 * script's absolute path (hosts such as Claude Desktop do not see a shell's PATH).
 */
export function batonCommand(explicit?: string): string[] {
  if (explicit !== undefined && explicit !== "") return [explicit];
  if (onPath("baton")) return ["baton"];
  const script = process.argv[1];
  if (script === undefined) return ["baton"];
  let resolved = script;
  try {
    resolved = realpathSync(script);
  } catch {
    // keep as given
  }
  return [process.execPath, resolved];
}

/** A command line as one shell-quoted string (for hooks, which take a single command string). */
export function shellJoin(words: readonly string[]): string {
  return words
    .map((w) => (/^[A-Za-z0-9_./:=@%+-]+$/.test(w) ? w : `'${w.replace(/'/g, "'\\''")}'`))
    .join(" ");
}
