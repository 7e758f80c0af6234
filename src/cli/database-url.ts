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

/**
 * Remove a global `<flag> <value>` / `<flag>=<value>` (anywhere before `--`) from `argv`; the value,
 * if given. `example` shows a valid value in the error for a flag given without one.
 */
export function takeGlobalFlag(
  argv: readonly string[],
  flag: string,
  example: string,
): { argv: string[]; value: string | undefined } {
  const rest: string[] = [];
  let value: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      rest.push(...argv.slice(i));
      break;
    }
    if (arg === flag) {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith("-"))
        throw new BatonError("USAGE", `${flag} needs a value: ${example}`);
      value = next;
      i++;
    } else if (arg.startsWith(`${flag}=`)) {
      value = arg.slice(flag.length + 1);
    } else {
      rest.push(arg);
    }
  }
  return { argv: rest, value };
}

/** Remove `--database-url <url>` / `--database-url=<url>` from `argv`; the value, if given. */
export function takeDatabaseUrlFlag(argv: readonly string[]): { argv: string[]; url: string | undefined } {
  const example = "postgres://user@host:5432/db";
  const taken = takeGlobalFlag(argv, DATABASE_URL_FLAG, example);
  // An empty value is an unset variable (`--database-url "$BATON_DATABASE_URL"`, as hints print
  // for a URL with a password): refused, not read as "no flag", which would pick another ledger.
  if (taken.value !== undefined && taken.value.trim() === "")
    throw new BatonError("USAGE", `${DATABASE_URL_FLAG} is empty (an unset variable?): give ${example}`);
  return { argv: taken.argv, url: taken.value };
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
