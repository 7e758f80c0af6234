/**
 * Plugin tasks: a JavaScript or TypeScript module (in `.baton/tasks/`, at a path named by
 * `plugin:`, or an npm package) exporting a task definition. A module is imported only when the
 * task is described or run, never to list tasks. Runs happen in a child process (the plugin host,
 * `baton task plugin-host`), so a plugin that hangs or crashes is supervised like any command.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, extname, isAbsolute, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { z } from "zod";
import { BatonError, InvalidInputError } from "../core/errors.js";
import { packageRoot } from "../store/sql-files.js";
import type { ConfigProblem, TaskDef } from "./config.js";
import { configError, editDistance, shownKey, yamlPath } from "./config.js";
import { otherOwner, untrustedModule } from "./module-trust.js";
import { importPinnedEsbuild } from "./esbuild-binary.js";
import type { InputValue } from "./runner.js";
import { inputsJsonSchema, resolveInputs } from "./runner.js";
import type { InputSpec } from "./schema.js";
import { taskSchema } from "./schema.js";

/** What a plugin's `run` and `dryRun` receive. */
export interface PluginContext {
  runId: string;
  inputs: Record<string, unknown>;
  /** The task's `with:` settings from baton.yaml. */
  with: Record<string, unknown>;
  env: NodeJS.ProcessEnv;
  /** A line to the run's log (stderr). */
  log(line: string): void;
}

/** A zod-like schema (the plugin's own copy of zod is fine). */
interface SchemaLike {
  safeParse(value: unknown): {
    success: boolean;
    data?: unknown;
    error?: { issues?: { path: PropertyKey[]; message: string }[] };
  };
}

/**
 * The definition a plugin module exports (default export, or `export const task`).
 *
 * `inputs` is a zod schema, or (docket's way, no dependency needed) a map of input name to a
 * description or to `{description, type, required, default, enum, pattern}` as in baton.yaml.
 * `outputs` is a zod schema or a map of result field to description.
 *
 * @example
 * export default {
 *   description: "Say hello",
 *   inputs: { name: { description: "who to greet", default: "world" } },
 *   outputs: { summary: "the greeting" },
 *   async run({ inputs }) { return { summary: `hello ${inputs.name}` }; },
 * };
 */
export interface PluginTask {
  name?: string;
  description?: string;
  inputs?: SchemaLike | Record<string, InputSpec>;
  outputs?: SchemaLike | Record<string, string>;
  requiredEnv?: string[];
  network?: boolean;
  destructive?: boolean;
  run(ctx: PluginContext): unknown;
  dryRun?(ctx: PluginContext): unknown;
}

/** A plugin definition after its shape was checked at load. */
export interface LoadedPlugin {
  file: string;
  description?: string;
  /** A schema of the plugin's own, or docket-style fields checked like a baton.yaml task's inputs. */
  inputs?: { schema: SchemaLike } | { fields: Record<string, InputSpec> };
  outputs?: { schema: SchemaLike } | { fields: Record<string, string> };
  requiredEnv: string[];
  network: boolean;
  destructive: boolean;
  run(ctx: PluginContext): unknown;
  dryRun?(ctx: PluginContext): unknown;
}

/** Where a plugin task's module is: a path (relative to its config file) or a package name. */
export function pluginModulePath(def: TaskDef): string {
  const ref = def.spec.plugin!;
  if (isAbsolute(ref)) return ref;
  if (ref.startsWith(".")) return resolve(dirname(def.file), ref);
  return createRequire(join(def.root, "package.json")).resolve(ref);
}

/** The plugin host's command line, run by the supervisor like any command. */
export function pluginHostArgv(def: TaskDef, dryRun: boolean): string[] {
  return [
    process.execPath,
    join(packageRoot(), "bin", "baton.js"),
    "task",
    "plugin-host",
    pluginModulePath(def),
    def.name,
    ...(dryRun ? ["--dry-run"] : []),
  ];
}

/** The ESM URL of one of baton's own dependencies. */
function ownModule(specifier: string): string | undefined {
  try {
    return import.meta.resolve(specifier);
  } catch {
    return undefined;
  }
}

/** A package as the project sees it (its node_modules first), else baton's own copy. */
function resolveFor(file: string, specifier: string): string | undefined {
  for (const base of [file, join(packageRoot(), "package.json")]) {
    try {
      return createRequire(base).resolve(specifier);
    } catch (error) {
      // Not there: try the next. One the guard refused (D128) is not replaced by baton's (D122).
      if (refusedByGuard(error)) throw error;
    }
  }
  return undefined;
}

/** Whether `error` is the plugin import guard's refusal (D128), a plain Error with its code. */
function refusedByGuard(error: unknown): error is Error {
  return (error as { code?: unknown } | undefined)?.code === "CONFIG_INVALID";
}

/**
 * Compile a TypeScript plugin with esbuild (the project's, else baton's own). `zod` imports
 * resolve to the project's zod when it has one, else to baton's, so a scaffolded plugin runs in a
 * project that installed nothing.
 */
async function importTypeScript(file: string, probe: boolean): Promise<unknown> {
  let esbuild: typeof import("esbuild");
  // Only an esbuild found on disk (the project's, else next to baton): a bare import("esbuild")
  // here would be bundled into the CLI, where esbuild's CommonJS API fails on `__filename`. Either
  // is imported only when it and the folders above it are the caller's or root's (D122).
  const where = resolveFor(file, "esbuild");
  const refused = where === undefined ? undefined : untrustedModule(where, "esbuild's code");
  if (refused !== undefined)
    throw new BatonError("CONFIG_INVALID", `${file} is TypeScript, and its esbuild ${refused}`);
  try {
    if (where === undefined) throw new Error("no esbuild");
    // esbuild then finds its native binary by a walk of its own: checked and pinned too (D136).
    const mod = (await importPinnedEsbuild(where, file)) as {
      default?: typeof import("esbuild");
    } & typeof import("esbuild");
    esbuild = typeof mod.build === "function" ? mod : mod.default!;
  } catch (error) {
    if (error instanceof BatonError) throw error;
    throw new BatonError(
      "INVALID_INPUT",
      `${file} is TypeScript: install esbuild in the project (npm i -D esbuild) or write the task in JavaScript`,
    );
  }
  const source = await esbuild.build({
    entryPoints: [file],
    bundle: true,
    packages: "external",
    platform: "node",
    format: "esm",
    write: false,
    logLevel: "silent",
    plugins: [
      {
        name: "baton-zod",
        setup(build) {
          build.onResolve({ filter: /^zod(\/.*)?$/ }, (args) => {
            let zod: string;
            try {
              zod = createRequire(file).resolve(args.path);
            } catch (error) {
              if (refusedByGuard(error)) return { errors: [{ text: error.message }] };
              const own = ownModule(args.path);
              return own === undefined ? undefined : { path: own, external: true };
            }
            // The project's own zod, left external: imported with the plugin, so trusted like it (D122).
            const refused = untrustedModule(zod, "its code");
            return refused === undefined ? undefined : { errors: [{ text: `zod ${refused}` }] };
          });
        },
      },
    ],
  });
  const code = source.outputFiles[0]!.text;
  // Next to the module, so the plugin's own node_modules resolve.
  const cacheDir = join(dirname(file), ".cache");
  mkdirSync(cacheDir, { recursive: true });
  const hash = createHash("sha256").update(code).digest("hex").slice(0, 12);
  const out = join(cacheDir, `${basename(file, extname(file))}.${hash}.mjs`);
  writeFileSync(out, code);
  if (probe) await probeImport(pathToFileURL(out).href);
  return import(pathToFileURL(out).href);
}

/** The keys a plugin definition may have: baton's, and docket's spellings of the same things. */
const PLUGIN_KEYS = [
  "name",
  "description",
  "inputs",
  "outputs",
  "requiredEnv",
  "network",
  "destructive",
  "run",
  "dryRun",
  // docket's spellings (a docket task class's attributes): read as the ones above.
  "required_env",
  "dry_run",
  "schema",
] as const;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function isSchemaLike(value: unknown): value is SchemaLike {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { safeParse?: unknown }).safeParse === "function"
  );
}

function isPlainMap(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "function") return "a function";
  if (typeof value === "string") return `the string ${JSON.stringify(value.slice(0, 40))}`;
  if (typeof value === "object") return "an object";
  if (typeof value === "symbol") return "a symbol";
  if (typeof value === "bigint") return `bigint ${value.toString()}`;
  return `${typeof value} ${JSON.stringify(value) ?? "undefined"}`;
}

/** Zod issues about a plugin's fields as problems naming the key. */
function fieldProblems(
  file: string,
  prefix: string,
  issues: readonly z.core.$ZodIssue[],
  data: unknown,
): ConfigProblem[] {
  return issues.flatMap((issue): ConfigProblem[] => {
    const { key: path, item } = yamlPath([prefix, ...issue.path.slice(1)]);
    const said = (message: string) => (item === undefined ? message : `${item}: ${message}`);
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => ({
        file,
        key: `${path}.${shownKey(key)}`,
        message: `unknown key '${shownKey(key)}' (expected one of: description, type, required, default, enum, pattern)`,
      }));
    }
    if (issue.code === "invalid_union") {
      // An input given as a map: what is wrong inside it (the string branch's "expected string" is not news).
      const inner = issue.errors.find((branch) => branch.some((i) => i.path.length > 0));
      if (inner !== undefined)
        return fieldProblems(
          file,
          prefix,
          inner.map((i) => ({ ...i, path: [...issue.path, ...i.path] })),
          data,
        );
      return [
        {
          file,
          key: path,
          message:
            "expected a description string or a map with description, type, required, default, enum, pattern",
        },
      ];
    }
    if (issue.code === "invalid_value") {
      let got: unknown = data;
      for (const seg of issue.path) got = isPlainMap(got) ? got[String(seg)] : undefined;
      return [
        {
          file,
          key: path,
          message: said(
            `expected ${issue.values.map((v) => JSON.stringify(v)).join(" | ")}, got ${kindOf(got)}`,
          ),
        },
      ];
    }
    return [{ file, key: path, message: said(issue.message) }];
  });
}

/**
 * Check the shape of a plugin's exported definition: every problem, each naming the key (the
 * definition is whatever `export default` or `export const task` holds).
 */
function checkDefinition(
  file: string,
  def: Record<string, unknown>,
): { problems: ConfigProblem[]; plugin?: LoadedPlugin } {
  const problems: ConfigProblem[] = [];
  const problem = (key: string, message: string) => problems.push({ file, key, message });
  for (const key of Object.keys(def)) {
    if ((PLUGIN_KEYS as readonly string[]).includes(key)) continue;
    const close = PLUGIN_KEYS.map((k) => ({ k, d: editDistance(k, key) }))
      .filter((x) => x.d <= Math.max(2, Math.floor(key.length / 3)))
      .sort((a, b) => a.d - b.d)[0];
    problem(
      shownKey(key),
      `unknown key '${shownKey(key)}'${close === undefined ? "" : `; did you mean '${close.k}'?`} (expected one of: ${PLUGIN_KEYS.join(", ")})`,
    );
  }
  for (const [baton, docket] of [
    ["requiredEnv", "required_env"],
    ["dryRun", "dry_run"],
  ] as const) {
    if (def[baton] !== undefined && def[docket] !== undefined)
      problem(docket, `give '${baton}' or docket's '${docket}', not both`);
  }
  for (const key of ["name", "description"] as const)
    if (def[key] !== undefined && typeof def[key] !== "string")
      problem(key, `expected a string, got ${kindOf(def[key])}`);
  for (const key of ["network", "destructive"] as const)
    if (def[key] !== undefined && typeof def[key] !== "boolean")
      problem(key, `expected true or false, got ${kindOf(def[key])}`);
  if (typeof def.run !== "function")
    problem(
      "run",
      def.run === undefined
        ? "missing: expected a function run(ctx)"
        : `expected a function run(ctx), got ${kindOf(def.run)}`,
    );
  const dryKey = def.dryRun !== undefined ? "dryRun" : "dry_run";
  if (def[dryKey] !== undefined && typeof def[dryKey] !== "function")
    problem(dryKey, `expected a function ${dryKey}(ctx), got ${kindOf(def[dryKey])}`);
  const envKey = def.requiredEnv !== undefined ? "requiredEnv" : "required_env";
  const env = def[envKey];
  if (env !== undefined) {
    if (!Array.isArray(env))
      problem(envKey, `expected a list of environment variable names, got ${kindOf(env)}`);
    else
      env.forEach((name, i) => {
        if (typeof name !== "string" || !ENV_NAME.test(name))
          problem(
            envKey,
            `item ${i + 1}: expected an environment variable name (letters, digits, _), got ${kindOf(name)}`,
          );
      });
  }

  // inputs: a schema with safeParse, or docket-style fields (plus docket's `schema` with their types).
  let inputs: LoadedPlugin["inputs"];
  if (isSchemaLike(def.inputs)) {
    inputs = { schema: def.inputs };
    if (def.schema !== undefined)
      problem("schema", "a zod `inputs` schema already checks the inputs: drop `schema`");
  } else if (def.inputs !== undefined && !isPlainMap(def.inputs)) {
    problem(
      "inputs",
      `expected a zod schema or a map of input name to description (docket's form), got ${kindOf(def.inputs)}`,
    );
  } else if (def.inputs !== undefined || def.schema !== undefined) {
    const fields: Record<string, unknown> = {};
    for (const [name, spec] of Object.entries(def.inputs ?? {})) fields[name] = spec;
    if (def.schema !== undefined && !isPlainMap(def.schema)) {
      problem(
        "schema",
        `expected a map of input name to {type, required, default, enum, pattern}, got ${kindOf(def.schema)}`,
      );
    } else {
      for (const [name, spec] of Object.entries(def.schema ?? {})) {
        const described = fields[name];
        fields[name] =
          isPlainMap(spec) && (typeof described === "string" || described === undefined)
            ? { ...(described === undefined ? {} : { description: described }), ...spec }
            : spec;
      }
    }
    const checked = taskSchema.safeParse({ plugin: file, inputs: fields });
    if (checked.success) inputs = { fields: checked.data.inputs ?? {} };
    else
      problems.push(
        ...fieldProblems(
          file,
          def.schema !== undefined && def.inputs === undefined ? "schema" : "inputs",
          checked.error.issues,
          { inputs: fields },
        ),
      );
  }

  let outputs: LoadedPlugin["outputs"];
  if (isSchemaLike(def.outputs)) outputs = { schema: def.outputs };
  else if (def.outputs !== undefined) {
    if (!isPlainMap(def.outputs)) {
      problem(
        "outputs",
        `expected a zod schema or a map of result field to description, got ${kindOf(def.outputs)}`,
      );
    } else {
      const bad = Object.entries(def.outputs).filter(([, v]) => typeof v !== "string");
      for (const [field, v] of bad)
        problem(`outputs.${field}`, `expected a description string, got ${kindOf(v)}`);
      if (bad.length === 0) outputs = { fields: def.outputs as Record<string, string> };
    }
  }
  if (problems.length > 0) return { problems };
  const dryRun = (def.dryRun ?? def.dry_run) as LoadedPlugin["dryRun"];
  return {
    problems,
    plugin: {
      file,
      ...(typeof def.description === "string" ? { description: def.description } : {}),
      ...(inputs === undefined ? {} : { inputs }),
      ...(outputs === undefined ? {} : { outputs }),
      requiredEnv: [...new Set((env ?? []) as string[])].sort(),
      network: def.network === true,
      destructive: def.destructive === true,
      run: def.run as LoadedPlugin["run"],
      ...(dryRun === undefined ? {} : { dryRun }),
    },
  };
}

/** The line of a syntax error in a JavaScript module (`node --check` names it; import() does not). */
function syntaxErrorLine(file: string): number | undefined {
  const checked = spawnSync(process.execPath, ["--check", file], { encoding: "utf8", timeout: 10_000 });
  const first = (checked.stderr ?? "").split("\n")[0] ?? "";
  const match = /:(\d+)$/.exec(first);
  return first.startsWith(file) && match !== null ? Number(match[1]) : undefined;
}

/** How long a plugin module may take to import (its top-level code) before it counts as broken. */
export const PLUGIN_LOAD_TIMEOUT_MS = 5000;

/** The plugin import guard, built on its own (src/tasks/plugin-guard.ts, D128). */
function guardFile(): string {
  return join(packageRoot(), "dist", "plugin-guard.mjs");
}

let guarded: Promise<void> | undefined;

/**
 * Install the plugin import guard in this process, once, before the first plugin is imported: a
 * plugin's own bare imports found by a node_modules walk are held to D122's rule (D128).
 */
function guardImports(): Promise<void> {
  guarded ??= (import(pathToFileURL(guardFile()).href) as Promise<typeof import("./plugin-guard.js")>).then(
    (g) => g.guard(packageRoot()),
  );
  return guarded;
}

/** Modules that finished loading in a worker in this process (by URL, which names the version). */
const probed = new Set<string>();

type ProbeOutcome = "loaded" | "failed" | "hung";

/**
 * How long a probe thread may take to install the import guard (its own module hooks thread)
 * before the modules' time starts: past it, the probe gives no verdict and the real import decides.
 */
const PROBE_SETUP_TIMEOUT_MS = 30_000;

/** The probe thread, ready (its import guard installed), while modules wait for it. */
let prober: Promise<Worker | undefined> | undefined;
/** Probes asked for and not answered: the thread ends when none is left. */
let waiting = 0;
/** Probes run one after another in the thread; this is the last one asked for. */
let lastProbe: Promise<unknown> = Promise.resolve();

/** Start a probe thread and wait until its import guard is installed (undefined: it never was). */
function startProber(): Promise<Worker | undefined> {
  const worker = new Worker(
    // A thread has module hooks of its own: the guard is installed in it before any module is
    // imported. The port listened to keeps the thread alive while a top-level await is pending.
    `const { parentPort, workerData } = require("node:worker_threads");
import(workerData.guard)
  .then((g) => g.guard(workerData.root))
  .then(() => {
    parentPort.on("message", (url) =>
      import(url).then(() => parentPort.postMessage("loaded"), () => parentPort.postMessage("failed")),
    );
    parentPort.postMessage("ready");
  }, () => parentPort.postMessage("unguarded"));`,
    {
      eval: true,
      stdout: true,
      stderr: true,
      workerData: { guard: pathToFileURL(guardFile()).href, root: packageRoot() },
    },
  );
  worker.unref(); // a stuck probe never keeps the process alive
  worker.on("error", () => undefined);
  return new Promise((settle) => {
    const done = (ready: boolean) => {
      clearTimeout(timer);
      worker.off("message", onMessage);
      worker.off("exit", onExit);
      if (!ready) void worker.terminate();
      settle(ready ? worker : undefined);
    };
    const onMessage = (message: string) => done(message === "ready");
    const onExit = () => done(false);
    const timer = setTimeout(() => done(false), PROBE_SETUP_TIMEOUT_MS);
    worker.on("message", onMessage);
    worker.once("exit", onExit);
  });
}

/** Import one module in the probe thread, within {@link PLUGIN_LOAD_TIMEOUT_MS}. */
async function probeIn(url: string): Promise<ProbeOutcome> {
  prober ??= startProber();
  const worker = await prober;
  if (worker === undefined) {
    prober = undefined;
    return "failed";
  }
  return new Promise<ProbeOutcome>((settle) => {
    const done = (outcome: ProbeOutcome) => {
      clearTimeout(timer);
      worker.off("message", done);
      worker.off("exit", onExit);
      // A module that did not answer may be holding the thread (an endless loop): the next
      // module gets a thread of its own.
      if (outcome === "hung") {
        prober = undefined;
        void worker.terminate();
      }
      settle(outcome);
    };
    // Gone without a word: the module exited the thread.
    const onExit = () => done("hung");
    const timer = setTimeout(() => done("hung"), PLUGIN_LOAD_TIMEOUT_MS);
    worker.on("message", done);
    worker.once("exit", onExit);
    worker.postMessage(url);
  });
}

/**
 * Import one module in the probe thread, after the probes asked for before it: one thread (and
 * one module hooks thread for its import guard, D128) serves every probe of a command, and a
 * module that never finishes costs its own 5 s and a new thread for the modules after it. The
 * thread ends once no probe waits.
 */
function probeOne(url: string): Promise<ProbeOutcome> {
  waiting++;
  const outcome = lastProbe.then(() => probeIn(url));
  lastProbe = outcome
    .finally(() => {
      if (--waiting > 0 || prober === undefined) return;
      const ending = prober;
      prober = undefined;
      void ending.then((worker) => worker?.terminate());
    })
    .catch(() => undefined);
  return outcome;
}

/**
 * Import a module in a worker thread first, so a module whose top-level code never finishes (an
 * endless loop blocks the thread that imports it; a top-level await that never settles) is
 * reported within {@link PLUGIN_LOAD_TIMEOUT_MS} instead of hanging the command (D112). Errors
 * other than that are left to the real import, which reports them.
 */
async function probeImport(url: string): Promise<void> {
  if (probed.has(url)) return;
  const outcome = await probeOne(url);
  if (outcome === "hung")
    throw new BatonError(
      "CONFIG_INVALID",
      `did not finish loading within ${PLUGIN_LOAD_TIMEOUT_MS / 1000} s (its top-level code never ends)`,
    );
  if (outcome === "loaded") probed.add(url);
}

/**
 * Import a module, a fresh copy when the file changed (a long-lived daemon sees edits). `probe`:
 * import it in a time-limited worker first (every inspection does; the plugin host, whose run
 * has the task's own timeout, does not).
 */
async function importModule(file: string, probe: boolean): Promise<Record<string, unknown>> {
  await guardImports();
  if ([".ts", ".mts"].includes(extname(file)))
    return (await importTypeScript(file, probe)) as Record<string, unknown>;
  const stamp = statSync(file);
  const url = `${pathToFileURL(file).href}?v=${stamp.mtimeMs}-${stamp.size}`;
  if (probe) await probeImport(url);
  return (await import(url)) as Record<string, unknown>;
}

/**
 * Import a plugin module and check its definition: every problem (syntax error, no export, a key
 * of the wrong shape) naming the file and the key. Empty when the plugin is fine.
 */
export async function checkPlugin(
  file: string,
  probe = true,
): Promise<{ problems: ConfigProblem[]; plugin?: LoadedPlugin }> {
  const refused = otherOwner(file, "its code");
  if (refused !== undefined) return { problems: [{ file, key: "", message: refused }] };
  let mod: Record<string, unknown>;
  try {
    mod = await importModule(file, probe);
  } catch (error) {
    // The guard's refusal (D128) crosses Node's module hooks thread as a plain Error with its code.
    if (error instanceof BatonError || refusedByGuard(error))
      return { problems: [{ file, key: "", message: error.message }] };
    const err = error as Error;
    if (err.name === "SyntaxError" && [".js", ".mjs", ".cjs"].includes(extname(file))) {
      const line = syntaxErrorLine(file);
      return {
        problems: [
          {
            file,
            ...(line === undefined ? {} : { line, column: 1 }),
            key: "",
            message: `syntax error: ${err.message}`,
          },
        ],
      };
    }
    return { problems: [{ file, key: "", message: `cannot load the module: ${err.message}` }] };
  }
  const exported = mod.default ?? mod.task;
  if (exported === undefined) {
    const names = Object.keys(mod).filter((k) => k !== "default");
    return {
      problems: [
        {
          file,
          key: "default",
          message: `no task exported: expected \`export default { description, inputs, run(ctx) {…} }\` (or \`export const task = …\`)${names.length === 0 ? "" : `; it exports ${names.slice(0, 5).join(", ")}`}`,
        },
      ],
    };
  }
  if (!isPlainMap(exported)) {
    return {
      problems: [
        {
          file,
          key: mod.default !== undefined ? "default" : "task",
          message: `expected an object { description, inputs, run(ctx) {…} }, got ${kindOf(exported)}`,
        },
      ],
    };
  }
  return checkDefinition(file, exported);
}

/**
 * Import a plugin module and return its checked definition; CONFIG_INVALID naming the file and
 * the key when it does not load or has the wrong shape (`base`: where paths are shown from).
 */
export async function loadPlugin(file: string, base?: string, probe = true): Promise<LoadedPlugin> {
  const { problems, plugin } = await checkPlugin(file, probe);
  if (plugin === undefined) throw configError(problems, base);
  return plugin;
}

/** Where a task's plugin module is, and its problems when it cannot be found, loaded or checked. */
export async function checkTaskPlugin(
  def: TaskDef,
): Promise<{ problems: ConfigProblem[]; plugin?: LoadedPlugin }> {
  let file: string;
  try {
    file = pluginModulePath(def);
  } catch (error) {
    if (refusedByGuard(error))
      return { problems: [{ file: def.file, key: `tasks.${def.name}.plugin`, message: error.message }] };
    return {
      problems: [
        {
          file: def.file,
          ...(def.line === undefined ? {} : { line: def.line, column: 3 }),
          key: `tasks.${def.name}.plugin`,
          message: `cannot find the plugin module '${def.spec.plugin}': ${(error as Error).message.split("\n")[0]}`,
        },
      ],
    };
  }
  if (!existsSync(file)) {
    return {
      problems: [
        {
          file: def.file,
          ...(def.line === undefined ? {} : { line: def.line, column: 3 }),
          key: `tasks.${def.name}.plugin`,
          message: `no plugin module at ${file}`,
        },
      ],
    };
  }
  const ref = def.spec.plugin!;
  // A package is found by a node_modules walk that climbs above the project (D122).
  const refused = isAbsolute(ref) || ref.startsWith(".") ? undefined : untrustedModule(file, "its code");
  if (refused !== undefined) return { problems: [{ file, key: "", message: refused }] };
  return checkPlugin(file);
}

/** The problems of every plugin task of a config (`config validate` and `doctor` load them all). */
export async function pluginProblems(
  tasks: readonly TaskDef[],
): Promise<{ problems: ConfigProblem[]; broken: string[] }> {
  const plugins = tasks.filter((t) => t.kind === "plugin");
  const checked = await Promise.all(plugins.map((t) => checkTaskPlugin(t)));
  return {
    problems: checked.flatMap((c) => c.problems),
    broken: plugins.filter((_t, i) => checked[i]!.problems.length > 0).map((t) => t.name),
  };
}

/** A task's plugin, checked; CONFIG_INVALID naming the file and the key when it is broken. */
export async function loadTaskPlugin(def: TaskDef): Promise<LoadedPlugin> {
  const { problems, plugin } = await checkTaskPlugin(def);
  if (plugin === undefined) throw configError(problems, def.root);
  return plugin;
}

/** A task definition with its plugin's required environment added (checked before queuing). */
export function withPluginEnv(def: TaskDef, plugin: LoadedPlugin): TaskDef {
  if (plugin.requiredEnv.length === 0) return def;
  return {
    ...def,
    spec: {
      ...def.spec,
      required_env: [...new Set([...(def.spec.required_env ?? []), ...plugin.requiredEnv])],
    },
  };
}

/**
 * `--input` strings as values: JSON when they parse (numbers, booleans, objects), else strings; a
 * number whose text JSON would change (`12345678901234567`, `1.50`, `0.1e-400`) stays the text given,
 * so a schema wanting a number refuses it rather than the run getting another value (D133). Values
 * that are not strings (JSON from MCP, HTTP or the library) are taken as they are.
 */
export function looseInputs(given: Record<string, InputValue>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(given)) {
    if (typeof v !== "string") {
      out[k] = v;
      continue;
    }
    try {
      const parsed = JSON.parse(v) as unknown;
      out[k] = typeof parsed === "number" && String(parsed) !== v ? v : parsed;
    } catch {
      out[k] = v;
    }
  }
  return out;
}

/**
 * Check `--input` strings against the plugin's inputs: its schema (values parsed as JSON when
 * they parse), or its docket-style fields exactly as a baton.yaml task's. INVALID_INPUT naming the field.
 */
export function checkPluginInputs(
  def: TaskDef,
  plugin: LoadedPlugin,
  given: Record<string, InputValue>,
): Record<string, InputValue> {
  const inputs = plugin.inputs;
  if (inputs === undefined) return looseInputs(given) as Record<string, InputValue>;
  if ("fields" in inputs)
    return resolveInputs({ ...def, spec: { ...def.spec, inputs: inputs.fields } }, given);
  const parsed = inputs.schema.safeParse(looseInputs(given));
  if (!parsed.success) {
    const issue = parsed.error?.issues?.[0];
    const where =
      issue === undefined || issue.path.length === 0 ? "" : `${issue.path.map(String).join(".")}: `;
    throw new InvalidInputError(`task '${def.name}': input ${where}${issue?.message ?? "invalid"}`);
  }
  return (parsed.data ?? given) as Record<string, InputValue>;
}

/** A plugin's inputs as JSON Schema (a zod 4 schema's own, or built from docket-style fields). */
export function pluginInputsJson(plugin: LoadedPlugin): Record<string, unknown> {
  const inputs = plugin.inputs;
  if (inputs === undefined) return { type: "object" };
  if ("fields" in inputs) return inputsJsonSchema(inputs.fields);
  return schemaJson(inputs.schema) ?? { type: "object" };
}

/** A plugin's outputs as describe shows them: field → description, or the schema's JSON Schema. */
export function pluginOutputsJson(plugin: LoadedPlugin): Record<string, unknown> | undefined {
  const outputs = plugin.outputs;
  if (outputs === undefined) return undefined;
  if ("fields" in outputs) return outputs.fields;
  return schemaJson(outputs.schema) ?? { type: "object" };
}

/** A plugin schema as JSON Schema, when it is a zod 4 schema (else nothing). */
function schemaJson(schema: SchemaLike): Record<string, unknown> | undefined {
  try {
    return z.toJSONSchema(schema as z.ZodType, { unrepresentable: "any" });
  } catch {
    return undefined;
  }
}

/**
 * The plugin host (inside `baton task plugin-host <module> <name>`): run the plugin's `run` (or
 * `dryRun`) with the inputs of BATON_INPUTS_JSON and print its result as one JSON document.
 * A dry run of a plugin without `dryRun` reports what would run and calls nothing.
 */
export async function hostPlugin(
  file: string,
  name: string,
  dryRun: boolean,
  env: NodeJS.ProcessEnv,
  write: (text: string) => void,
  log: (line: string) => void,
): Promise<number> {
  const plugin = await loadPlugin(file, undefined, false);
  const raw = JSON.parse(env.BATON_INPUTS_JSON ?? "{}") as Record<string, unknown>;
  // The inputs were checked before the run was queued; a schema of the plugin's own parses them
  // again here (its defaults and transforms give the values `run` expects).
  let inputs = raw;
  if (plugin.inputs !== undefined && "schema" in plugin.inputs) {
    const parsed = plugin.inputs.schema.safeParse(raw);
    if (!parsed.success) {
      log(`task '${name}': input ${parsed.error?.issues?.[0]?.message ?? "invalid"}`);
      return 1;
    }
    inputs = (parsed.data ?? raw) as Record<string, unknown>;
  }
  const missing = plugin.requiredEnv.filter((v) => env[v] === undefined);
  if (missing.length > 0) {
    log(`task '${name}' needs environment variable(s) ${missing.join(", ")}`);
    return 1;
  }
  const ctx: PluginContext = {
    runId: env.BATON_RUN_ID ?? "",
    inputs,
    with: JSON.parse(env.BATON_TASK_WITH ?? "{}") as Record<string, unknown>,
    env,
    log,
  };
  let result: unknown;
  if (dryRun) {
    result =
      plugin.dryRun === undefined
        ? {
            summary: `would run plugin task '${name}' (${file}) with ${JSON.stringify(inputs)}`,
            wouldRun: true,
          }
        : await plugin.dryRun(ctx);
  } else {
    result = await plugin.run(ctx);
  }
  if (!dryRun && plugin.outputs !== undefined && "schema" in plugin.outputs) {
    const checked = plugin.outputs.schema.safeParse(result);
    if (!checked.success) {
      log(
        `task '${name}': the result does not match its outputs schema: ${checked.error?.issues?.[0]?.message ?? ""}`,
      );
      return 1;
    }
  }
  write(`${JSON.stringify(result ?? null)}\n`);
  // docket's TaskResult: `{ ok: false, summary }` is a failed run, its summary the reason.
  if (isPlainMap(result) && result.ok === false) {
    log(typeof result.summary === "string" ? result.summary : `task '${name}' returned ok: false`);
    return 1;
  }
  return 0;
}
