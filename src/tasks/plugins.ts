/**
 * Plugin tasks: a JavaScript or TypeScript module (in `.baton/tasks/`, at a path named by
 * `plugin:`, or an npm package) exporting a task definition. A module is imported only when the
 * task is described or run, never to list tasks. Runs happen in a child process (the plugin host,
 * `baton task plugin-host`), so a plugin that hangs or crashes is supervised like any command.
 */
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, extname, isAbsolute, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { z } from "zod";
import { BatonError, InvalidInputError } from "../core/errors.js";
import { packageRoot } from "../store/sql-files.js";
import type { TaskDef } from "./config.js";

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
 * @example
 * export default {
 *   description: "Say hello",
 *   inputs: z.object({ name: z.string() }),
 *   async run({ inputs }) { return { summary: `hello ${inputs.name}` }; },
 * };
 */
export interface PluginTask {
  name?: string;
  description?: string;
  inputs?: SchemaLike;
  outputs?: SchemaLike;
  requiredEnv?: string[];
  network?: boolean;
  destructive?: boolean;
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
    } catch {
      // not there: try the next
    }
  }
  return undefined;
}

/**
 * Compile a TypeScript plugin with esbuild (the project's, else baton's own). `zod` imports
 * resolve to the project's zod when it has one, else to baton's, so a scaffolded plugin runs in a
 * project that installed nothing.
 */
async function importTypeScript(file: string): Promise<unknown> {
  let esbuild: typeof import("esbuild");
  try {
    const where = resolveFor(file, "esbuild");
    const mod = (await import(where === undefined ? "esbuild" : pathToFileURL(where).href)) as {
      default?: typeof import("esbuild");
    } & typeof import("esbuild");
    esbuild = typeof mod.build === "function" ? mod : mod.default!;
  } catch {
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
            try {
              createRequire(file).resolve(args.path);
              return undefined; // the project's own zod: left external
            } catch {
              const own = ownModule(args.path);
              return own === undefined ? undefined : { path: own, external: true };
            }
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
  return import(pathToFileURL(out).href);
}

/** Import a plugin module and return its task definition (INVALID_INPUT when it exports none). */
export async function loadPlugin(file: string): Promise<PluginTask> {
  let mod: Record<string, unknown>;
  try {
    mod = (
      [".ts", ".mts"].includes(extname(file))
        ? await importTypeScript(file)
        : await import(pathToFileURL(file).href)
    ) as Record<string, unknown>;
  } catch (error) {
    if (error instanceof BatonError) throw error;
    throw new InvalidInputError(`cannot load the plugin task ${file}: ${(error as Error).message}`);
  }
  const def = (mod.default ?? mod.task) as Partial<PluginTask> | undefined;
  if (def === undefined || typeof def !== "object" || typeof def.run !== "function") {
    throw new InvalidInputError(
      `${file} exports no task: expected \`export default { description, inputs, run(ctx) {…} }\``,
    );
  }
  return def as PluginTask;
}

/** `--input` strings as values: JSON when they parse (numbers, booleans, objects), else strings. */
export function looseInputs(given: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(given)) {
    try {
      out[k] = JSON.parse(v) as unknown;
    } catch {
      out[k] = v;
    }
  }
  return out;
}

/** Check inputs against the plugin's schema; the parsed value, or INVALID_INPUT naming the field. */
export function checkPluginInputs(
  name: string,
  plugin: PluginTask,
  inputs: Record<string, unknown>,
): Record<string, unknown> {
  if (plugin.inputs === undefined) return inputs;
  const parsed = plugin.inputs.safeParse(inputs);
  if (!parsed.success) {
    const issue = parsed.error?.issues?.[0];
    const where =
      issue === undefined || issue.path.length === 0 ? "" : `${issue.path.map(String).join(".")}: `;
    throw new InvalidInputError(`task '${name}': input ${where}${issue?.message ?? "invalid"}`);
  }
  return (parsed.data ?? inputs) as Record<string, unknown>;
}

/** A plugin schema as JSON Schema, when it is a zod 4 schema (else nothing). */
export function schemaJson(schema: SchemaLike | undefined): Record<string, unknown> | undefined {
  if (schema === undefined) return undefined;
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
  const plugin = await loadPlugin(file);
  const raw = JSON.parse(env.BATON_INPUTS_JSON ?? "{}") as Record<string, unknown>;
  const inputs = checkPluginInputs(name, plugin, raw);
  const missing = (plugin.requiredEnv ?? []).filter((v) => env[v] === undefined);
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
  if (!dryRun && plugin.outputs !== undefined) {
    const checked = plugin.outputs.safeParse(result);
    if (!checked.success) {
      log(
        `task '${name}': the result does not match its outputs schema: ${checked.error?.issues?.[0]?.message ?? ""}`,
      );
      return 1;
    }
  }
  write(`${JSON.stringify(result ?? null)}\n`);
  return 0;
}
