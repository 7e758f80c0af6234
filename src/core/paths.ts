import { chmodSync, lstatSync, mkdirSync, realpathSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { BatonError } from "./errors.js";

/** Where baton keeps its database, logs and sockets: `BATON_HOME`, else `~/.baton`. */
export function batonHome(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.BATON_HOME;
  return fromEnv !== undefined && fromEnv !== "" ? resolve(fromEnv) : join(homedir(), ".baton");
}

/**
 * Create a directory (and parents) readable by the owner only, and tighten an existing one to
 * 0700 — unless it is shared by design (the sticky bit, as on /tmp) or belongs to another user:
 * those are never changed (their baton files are still 0600). For baton's own data directory.
 */
export function ensurePrivateDir(dir: string): string {
  ensureDir(dir);
  const stat = statSync(dir);
  const shared =
    (stat.mode & 0o1000) !== 0 || (process.getuid !== undefined && stat.uid !== process.getuid());
  if (!shared && (stat.mode & 0o777) !== 0o700) chmodSync(dir, 0o700);
  return dir;
}

/**
 * Create a directory (and parents) readable by the owner only when it is missing; an existing one
 * is left as it is. For a directory the user chose (the folder of an explicit database path).
 */
export function ensureDir(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

export type PathCheck = { ok: true; path: string } | { ok: false; code: "UNSAFE_PATH"; message: string };

const SAFE_SEGMENT = /^[A-Za-z0-9._-]{1,200}$/;

/**
 * Resolve `segments` (ids, log names) under `root`, refusing anything that could escape it:
 * separators, `..`, absolute paths, NUL, percent-encoding and other unusual characters.
 * An expected failure, so it is returned as a value.
 */
export function resolveInside(root: string, ...segments: string[]): PathCheck {
  for (const segment of segments) {
    if (!SAFE_SEGMENT.test(segment) || segment === "." || segment === "..") {
      return { ok: false, code: "UNSAFE_PATH", message: `unsafe path segment ${JSON.stringify(segment)}` };
    }
  }
  const base = resolve(root);
  const target = resolve(base, ...segments);
  const rel = relative(base, target);
  if (rel === "" || rel.startsWith("..") || isAbsolute(rel) || rel.split(sep).includes("..")) {
    return { ok: false, code: "UNSAFE_PATH", message: `path escapes ${base}` };
  }
  return { ok: true, path: target };
}

/** Like {@link resolveInside} but throws a typed error. */
export function pathInside(root: string, ...segments: string[]): string {
  const check = resolveInside(root, ...segments);
  if (!check.ok) throw new BatonError("UNSAFE_PATH", check.message);
  return check.path;
}

function lexists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Like {@link resolveInside}, and also refuses a path that a symbolic link planted in the data
 * directory would lead outside it: the real path of the deepest part that exists (the file itself,
 * or the folder it will be created in) must stay inside the real path of `root`. A dangling link
 * is refused too, since creating the file would follow it. Use it before opening or creating a file.
 */
export function resolveInsideReal(root: string, ...segments: string[]): PathCheck {
  const check = resolveInside(root, ...segments);
  if (!check.ok) return check;
  const base = resolve(root);
  if (!lexists(base)) return check; // nothing exists yet, so no link can lead anywhere
  let existing = check.path;
  const missing: string[] = [];
  while (!lexists(existing)) {
    missing.unshift(basename(existing));
    existing = dirname(existing);
  }
  let real: string;
  try {
    real = join(realpathSync(existing), ...missing);
  } catch {
    return { ok: false, code: "UNSAFE_PATH", message: `${existing} is a dangling symbolic link` };
  }
  const rel = relative(realpathSync(base), real);
  if (rel === "" || rel.startsWith("..") || isAbsolute(rel)) {
    return {
      ok: false,
      code: "UNSAFE_PATH",
      message: `${check.path} leads outside ${base} through a symbolic link`,
    };
  }
  return check;
}
