/**
 * Which ledger a CLI invocation uses: `--database-url <url>` (anywhere before `--`), else
 * `BATON_DATABASE_URL`, else `database_url` in the project's `baton.yaml`, else `database_url` in
 * the personal `$BATON_HOME/config.yaml`, else the SQLite file under `BATON_HOME`.
 */
import { readFileSync } from "node:fs";
import { parseDocument } from "yaml";
import { BatonError } from "../core/errors.js";
import { configPaths } from "../tasks/config.js";

export const DATABASE_URL_FLAG = "--database-url";

export type DatabaseUrlSource = "flag" | "env" | "project config" | "personal config" | "default";

/** Remove `--database-url <url>` / `--database-url=<url>` from `argv`; the value, if given. */
export function takeDatabaseUrlFlag(argv: readonly string[]): { argv: string[]; url: string | undefined } {
  const rest: string[] = [];
  let url: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      rest.push(...argv.slice(i));
      break;
    }
    if (arg === DATABASE_URL_FLAG) {
      const value = argv[i + 1];
      if (value === undefined || value.startsWith("-"))
        throw new BatonError("USAGE", `${DATABASE_URL_FLAG} needs a value: postgres://user@host:5432/db`);
      url = value;
      i++;
    } else if (arg.startsWith(`${DATABASE_URL_FLAG}=`)) {
      url = arg.slice(DATABASE_URL_FLAG.length + 1);
    } else {
      rest.push(arg);
    }
  }
  return { argv: rest, url };
}

/** `database_url` of one config file, read leniently (a broken task elsewhere does not matter here). */
function configUrl(file: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  const value: unknown = parseDocument(text).get("database_url");
  return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
}

/** The ledger's database URL for a caller, and where it came from (`undefined`: SQLite). */
export function resolveDatabaseUrl(
  flag: string | undefined,
  env: NodeJS.ProcessEnv,
  cwd: string,
): { url: string | undefined; source: DatabaseUrlSource } {
  if (flag !== undefined && flag.trim() !== "") return { url: flag.trim(), source: "flag" };
  const fromEnv = env.BATON_DATABASE_URL;
  if (fromEnv !== undefined && fromEnv.trim() !== "") return { url: fromEnv.trim(), source: "env" };
  const { projectFile, personalFile } = configPaths(cwd, env);
  const project = configUrl(projectFile);
  if (project !== undefined) return { url: project, source: "project config" };
  const personal = configUrl(personalFile);
  if (personal !== undefined) return { url: personal, source: "personal config" };
  return { url: undefined, source: "default" };
}
