/**
 * Editing other programs' files safely: every install step first computes the new text of a file,
 * then either prints the diff (`--dry-run`) or backs the old file up and replaces it atomically.
 * An unchanged file is neither written nor backed up, which is what makes a second run a no-op.
 */
import {
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { homedir } from "node:os";
import { basename, dirname, join, relative } from "node:path";
import { BatonError } from "../core/errors.js";
import { batonHome, replaceFile } from "../core/paths.js";

/** One file an install step wants to change. `before` is null when the file does not exist yet. */
export interface FileChange {
  path: string;
  before: string | null;
  after: string;
  /** Who the change is for (a host name, "skills", "instructions"…), for messages and backup names. */
  label: string;
}

export type ChangeAction = "created" | "updated" | "unchanged";

export interface AppliedChange {
  path: string;
  label: string;
  action: ChangeAction;
  backup?: string;
  /** The file written when `path` is a symbolic link (D147): the link's target, the link kept. */
  target?: string;
}

/** The user's home directory (`HOME` first, so tests can point it at a temporary directory). */
export function home(): string {
  const fromEnv = process.env.HOME;
  return fromEnv !== undefined && fromEnv !== "" ? fromEnv : homedir();
}

/** `$XDG_CONFIG_HOME`, else `~/.config`. */
export function configHome(): string {
  const xdg = process.env.XDG_CONFIG_HOME;
  return xdg !== undefined && xdg !== "" ? xdg : join(home(), ".config");
}

export function readText(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return null;
    if (code === "EISDIR" || code === "ELOOP")
      throw new BatonError(
        "INVALID_INPUT",
        `${path} is ${code === "EISDIR" ? "a directory (or a link to one)" : "a symbolic link that leads back to itself"}, not a file baton can edit: make it a file (nothing was changed)`,
        { details: { path } },
      );
    throw error;
  }
}

export function actionOf(change: FileChange): ChangeAction {
  if (change.before === null) return "created";
  return change.before === change.after ? "unchanged" : "updated";
}

/** `~/x` for paths under the home directory: shorter, and the same on every machine in docs. */
export function displayPath(path: string): string {
  const rel = relative(home(), path);
  return rel !== "" && !rel.startsWith("..") && !rel.startsWith("/") ? `~/${rel}` : path;
}

function stamp(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
}

/**
 * Who must own `path` when baton runs as root (`sudo` keeping another user's HOME; issue 21b F3):
 * an existing file's owner, else the owner of the nearest folder above it, so the user is not
 * locked out of their own config. Undefined when not root: the process's own ownership is right.
 */
function ownerFor(path: string): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (let p = path; ; p = dirname(p)) {
    try {
      const { uid, gid } = statSync(p);
      return { uid, gid };
    } catch {
      if (dirname(p) === p) return undefined;
    }
  }
}

/** `mkdir -p`, each folder it creates owned as `ownerFor` says. */
function makeDirs(dir: string, mode?: number): void {
  const owner = ownerFor(dir);
  const first = mkdirSync(dir, { recursive: true, ...(mode === undefined ? {} : { mode }) });
  if (owner === undefined || first === undefined) return;
  for (let p = dir; ; p = dirname(p)) {
    chownSync(p, owner.uid, owner.gid);
    if (p === first || dirname(p) === p) return;
  }
}

/** Copy the current text of `path` under `<BATON_HOME>/backups/`; returns the backup's path. */
function backup(change: FileChange, text: string): string {
  const dir = join(batonHome(), "backups");
  makeDirs(dir, 0o700);
  const base = `${stamp(new Date())}-${change.label}-${basename(change.path)}`;
  let target = join(dir, base);
  for (let n = 2; existsSync(target); n++) target = join(dir, `${base}.${n}`);
  const owner = ownerFor(target);
  writeFileSync(target, text, { mode: 0o600 });
  if (owner !== undefined) chownSync(target, owner.uid, owner.gid);
  return target;
}

/**
 * The file to write for `path`: its target when it is a symbolic link (a config kept in a dotfiles
 * folder stays there, and the link stays a link; D147), else `path`. A link to nothing is refused:
 * whether to create the target is the user's call.
 */
export function writeTarget(path: string): string {
  let link = false;
  try {
    link = lstatSync(path).isSymbolicLink();
  } catch {
    return path;
  }
  if (!link) return path;
  try {
    return realpathSync(path);
  } catch {
    throw new BatonError(
      "INVALID_INPUT",
      `${path} is a symbolic link to ${readlinkSync(path)}, which does not exist: create it or remove the link (nothing was changed)`,
      { details: { path } },
    );
  }
}

/** Write `text` to `path` through a temporary file and a rename, keeping the old file's mode (and owner). */
function writeAtomic(path: string, text: string): void {
  makeDirs(dirname(path));
  const owner = ownerFor(path);
  let mode = 0o644;
  try {
    mode = statSync(path).mode & 0o777;
  } catch {
    // a new file
  }
  replaceFile(path, text, mode);
  if (owner !== undefined) chownSync(path, owner.uid, owner.gid);
}

/** Back up and write every changed file; unchanged files are left alone. */
export function applyChanges(changes: readonly FileChange[]): AppliedChange[] {
  // Links are resolved before anything is written, so a dangling one leaves every file as it was.
  const targets = changes.map((change) =>
    actionOf(change) === "unchanged" ? change.path : writeTarget(change.path),
  );
  // Two names of one file (CLAUDE.md -> AGENTS.md) are written once, and only if they agree.
  const first = new Map<string, FileChange>();
  changes.forEach((change, i) => {
    if (actionOf(change) === "unchanged") return;
    const other = first.get(targets[i]!);
    if (other === undefined) first.set(targets[i]!, change);
    else if (other.after !== change.after)
      throw new BatonError(
        "INVALID_INPUT",
        `${other.path} and ${change.path} are the same file (a link), and would get different text: make one of them a file of its own (nothing was changed)`,
        { details: { paths: [other.path, change.path] } },
      );
  });
  return changes.map((change, i) => {
    const action = actionOf(change);
    if (action === "unchanged") return { path: change.path, label: change.label, action };
    const target = targets[i]!;
    const written = first.get(target) !== change;
    const saved = change.before === null || written ? undefined : backup(change, change.before);
    if (!written) writeAtomic(target, change.after);
    return {
      path: change.path,
      label: change.label,
      action,
      ...(saved === undefined ? {} : { backup: saved }),
      ...(target === change.path ? {} : { target }),
    };
  });
}

/** Lines of a text without the final newline's empty tail. */
function lines(text: string): string[] {
  const all = text.split("\n");
  if (all[all.length - 1] === "") all.pop();
  return all;
}

/**
 * A unified diff of two texts (3 lines of context). Config files are small and an upsert touches a
 * few lines, so the common head and tail are cut first and the rest is an LCS table.
 */
export function unifiedDiff(path: string, before: string | null, after: string): string {
  const a = before === null ? [] : lines(before);
  const b = lines(after);
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (
    tail < a.length - head &&
    tail < b.length - head &&
    a[a.length - 1 - tail] === b[b.length - 1 - tail]
  )
    tail++;
  const midA = a.slice(head, a.length - tail);
  const midB = b.slice(head, b.length - tail);
  if (midA.length === 0 && midB.length === 0) return "";

  // LCS over the middle part.
  const n = midA.length;
  const m = midB.length;
  const table = new Uint32Array((n + 1) * (m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      table[i * (m + 1) + j] =
        midA[i] === midB[j]
          ? table[(i + 1) * (m + 1) + j + 1]! + 1
          : Math.max(table[(i + 1) * (m + 1) + j]!, table[i * (m + 1) + j + 1]!);
    }
  }
  const ops: { kind: " " | "-" | "+"; text: string }[] = [];
  for (const line of a.slice(Math.max(0, head - 3), head)) ops.push({ kind: " ", text: line });
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && midA[i] === midB[j]) {
      ops.push({ kind: " ", text: midA[i]! });
      i++;
      j++;
    } else if (i < n && (j === m || table[(i + 1) * (m + 1) + j]! >= table[i * (m + 1) + j + 1]!)) {
      ops.push({ kind: "-", text: midA[i]! });
      i++;
    } else {
      ops.push({ kind: "+", text: midB[j]! });
      j++;
    }
  }
  for (const line of a.slice(a.length - tail, a.length - tail + 3)) ops.push({ kind: " ", text: line });

  const startA = Math.max(0, head - 3);
  const countA = ops.filter((o) => o.kind !== "+").length;
  const countB = ops.filter((o) => o.kind !== "-").length;
  const shown = displayPath(path);
  return [
    `--- ${before === null ? "/dev/null" : shown}`,
    `+++ ${shown}`,
    `@@ -${countA === 0 ? 0 : startA + 1},${countA} +${countB === 0 ? 0 : startA + 1},${countB} @@`,
    ...ops.map((o) => `${o.kind}${hideSecrets(o.text)}`),
  ].join("\n");
}

/** A key whose value is a secret: `password`, `token`, `secret`, `api_key`, `authorization`… */
const SECRET_KEY =
  /((["']?)[\w.-]*(?:passw(?:or)?d|secret|token|api[_-]?key|auth(?:orization)?|credential|private[_-]?key)[\w.-]*\2\s*[:=]\s*)(["'])((?:\\.|(?!\3).)*)\3/gi;

/**
 * A config line as a diff shows it, its secrets hidden: the password of a URL's user info or
 * `password=` parameter, a bearer token, and the string value of a key named like a secret
 * (`"API_TOKEN": "…"`, `password = "…"`). A dry run's diff shows the lines around baton's entry,
 * the user's own servers among them, and its output may land in an agent's transcript or a log.
 */
export function hideSecrets(line: string): string {
  return line
    .replace(/(\b[a-z][\w+.-]*:\/\/[^\s/@:"']*:)[^\s/@"']+@/gi, "$1***@")
    .replace(/([?&](?:password|passwd|token|api_key|apikey|secret)=)[^&\s"']+/gi, "$1***")
    .replace(/(\bBearer\s+)[\w.~+/=-]+/g, "$1***")
    .replace(SECRET_KEY, (all, key: string, _q: string, quote: string, value: string) =>
      // `bearer_token_env_var = "NAME"`: the name of a variable, not its value.
      value === "" || value === "***" || /env_?vars?\b/i.test(key) ? all : `${key}${quote}***${quote}`,
    );
}

/** What `--dry-run` prints: one diff per file that would change, or a note that nothing would. */
export function describeDryRun(changes: readonly FileChange[]): string {
  const parts = changes
    .filter((c) => actionOf(c) !== "unchanged")
    .map((c) => unifiedDiff(c.path, c.before, c.after));
  return parts.length === 0 ? "nothing to change: everything is already installed" : parts.join("\n");
}

export function describeApplied(applied: readonly AppliedChange[]): string {
  return applied
    .map((a) => {
      const link = a.target === undefined ? "" : ` (a link: wrote its target ${displayPath(a.target)})`;
      const what = `${a.label}: ${a.action} ${displayPath(a.path)}${link}`;
      return a.backup === undefined ? what : `${what} (backup: ${displayPath(a.backup)})`;
    })
    .join("\n");
}
