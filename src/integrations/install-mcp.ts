/**
 * `baton install-mcp`: add baton's MCP server to agent hosts' config files. An upsert by server name:
 * the rest of each file (other servers, other settings, comments) is kept, an existing `baton`
 * entry's extra keys (env, disabled…) too, and a second run changes nothing.
 */
import { findProject } from "../core/project.js";
import type { FileChange } from "./files.js";
import { readText } from "./files.js";
import type { HostName, Scope } from "./hosts.js";
import { HOSTS } from "./hosts.js";
import { upsertObject } from "./jsonc.js";
import { upsertTomlTable } from "./toml.js";

export const SERVER_NAME = "baton";

export interface InstallMcpOptions {
  hosts: readonly HostName[];
  scope: Scope;
  /** The command that starts baton (see `batonCommand`), e.g. `["baton"]`. */
  command: readonly string[];
  tools: "default" | "full";
  cwd: string;
}

export interface Skipped {
  host: HostName;
  reason: string;
}

export interface InstallPlan {
  changes: FileChange[];
  skipped: Skipped[];
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

/** Compute (but do not write) the change each host's config needs. */
export function planInstallMcp(options: InstallMcpOptions): InstallPlan {
  const project = findProject(options.cwd);
  const { command, args } = serverCommand(options.command, options.tools);
  const changes: FileChange[] = [];
  const skipped: Skipped[] = [];
  for (const name of options.hosts) {
    const host = HOSTS[name];
    const path = host.path(options.scope, project);
    if (path === undefined) {
      skipped.push({
        host: name,
        reason: `${host.title} has no ${options.scope}-scope config (use --scope user)`,
      });
      continue;
    }
    const before = readText(path);
    const entry = host.entry(command, args);
    const after =
      host.format === "toml"
        ? upsertTomlTable(
            before,
            [...host.serversKey, SERVER_NAME],
            entry as { command: string; args: string[] },
          )
        : upsertObject(path, before, [...host.serversKey, SERVER_NAME], entry);
    changes.push({ path, before, after, label: name });
  }
  return { changes, skipped };
}
