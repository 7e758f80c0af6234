/**
 * The plugin import guard (D128): a plugin's own bare imports (`import x from "somepkg"`,
 * `require("somepkg")`) are resolved by Node's node_modules walk, which climbs above the project
 * into folders another local user may own (/tmp/node_modules). Every such import made by code
 * outside baton's own package is held to D122's rule (`untrustedModule`): the module found and
 * every folder above it must be the caller's or root's, else the import fails with
 * CONFIG_INVALID naming the file and its owner, before any of its code runs.
 *
 * Built as its own small file, `dist/plugin-guard.mjs` (scripts/build.mjs), because Node loads a
 * module's resolve hook by URL in a thread of its own (`module.register`, Node 20.6+). `guard()`
 * installs it in the calling thread: the hook for ES module imports, and a wrapper of the
 * CommonJS resolver for `require()` (on Node 20, hooks registered with `register` do not see
 * `require`; `module.registerHooks`, which would, arrives in Node 22.15).
 */
import { createRequire, register } from "node:module";
import type { ResolveHook } from "node:module";
import { isAbsolute, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { untrustedModule } from "./module-trust.js";

/** baton's package root: imports made by its own code and its dependencies are not checked. */
let root: string | undefined;

/** A specifier Node resolves by walking node_modules: not relative, absolute, `#internal` or a URL. */
function isBare(specifier: string): boolean {
  return !/^[./#]/.test(specifier) && !/^[a-zA-Z][a-zA-Z\d+.-]*:/.test(specifier) && !isAbsolute(specifier);
}

/**
 * Why `file`, which `parent` imports as `specifier`, may not be imported (the D122 message), or
 * undefined when it may: imports outside a node_modules folder, or made by baton's own code, are
 * not a walk this guard is about.
 */
export function refusal(specifier: string, file: string, parent: string | undefined): string | undefined {
  if (!isBare(specifier) || !file.includes(`${sep}node_modules${sep}`)) return undefined;
  if (parent === undefined || (root !== undefined && parent.startsWith(`${root}${sep}`))) return undefined;
  const refused = untrustedModule(file, "its code");
  return refused === undefined ? undefined : `${parent} imports '${specifier}' from ${refused}`;
}

function refusedError(message: string): Error {
  // Crosses the hooks thread as a plain Error: the code is what plugins.ts looks for.
  return Object.assign(new Error(message), { code: "CONFIG_INVALID" });
}

/** Called by Node in the hooks thread with `register`'s data. */
export function initialize(data: { root: string }): void {
  root = data.root;
}

/** The ES module resolve hook. */
export const resolve: ResolveHook = async (specifier, context, nextResolve) => {
  const found = await nextResolve(specifier, context);
  if (!found.url.startsWith("file:")) return found;
  const parent = context.parentURL?.startsWith("file:") ? fileURLToPath(context.parentURL) : undefined;
  const why = refusal(specifier, fileURLToPath(found.url), parent);
  if (why !== undefined) throw refusedError(why);
  return found;
};

interface CjsLoader {
  _resolveFilename(
    request: string,
    parent: { filename?: string | null } | undefined,
    ...rest: unknown[]
  ): string;
}

let guarded = false;

/**
 * Install the guard in this thread (once; later calls do nothing). `packageRoot`: baton's own
 * package, whose imports are left alone.
 */
export function guard(packageRoot: string): void {
  if (guarded) return;
  guarded = true;
  root = packageRoot;
  register(import.meta.url, { data: { root: packageRoot } });
  const loader = createRequire(import.meta.url)("node:module") as CjsLoader;
  const resolveFilename = loader._resolveFilename.bind(loader);
  loader._resolveFilename = (request, parent, ...rest) => {
    const file = resolveFilename(request, parent, ...rest);
    const why = refusal(request, file, parent?.filename ?? undefined);
    if (why !== undefined) throw refusedError(why);
    return file;
  };
}
