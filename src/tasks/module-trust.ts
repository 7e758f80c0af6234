/**
 * Whether a module baton is about to import is the caller's to run: its owner, its mode and the
 * folders above it (D108, D122, D128). Only node: imports and src/core/paths.ts, because the
 * plugin import guard (plugin-guard.ts, built as its own small file) runs it in Node's module
 * hooks thread.
 */
import { realpathSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { octal, untrusted } from "../core/paths.js";

/**
 * Why a file is not the caller's own (undefined when it is, or root's): a file another user owns
 * must not be read as config or imported as a plugin, since what it says would run as the caller;
 * nor one that others may write, or that sits in a folder others may write (they could replace
 * it), whoever owns it (D108).
 */
export function otherOwner(file: string, what: string): string | undefined {
  const euid = process.geteuid?.();
  let stat;
  try {
    stat = statSync(file);
  } catch {
    return undefined;
  }
  const why = untrusted(stat, false); // the rule baton's own files follow (D86)
  if (why?.owner !== undefined)
    return `not read: it is owned by uid ${why.owner}, not by you (uid ${euid}) or root; ${what} would run as you`;
  if (why !== undefined)
    return `not read: other users can write it (mode ${octal(stat.mode)}) and ${what} would run as you; check it, then \`chmod go-w ${file}\``;
  return folderProblem(dirname(file), "its folder", what);
}

/** Why `folder`, holding or above what is read, lets another user replace it (as an ancestor: sticky is fine). */
function folderProblem(folder: string, label: string, what: string): string | undefined {
  let held;
  try {
    held = statSync(folder);
  } catch {
    return undefined;
  }
  const euid = process.geteuid?.();
  const around = untrusted(held, true);
  if (around?.owner !== undefined)
    return `not read: ${label} ${folder} is owned by uid ${around.owner}, not by you (uid ${euid}) or root, who could replace it; ${what} would run as you`;
  if (around !== undefined)
    return `not read: other users can write ${label} ${folder} (mode ${octal(held.mode)}) and replace it, and ${what} would run as you; check it, then \`chmod go-w ${folder}\``;
  return undefined;
}

/**
 * Why a module found by a `node_modules` walk (the project's esbuild, a plugin package, the zod a
 * TypeScript plugin imports) is not the caller's to import, or undefined when it is: the file (its
 * real path) and every folder above it, up to `/`, must be the caller's or root's and writable by
 * no one else unless sticky (D86, D108, D122). The walk climbs above the project, so root's
 * /tmp/pub/proj finds a /tmp/pub/node_modules that any user may have made.
 */
export function untrustedModule(file: string, what: string): string | undefined {
  let real: string;
  try {
    real = realpathSync(file);
  } catch {
    return undefined;
  }
  const own = otherOwner(real, what);
  if (own !== undefined) return `${real}: ${own}`;
  for (let folder = dirname(dirname(real)); dirname(folder) !== folder; folder = dirname(folder)) {
    const why = folderProblem(folder, "the folder above it", what);
    if (why !== undefined) return `${real}: ${why}`;
  }
  return undefined;
}
