import { randomBytes } from "node:crypto";
import {
  accessSync,
  chmodSync,
  constants,
  lstatSync,
  mkdirSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { homedir } from "node:os";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { BatonError, octal, permissionDenied } from "./errors.js";

export { octal };

/** Where baton keeps its database, logs and sockets: `BATON_HOME`, else `~/.baton`. */
export function batonHome(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.BATON_HOME;
  return fromEnv !== undefined && fromEnv !== "" ? resolve(fromEnv) : join(homedir(), ".baton");
}

/**
 * Why `stat` (of `path`) is not the caller's to trust, or undefined when it is: owned by a user
 * other than the caller and root, or writable by group or others (D86). Like ssh's StrictModes: a
 * root-owned file is accepted (root could change anything anyway), and a directory shared by
 * design (the sticky bit, as /tmp) is accepted as an ancestor only.
 */
export function untrusted(
  stat: { uid: number; mode: number; isDirectory(): boolean },
  asAncestor: boolean,
): { owner?: number; mode?: number; shared?: boolean } | undefined {
  const euid = process.geteuid?.();
  if (euid === undefined) return undefined; // Windows: no uids to compare
  if (stat.uid !== euid && stat.uid !== 0) return { owner: stat.uid };
  const sticky = (stat.mode & 0o1000) !== 0;
  if ((stat.mode & 0o022) !== 0 && !(asAncestor && sticky && stat.isDirectory()))
    return { mode: stat.mode, shared: sticky || stat.uid !== euid };
  return undefined;
}

const OWN_HOME = "Use a BATON_HOME of your own (unset it for ~/.baton)";

/** A permission error on baton's own `path` (`what`), with the advice for a home that is not yours. */
function refused(error: unknown, path: string, what: string): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  if (code !== "EACCES" && code !== "EPERM") return error;
  return permissionDenied(path, {
    what,
    syscall: (error as NodeJS.ErrnoException).syscall ?? "access",
    ownAdvice: OWN_HOME,
    cause: error,
  });
}

function unsafe(
  what: string,
  path: string,
  why: { owner?: number; mode?: number; shared?: boolean },
  isDir: boolean,
): BatonError {
  const euid = process.geteuid?.() ?? 0;
  // Another user's path is theirs to keep: the advice is a home of your own, never to take it over
  // (a chown would need root, and would hand their jobs to you). Only the caller's own path with a
  // mode that lets others in is fixed in place.
  const message =
    why.owner !== undefined
      ? `${what} ${path} is owned by uid ${why.owner}, not by you (uid ${euid}) or root: another user could ` +
        `have put jobs in it that baton would run as you. ${OWN_HOME}`
      : `${what} ${path} can be written by other users (mode ${octal(why.mode ?? 0)}): anyone could have put ` +
        `jobs in it that baton would run as you. ` +
        (why.shared === true
          ? `${OWN_HOME}: this folder is shared`
          : `Check what is in it, then \`chmod ${isDir ? "700" : "600"} ${path}\``);
  return new BatonError("UNSAFE_HOME", message, {
    details: {
      path,
      ...(why.owner === undefined ? {} : { owner: why.owner }),
      ...(why.mode === undefined ? {} : { mode: octal(why.mode) }),
      uid: euid,
    },
  });
}

/**
 * Refuse a file or directory of baton's data (the database and its -wal/-shm, the token file, a
 * run folder, the daemon's socket) that another user owns or may write: its jobs would be run by
 * this user's daemon. A missing path passes (baton creates it, 0600/0700). Throws `UNSAFE_HOME`
 * naming the path, the owner and what to do.
 */
export function checkOwnPath(path: string, what: string): void {
  let stat;
  try {
    stat = statSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw refused(error, path, what);
  }
  checkOwnStat(stat, path, what);
}

/** {@link checkOwnPath} for a stat already taken (an open file's `fstat`, free of races). */
export function checkOwnStat(
  stat: { uid: number; mode: number; isDirectory(): boolean },
  path: string,
  what: string,
): void {
  const why = untrusted(stat, false);
  if (why !== undefined) throw unsafe(what, path, why, stat.isDirectory());
}

/**
 * The folders above `dir` (its real path) must be the caller's or root's and writable by no one
 * else unless sticky (as /tmp): another user who may rename an entry there could swap the home
 * for one of theirs after it was checked (ssh checks the same).
 */
function checkAncestors(dir: string): void {
  let current = dirname(realpathSync(dir));
  for (;;) {
    const stat = statSync(current);
    const why = untrusted(stat, true);
    if (why !== undefined) throw unsafe("the folder above baton's data directory", current, why, true);
    const parent = dirname(current);
    if (parent === current) return;
    current = parent;
  }
}

/**
 * Create baton's own data directory (or a folder in it) readable by the owner only (0700), and
 * tighten an existing one of the caller's that others may read. One that another user owns, or
 * that others may write (even shared by design, as /tmp), is refused with `UNSAFE_HOME`, and so is
 * one below a folder another user controls (D86).
 */
export function ensurePrivateDir(dir: string, what = "baton's data directory"): string {
  let stat;
  try {
    ensureDir(dir);
    stat = statSync(dir);
  } catch (error) {
    throw refused(error, dir, what);
  }
  const why = untrusted(stat, false);
  if (why !== undefined) throw unsafe(what, dir, why, true);
  checkAncestors(dir);
  if (process.getuid !== undefined && stat.uid === process.geteuid?.() && (stat.mode & 0o777) !== 0o700)
    chmodSync(dir, 0o700);
  // Root's home passes the trust check, but another user cannot use it: say so here, naming the
  // home, rather than fail later on a file in it.
  try {
    accessSync(dir, constants.R_OK | constants.W_OK | constants.X_OK);
  } catch (error) {
    throw refused(error, dir, what);
  }
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

/**
 * Replace `file` with `text` at once: a reader sees the old file or the new one. The temporary
 * sits beside it under this writer's own name (pid and random), so two processes writing the same
 * file never rename each other's half-written or already-renamed temporary; it is removed if the
 * write fails. `mode` applies to a new file (default 0600).
 */
export function replaceFile(file: string, text: string, mode = 0o600): void {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}-${randomBytes(4).toString("hex")}.tmp`);
  try {
    writeFileSync(tmp, text, { mode });
    renameSync(tmp, file);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
}
