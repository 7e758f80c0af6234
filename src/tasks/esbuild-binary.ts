/**
 * The native binary an esbuild package would run, found and checked before that package is
 * imported, then pinned (D136). esbuild's lib/main.js finds its binary itself, by a node_modules
 * walk of its own that climbs above the project, so D122's check of the package's code does not
 * cover it.
 */
import { existsSync, realpathSync } from "node:fs";
import { createRequire } from "node:module";
import { arch } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { BatonError } from "../core/errors.js";
import { untrustedModule } from "./module-trust.js";

/** esbuild's platform package and the binary's path in it (lib/npm/node-platform.ts, esbuild 0.25). */
function platformBinary(): { pkg: string; subpath: string } {
  const pkg = `@esbuild/${process.platform}-${arch()}`;
  return { pkg, subpath: process.platform === "win32" ? "esbuild.exe" : "bin/esbuild" };
}

/**
 * The binary the esbuild whose lib/main.js is `main` would run, in esbuild's order: a usable
 * ESBUILD_BINARY_PATH (set, not /usr/bin/esbuild, existing), else the platform package resolved
 * from esbuild's own folder, else the binary its install script downloaded beside lib/main.js.
 * undefined when there is none (esbuild would fail too).
 */
function esbuildBinary(main: string, env: NodeJS.ProcessEnv): { file: string; from: string } | undefined {
  const given = env.ESBUILD_BINARY_PATH;
  if (given && given !== "/usr/bin/esbuild" && existsSync(given))
    return { file: given, from: "ESBUILD_BINARY_PATH" };
  const { pkg, subpath } = platformBinary();
  try {
    return { file: createRequire(main).resolve(`${pkg}/${subpath}`), from: pkg };
  } catch (error) {
    // Where the plugin import guard (D128) is installed, it refuses an untrusted package as it resolves.
    if ((error as { code?: unknown }).code === "CONFIG_INVALID") throw error;
    const downloaded = join(
      dirname(main),
      `downloaded-${pkg.replace("/", "-")}-${subpath.split("/").pop()!}`,
    );
    return existsSync(downloaded) ? { file: downloaded, from: "esbuild's download" } : undefined;
  }
}

/**
 * Import the esbuild package at `main` with its binary pinned: the binary it would run is checked as
 * D122 checks modules (it and every folder above it the caller's or root's), and its real path is
 * handed to esbuild in ESBUILD_BINARY_PATH, which esbuild reads once, when imported. A planted
 * binary is CONFIG_INVALID naming it and its owner; no binary at all is INVALID_INPUT.
 */
export async function importPinnedEsbuild(main: string, file: string): Promise<Record<string, unknown>> {
  let found;
  try {
    found = esbuildBinary(main, process.env);
  } catch (error) {
    throw new BatonError(
      "CONFIG_INVALID",
      `${file} is TypeScript, and its esbuild binary: ${(error as Error).message}`,
    );
  }
  if (found === undefined)
    throw new BatonError(
      "INVALID_INPUT",
      `${file} is TypeScript, and its esbuild (${main}) has no binary for this platform (${platformBinary().pkg}): reinstall esbuild in the project without --omit=optional`,
    );
  const refused = untrustedModule(found.file, "esbuild's binary");
  if (refused !== undefined)
    throw new BatonError(
      "CONFIG_INVALID",
      `${file} is TypeScript, and its esbuild binary (${found.from}) ${refused}`,
    );
  const pinned = realpathSync(found.file);
  const before = process.env.ESBUILD_BINARY_PATH;
  process.env.ESBUILD_BINARY_PATH = pinned;
  try {
    return (await import(pathToFileURL(main).href)) as Record<string, unknown>;
  } finally {
    if (before === undefined) delete process.env.ESBUILD_BINARY_PATH;
    else process.env.ESBUILD_BINARY_PATH = before;
  }
}
