/**
 * Loading `baton.yaml` (at the project's git root) and the personal `$BATON_HOME/config.yaml`, and
 * finding plugin task modules in `.baton/tasks/`. Problems are values, not exceptions: each names
 * the file, the line and column, the key, and what was expected (R-31), so `baton config validate`
 * can list them all and every other command can refuse to run anything.
 */
import { existsSync, lstatSync, readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { basename, dirname, extname, isAbsolute, join, relative, resolve } from "node:path";
import { isMap, isScalar, LineCounter, parseDocument } from "yaml";
import type { Document, Node as YamlNode } from "yaml";
import { z } from "zod";
import { BatonError } from "../core/errors.js";
import { batonHome } from "../core/paths.js";
import { findProject } from "../core/project.js";
import type { ConfigSpec, TaskSpec } from "./schema.js";
import { fromDocket } from "./docket.js";
import { agentSchema, configSchema, TASK_NAME, taskSchema } from "./schema.js";
import { otherOwner } from "./module-trust.js";
import { isSecretPath } from "./redact.js";

/** One thing wrong with a config file. */
export interface ConfigProblem {
  file: string;
  /** 1-based; absent when the problem is not tied to a place (an unreadable file). */
  line?: number;
  column?: number;
  /** The key path, dotted (`tasks.backup.timeout`); empty for the whole file. */
  key: string;
  message: string;
}

export type Checked<T> = { ok: true; value: T } | { ok: false; problems: ConfigProblem[] };

/** Where a task comes from. */
export type TaskScope = "project" | "personal";

/** A configured task, resolved from its config file (or plugin module). */
export interface TaskDef {
  name: string;
  scope: TaskScope;
  /** The file that defines it: baton.yaml, config.yaml, or a plugin module in `.baton/tasks/`. */
  file: string;
  /** 1-based line of its definition in `file`, when it is a YAML file. */
  line?: number;
  /** Where relative paths (cwd, plugin modules) start: the project root, or the home directory. */
  root: string;
  /** The project its runs belong to (`null` for personal tasks). */
  project: string | null;
  spec: TaskSpec;
  kind: "command" | "plugin";
}

export interface TaskConfig {
  /** The project root (git root of the caller's cwd). */
  root: string;
  /** The project's `baton.yaml` (it may not exist). */
  projectFile: string;
  /** The personal `$BATON_HOME/config.yaml` (it may not exist). */
  personalFile: string;
  /** Config files that exist and were read. */
  files: string[];
  tasks: TaskDef[];
}

export const PROJECT_FILE = "baton.yaml";
export const PLUGIN_DIR = join(".baton", "tasks");
const PLUGIN_EXTENSIONS = [".js", ".mjs", ".cjs", ".ts", ".mts"];

/** Where the project and personal configs live for a caller. */
export function configPaths(
  cwd: string,
  env: NodeJS.ProcessEnv = process.env,
): { root: string; projectFile: string; personalFile: string } {
  const root = findProject(cwd);
  return {
    root,
    projectFile: join(root, PROJECT_FILE),
    personalFile: join(batonHome(env), "config.yaml"),
  };
}

/** A path as a person reads it: relative to `base` when inside it. */
export function displayPath(file: string, base: string): string {
  const rel = relative(base, file);
  return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel) ? rel : file;
}

/** `file:line:column: key: message`. */
export function formatProblem(problem: ConfigProblem, base?: string): string {
  const file = base === undefined ? problem.file : displayPath(problem.file, base);
  const where = problem.line === undefined ? file : `${file}:${problem.line}:${problem.column ?? 1}`;
  return `${where}: ${problem.key === "" ? "" : `${problem.key}: `}${problem.message}`;
}

/** The error every command raises for a broken config: the first problem, and how many more. */
export function configError(problems: readonly ConfigProblem[], base?: string): BatonError {
  const first = problems[0];
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more: run baton config validate)` : "";
  return new BatonError(
    "CONFIG_INVALID",
    first === undefined ? "the configuration is invalid" : `${formatProblem(first, base)}${more}`,
    { details: { problems: problems.map((p) => ({ ...p })) } },
  );
}

// --- YAML → problems with positions ----------------------------------------------------------------

/**
 * A key as problems quote it: printable ASCII only, at most 40 characters. A config file's keys
 * are the caller's, but a file that is not one (a symlink, a stray text) must not be echoed.
 */
export function shownKey(key: string): string {
  const printable = key.replace(/[^\x20-\x7e]/g, "?");
  return printable.length > 40 ? `${printable.slice(0, 40)}…` : printable;
}

function describeValue(value: unknown): string {
  if (value === null || value === undefined) return "nothing";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a map";
  if (typeof value === "string")
    return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") {
    return `${typeof value} ${String(value)}`;
  }
  return typeof value;
}

/** The object schema's keys at a path of the config (for "expected one of" and "did you mean"). */
function keysAt(path: readonly PropertyKey[]): string[] {
  let schema: z.ZodType | undefined = configSchema;
  const unwrap = (s: z.ZodType): z.ZodType => {
    let current = s;
    for (let i = 0; i < 10; i++) {
      if (current instanceof z.ZodOptional) current = current.unwrap() as z.ZodType;
      else if (current instanceof z.ZodUnion) {
        const object = current.options.find((o) => o instanceof z.ZodObject);
        if (object === undefined) return current;
        current = object;
      } else return current;
    }
    return current;
  };
  for (const segment of path) {
    if (schema === undefined) return [];
    schema = unwrap(schema);
    if (schema instanceof z.ZodObject) schema = (schema.shape as Record<string, z.ZodType>)[String(segment)];
    else if (schema instanceof z.ZodRecord) schema = schema.valueType as z.ZodType;
    else return [];
  }
  if (schema === undefined) return [];
  schema = unwrap(schema);
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
}

/** Levenshtein distance (for "did you mean"). */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const next = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = row[j]!;
      row[j] = next;
    }
  }
  return row[b.length]!;
}

const A_DURATION = "a duration such as 30s, 10m or 2h, or a number of seconds";

/** What a union-typed key expects, in words (zod only says "invalid input"). */
const EXPECTED: Record<string, string> = {
  command: "a shell command string or an argv list of strings",
  dry_run_command: "a shell command string or an argv list of strings",
  on_success: "a shell command string, or a list of shell strings / argv lists",
  on_failure: "a shell command string, or a list of shell strings / argv lists",
  on_complete: "a shell command string, or a list of shell strings / argv lists",
  desktop: "true, false or a map with title",
  default: "a string, number or boolean",
  timeout: A_DURATION,
  idle_timeout: A_DURATION,
  base: A_DURATION,
  max: A_DURATION,
};

function positionOf(
  doc: Document,
  counter: LineCounter,
  path: readonly PropertyKey[],
  preferKey: boolean,
): { line: number; col: number } | undefined {
  // The deepest node that exists along the path.
  for (let depth = path.length; depth >= 0; depth--) {
    const sub = path.slice(0, depth).map((p) => (typeof p === "number" ? p : String(p)));
    if (preferKey && depth === path.length && depth > 0) {
      const parent = sub.length === 1 ? doc.contents : doc.getIn(sub.slice(0, -1), true);
      if (isMap(parent)) {
        const pair = parent.items.find((p) => isScalar(p.key) && String(p.key.value) === sub[sub.length - 1]);
        const range = (pair?.key as YamlNode | undefined)?.range;
        if (range !== undefined && range !== null) return counter.linePos(range[0]);
      }
    }
    const node = (depth === 0 ? doc.contents : doc.getIn(sub, true)) as YamlNode | null | undefined;
    const range = node?.range;
    if (range !== undefined && range !== null) return counter.linePos(range[0]);
  }
  return undefined;
}

function keyOfPair(doc: Document, counter: LineCounter, path: readonly PropertyKey[], key: string) {
  const parent = path.length === 0 ? doc.contents : doc.getIn(path.map(String), true);
  if (isMap(parent)) {
    const pair = parent.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
    const range = (pair?.key as YamlNode | undefined)?.range;
    if (range !== undefined && range !== null) return counter.linePos(range[0]);
  }
  return positionOf(doc, counter, path, false);
}

function dotted(path: readonly PropertyKey[]): string {
  return path.map(String).join(".");
}

/**
 * A config path as the user reads the file: the keys of the maps, dotted, as `key`; below the
 * first list, which item (counted from 1, as a reader counts lines) and any key inside it, as
 * `item` — `tasks.b.args` and "item 2", not `tasks.b.args.1`.
 *
 * @example yamlPath(["tasks", "b", "on_success", 0, 1]) // { key: "tasks.b.on_success", item: "item 1.2" }
 */
export function yamlPath(path: readonly PropertyKey[]): { key: string; item?: string } {
  const first = path.findIndex((seg) => typeof seg === "number" || /^\d+$/.test(String(seg)));
  if (first < 0) return { key: dotted(path) };
  const words: string[] = [];
  for (const seg of path.slice(first)) {
    const n = typeof seg === "number" ? seg : /^\d+$/.test(String(seg)) ? Number(seg) : undefined;
    const last = words[words.length - 1];
    if (n === undefined) words.push(`'${String(seg)}'`);
    else if (last?.startsWith("item ") === true) words[words.length - 1] = `${last}.${n + 1}`;
    else words.push(`item ${n + 1}`);
  }
  return { key: dotted(path.slice(0, first)), item: words.join(" ") };
}

/** A problem's key and message with the list item (if any) said in words before the message. */
export function atPath(path: readonly PropertyKey[], message: string): { key: string; message: string } {
  const { key, item } = yamlPath(path);
  return { key, message: item === undefined ? message : `${item}: ${message}` };
}

/** Keys whose value is a string of a kind: what to say when it is not a string at all. */
const TYPED: Record<string, string> = {
  schedule: "a cron expression string such as '0 2 * * *'",
};

/** What a schema expected, in the words of a YAML file (zod says record, object, array). */
const EXPECTED_TYPE: Record<string, string> = {
  record: "a map",
  object: "a map",
  array: "a list",
  string: "a string",
  number: "a number",
  int: "an integer",
  boolean: "true or false",
};

/** Zod's default bound messages ("Too big: expected number to be <=255") in the file's words. */
function boundMessage(issue: z.core.$ZodIssueTooBig | z.core.$ZodIssueTooSmall): string {
  if (!/^Too (big|small): /.test(issue.message)) return issue.message;
  const big = issue.code === "too_big";
  const limit = Number(big ? issue.maximum : issue.minimum);
  switch (issue.origin) {
    case "string":
      if (!big && limit === 1) return "must not be empty";
      return `must be at ${big ? "most" : "least"} ${limit} characters`;
    case "array":
    case "set":
      if (!big && limit === 1) return "must not be an empty list";
      return `must have at ${big ? "most" : "least"} ${limit} items`;
    case "number":
    case "int":
    case "bigint":
    case "date":
    case "file":
    default:
      return `must be ${big ? (issue.inclusive === false ? "less than" : "at most") : issue.inclusive === false ? "more than" : "at least"} ${limit}`;
  }
}

type Issue = z.core.$ZodIssue;

/** The schema of an entry's value under each map keyed by name (checked apart when the name is bad). */
const BODY_SCHEMAS: Record<string, typeof taskSchema | typeof agentSchema | undefined> = {
  tasks: taskSchema,
  agents: agentSchema,
};

function issueProblems(
  issue: Issue,
  doc: Document,
  counter: LineCounter,
  file: string,
  data: unknown,
): ConfigProblem[] {
  const path = issue.path;
  const valueAt = (p: readonly PropertyKey[]): unknown => {
    let v: unknown = data;
    for (const seg of p)
      v = v !== null && typeof v === "object" ? (v as Record<string, unknown>)[String(seg)] : undefined;
    return v;
  };
  // A value that may be a secret (a plain `bot_token:`, an `env:` value…) is never quoted.
  const shown = (v: unknown) =>
    isSecretPath(path) ? "a value not shown (it may be a secret)" : describeValue(v);
  const here = (preferKey = true) => positionOf(doc, counter, path, preferKey);
  const problem = (message: string, pos = here(), at = path): ConfigProblem => ({
    file,
    ...(pos === undefined ? {} : { line: pos.line, column: pos.col }),
    ...atPath(at, message),
  });
  switch (issue.code) {
    case "unrecognized_keys": {
      const known = keysAt(path);
      return issue.keys.map((key) => {
        const close = known
          .map((k) => ({ k, d: editDistance(k, key) }))
          .filter((x) => x.d <= Math.max(2, Math.floor(key.length / 3)))
          .sort((a, b) => a.d - b.d)[0];
        const pos = keyOfPair(doc, counter, path, key);
        const hint = close === undefined ? "" : `; did you mean '${close.k}'?`;
        const expected = known.length === 0 ? "" : ` (expected one of: ${known.join(", ")})`;
        const named = atPath([...path, shownKey(key)], `unknown key '${shownKey(key)}'${hint}${expected}`);
        return {
          file,
          ...(pos === undefined ? {} : { line: pos.line, column: pos.col }),
          ...named,
        };
      });
    }
    case "invalid_type": {
      const actual = valueAt(path);
      const last = String(path[path.length - 1] ?? "");
      const expected =
        path.length === 1 && last === "tasks"
          ? "a map of task names to tasks (build: {command: …})"
          : (TYPED[last] ?? EXPECTED_TYPE[issue.expected] ?? issue.expected);
      if (actual === undefined) {
        return [problem(`missing: expected ${expected}`, positionOf(doc, counter, path.slice(0, -1), true))];
      }
      return [problem(`expected ${expected}, got ${shown(actual)}`)];
    }
    case "invalid_union": {
      // The branch the value's shape selects (a map, a list…): its own problems, at their keys
      // (`inputs.Dest.type`, `on_success: item 1: item 2`), not "expected … got a map" here.
      const fitting = issue.errors.filter(
        (branch) => !branch.some((i) => i.code === "invalid_type" && i.path.length === 0),
      );
      if (fitting.length === 1 && fitting[0]!.length > 0)
        return fitting[0]!.flatMap((sub) =>
          issueProblems({ ...sub, path: [...path, ...sub.path] }, doc, counter, file, data),
        );
      const last = String(path[path.length - 1] ?? "");
      const expected =
        EXPECTED[last] ??
        (path[path.length - 2] === "inputs"
          ? "a description string or a map with description, type, required, default, enum, pattern, allow_dash"
          : "a different value");
      return [problem(`expected ${expected}, got ${shown(valueAt(path))}`)];
    }
    case "invalid_value":
      return [
        problem(
          `expected ${issue.values.map((v) => JSON.stringify(v)).join(" | ")}, got ${shown(valueAt(path))}`,
        ),
      ];
    case "invalid_key": {
      const named = problem(
        `invalid name '${String(path[path.length - 1])}': ${issue.issues[0]?.message ?? issue.message}`,
      );
      // The validator skips the value of a badly named entry: check it here, so a bad name does
      // not hide the problems inside its task (or agent).
      const body = path.length === 2 ? BODY_SCHEMAS[String(path[0])] : undefined;
      const checked = body?.safeParse(valueAt(path));
      const inside = (checked?.success === false ? checked.error.issues : []).flatMap((sub) =>
        issueProblems({ ...sub, path: [...path, ...sub.path] }, doc, counter, file, data),
      );
      return [named, ...inside];
    }
    case "custom":
    case "invalid_element":
    case "invalid_format":
    case "not_multiple_of":
      return [problem(issue.message)];
    case "too_big":
    case "too_small":
      return [problem(boundMessage(issue))];
  }
}

/** Parse and validate one config file's text. */
export function parseConfig(text: string, file: string): Checked<ConfigSpec> {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      problems: doc.errors.map((e) => {
        const pos = e.linePos?.[0] ?? counter.linePos(e.pos[0]);
        return {
          file,
          ...(pos === undefined ? {} : { line: pos.line, column: pos.col }),
          // Where the parser says it is, and no key: a text that does not parse has none for sure
          // (an unclosed `[` on one line is found at the next key, which is not where it is wrong).
          key: "",
          message: `YAML syntax error: ${e.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "")}`,
        };
      }),
    };
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 }) ?? {};
  } catch (error) {
    return {
      ok: false,
      problems: [{ file, key: "", message: `cannot read the YAML: ${(error as Error).message}` }],
    };
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    return {
      ok: false,
      problems: [
        {
          file,
          line: 1,
          column: 1,
          key: "",
          // The text is not shown: a file that is not a config may hold anything.
          message: `not a YAML map (expected a map with a tasks: key), got ${Array.isArray(data) ? "a list" : typeof data === "string" ? "text" : "a scalar"}`,
        },
      ],
    };
  }
  // docket's spellings (and baton's earlier ones) are read as baton's (docket.ts).
  const converted = fromDocket(data as Record<string, unknown>).data;
  const parsed = configSchema.safeParse(converted);
  if (!parsed.success) {
    const problems = parsed.error.issues.flatMap((issue) =>
      issueProblems(issue, doc, counter, file, converted),
    );
    problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
    return { ok: false, problems };
  }
  return { ok: true, value: parsed.data };
}

/** The 1-based line of `tasks.<name>` in a config text (for messages and `describe`). */
function taskLines(text: string): Map<string, number> {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter });
  const out = new Map<string, number>();
  const tasks = doc.get("tasks", true);
  if (isMap(tasks)) {
    for (const pair of tasks.items) {
      const range = (pair.key as YamlNode | null)?.range;
      if (isScalar(pair.key) && range !== undefined && range !== null) {
        out.set(String(pair.key.value), counter.linePos(range[0]).line);
      }
    }
  }
  return out;
}

/**
 * Why a config file is not the caller's own to read (undefined when it is, or is missing): a
 * symlink that leads out of its folder, or a file owned by another user than the caller and root.
 * Either way the daemon would run what it says as the caller (D80).
 */
function notOwnFile(file: string): string | undefined {
  let link;
  try {
    link = lstatSync(file);
  } catch {
    return undefined;
  }
  if (link.isSymbolicLink()) {
    let target: string;
    try {
      target = realpathSync(file);
    } catch {
      return undefined;
    }
    const folder = realpathSync(dirname(file));
    if (!target.startsWith(`${folder}/`))
      return "not read: it is a symlink to a file outside its folder (replace it with the file itself)";
  }
  return otherOwner(file, "its commands");
}

/** Read and validate one config file; a missing file is an empty config. */
export function readConfigFile(file: string): Checked<{ spec: ConfigSpec; text: string } | undefined> {
  const refused = notOwnFile(file);
  if (refused !== undefined) return { ok: false, problems: [{ file, key: "", message: refused }] };
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { ok: true, value: undefined };
    return { ok: false, problems: [{ file, key: "", message: `cannot read: ${(error as Error).message}` }] };
  }
  const parsed = parseConfig(text, file);
  return parsed.ok ? { ok: true, value: { spec: parsed.value, text } } : parsed;
}

/** Plugin task modules in a folder: name (file name without extension) → path. */
export function pluginFiles(dir: string): Map<string, string> {
  const found = new Map<string, string>();
  let entries: string[];
  try {
    entries = readdirSync(dir).sort();
  } catch {
    return found;
  }
  for (const entry of entries) {
    const ext = extname(entry);
    if (!PLUGIN_EXTENSIONS.includes(ext) || entry.endsWith(".d.ts")) continue;
    const name = basename(entry, ext);
    if (!TASK_NAME.test(name) || found.has(name)) continue;
    try {
      if (!statSync(join(dir, entry)).isFile()) continue;
    } catch {
      continue;
    }
    found.set(name, join(dir, entry));
  }
  return found;
}

function tasksOf(
  file: string,
  read: { spec: ConfigSpec; text: string } | undefined,
  scope: TaskScope,
  root: string,
  project: string | null,
  pluginDir: string,
  problems: ConfigProblem[],
): TaskDef[] {
  const out: TaskDef[] = [];
  const lines = read === undefined ? new Map<string, number>() : taskLines(read.text);
  for (const [name, spec] of Object.entries(read?.spec.tasks ?? {})) {
    const line = lines.get(name);
    out.push({
      name,
      scope,
      file,
      ...(line === undefined ? {} : { line }),
      root,
      project,
      spec,
      kind: spec.plugin === undefined ? "command" : "plugin",
    });
  }
  for (const [name, module] of pluginFiles(pluginDir)) {
    const declared = out.find((t) => t.name === name);
    if (declared !== undefined) {
      problems.push({
        file,
        ...(declared.line === undefined ? {} : { line: declared.line, column: 3 }),
        key: `tasks.${name}`,
        message: `the task '${name}' is defined here and by the plugin module ${module}: rename one`,
      });
      continue;
    }
    out.push({ name, scope, file: module, root, project, spec: { plugin: module }, kind: "plugin" });
  }
  return out;
}

/**
 * Load the tasks a caller sees: the project's `baton.yaml` and `.baton/tasks/`, then the personal
 * `$BATON_HOME/config.yaml` and `$BATON_HOME/tasks/`. A project task shadows a personal one of the
 * same name. Any problem in either file fails the whole load: a broken config runs nothing.
 */
export function loadTaskConfig(cwd: string, env: NodeJS.ProcessEnv = process.env): Checked<TaskConfig> {
  const { root, projectFile, personalFile } = configPaths(cwd, env);
  const problems: ConfigProblem[] = [];
  const files: string[] = [];
  const project = readConfigFile(projectFile);
  const personal =
    resolve(personalFile) === resolve(projectFile)
      ? { ok: true as const, value: undefined }
      : readConfigFile(personalFile);
  if (!project.ok) problems.push(...project.problems);
  if (!personal.ok) problems.push(...personal.problems);
  if (project.ok && project.value !== undefined) files.push(projectFile);
  if (personal.ok && personal.value !== undefined) files.push(personalFile);
  const home = homedir();
  const projectTasks = project.ok
    ? tasksOf(projectFile, project.value, "project", root, root, join(root, PLUGIN_DIR), problems)
    : [];
  const personalTasks = personal.ok
    ? tasksOf(
        personalFile,
        personal.value,
        "personal",
        home,
        null,
        join(dirname(personalFile), "tasks"),
        problems,
      )
    : [];
  if (problems.length > 0) return { ok: false, problems };
  const names = new Set(projectTasks.map((t) => t.name));
  const tasks = [...projectTasks, ...personalTasks.filter((t) => !names.has(t.name))];
  return { ok: true, value: { root, projectFile, personalFile, files, tasks } };
}

/** Like {@link loadTaskConfig}, throwing CONFIG_INVALID. */
export function requireTaskConfig(cwd: string, env: NodeJS.ProcessEnv = process.env): TaskConfig {
  const loaded = loadTaskConfig(cwd, env);
  if (!loaded.ok) throw configError(loaded.problems, findProject(cwd));
  return loaded.value;
}

/** The named task, or NOT_FOUND listing what exists. */
export function findTask(config: TaskConfig, name: string): TaskDef {
  const task = config.tasks.find((t) => t.name === name);
  if (task === undefined) {
    const known = config.tasks.map((t) => t.name);
    const where = existsSync(config.projectFile)
      ? displayPath(config.projectFile, config.root)
      : "no baton.yaml here";
    const close = known
      .map((k) => ({ k, d: editDistance(k, name) }))
      .filter((x) => x.d <= Math.max(2, Math.floor(name.length / 3)))
      .sort((a, b) => a.d - b.d)[0];
    throw new BatonError(
      "NOT_FOUND",
      `no task '${name}' (${where}; known: ${known.length === 0 ? "none" : known.join(", ")})${close === undefined ? "" : `; did you mean '${close.k}'?`}`,
      { details: { task: name, known } },
    );
  }
  return task;
}
