/**
 * Where a command job's files live: `<home>/runs/<job id>/<attempt>/` holds `output.log` (stdout
 * and stderr merged by line, stored once), `output.idx` (which byte ranges of output.log are
 * which stream), `exit` (the exit code, written by the wrapper) and `process.json` (pid, start
 * time, lease token: what a restarted daemon needs to re-attach). While the command runs it
 * writes `stdout.log` / `stderr.log` itself (they survive the daemon); the LogPump moves their
 * bytes into output.log and removes them when the attempt ends (D56). `<home>/runs/<job id>/env`
 * holds the caller's environment (0600) until the job finishes; `<home>/runs/<job id>/ledger`
 * names the ledger the job belongs to, so a sweep never touches another ledger's folders. Every
 * path is resolved inside the data dir.
 *
 * Run folders of an older baton (no output.idx) are read as they were: output.log for the
 * merged view, stdout.log / stderr.log for one stream.
 */
import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { BatonError } from "../core/errors.js";
import { ensurePrivateDir, resolveInsideReal } from "../core/paths.js";

/** Resolve under the runs folder, refusing names or planted links that lead outside it. */
function inRuns(home: string, ...segments: string[]): string {
  // Checked from the home, so a `runs` folder replaced by a link is refused too.
  const check = resolveInsideReal(home, "runs", ...segments);
  if (!check.ok) throw new BatonError("UNSAFE_PATH", check.message);
  return check.path;
}

export type LogStream = "stdout" | "stderr" | "output";

/** The index of output.log: one line per copied run, `<o|e> <end in output.log> <end in its spool>`. */
export const INDEX = "output.idx";

export interface ProcessRecord {
  pid: number;
  startTime: string;
  token: string;
  owner: string;
  startedAt: number;
}

export function runsRoot(home: string): string {
  return join(home, "runs");
}

export function jobDir(home: string, jobId: string): string {
  return inRuns(home, jobId);
}

export function attemptDir(home: string, jobId: string, attempt: number): string {
  return inRuns(home, jobId, String(attempt));
}

export function ensureAttemptDir(home: string, jobId: string, attempt: number): string {
  const dir = attemptDir(home, jobId, attempt); // checked before anything is created or chmod-ed
  ensurePrivateDir(runsRoot(home));
  ensurePrivateDir(jobDir(home, jobId));
  ensurePrivateDir(dir);
  for (const name of ["stdout.log", "stderr.log", "output.log", INDEX]) {
    const file = join(dir, name);
    if (!existsSync(file)) writeFileSync(file, "", { mode: 0o600 });
  }
  return dir;
}

/** The file an attempt's output is stored in (both streams, merged by line). */
export function logPath(home: string, jobId: string, attempt: number): string {
  return inRuns(home, jobId, String(attempt), "output.log"); // a planted link is refused too
}

function writePrivate(file: string, text: string): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, file);
}

/**
 * Keep the caller's environment for this job's attempts; never stored in the database. `ledger`
 * (the store's location) marks the folder as that ledger's, for {@link sweepJobFiles}.
 */
export function saveEnv(home: string, jobId: string, env: NodeJS.ProcessEnv, ledger?: string): void {
  const dir = jobDir(home, jobId);
  ensurePrivateDir(runsRoot(home));
  ensurePrivateDir(dir);
  if (ledger !== undefined) markLedger(home, jobId, ledger);
  writePrivate(join(dir, "env"), JSON.stringify(env));
}

export function loadEnv(home: string, jobId: string): NodeJS.ProcessEnv | undefined {
  try {
    return JSON.parse(readFileSync(join(jobDir(home, jobId), "env"), "utf8")) as NodeJS.ProcessEnv;
  } catch {
    return undefined;
  }
}

export function deleteEnv(home: string, jobId: string): void {
  rmSync(join(jobDir(home, jobId), "env"), { force: true });
}

export function saveProcess(dir: string, record: ProcessRecord): void {
  writePrivate(join(dir, "process.json"), JSON.stringify(record));
}

export function loadProcess(dir: string): ProcessRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, "process.json"), "utf8")) as ProcessRecord;
  } catch {
    return undefined;
  }
}

/** Every attempt directory of this home: `runs/<job id>/<attempt>/`. */
export function attemptDirs(home: string): { jobId: string; attempt: number; dir: string }[] {
  const found: { jobId: string; attempt: number; dir: string }[] = [];
  let jobs: string[];
  try {
    jobs = readdirSync(runsRoot(home));
  } catch {
    return found;
  }
  for (const jobId of jobs) {
    let attempts: string[];
    try {
      attempts = readdirSync(jobDir(home, jobId));
    } catch {
      continue; // not a directory, or a name that would leave the runs folder
    }
    for (const name of attempts) {
      if (!/^[1-9]\d*$/.test(name)) continue;
      found.push({ jobId, attempt: Number(name), dir: attemptDir(home, jobId, Number(name)) });
    }
  }
  return found;
}

/** The exit code the wrapper wrote, if the command has ended. */
export function readExitCode(dir: string): number | undefined {
  try {
    const text = readFileSync(join(dir, "exit"), "utf8").trim();
    return /^\d+$/.test(text) ? Number(text) : undefined;
  } catch {
    return undefined;
  }
}

export function removeJobFiles(home: string, jobId: string): void {
  rmSync(jobDir(home, jobId), { recursive: true, force: true });
}

/** How long a run folder is left alone after it last changed before a sweep may judge it. */
const SWEEP_AFTER_MS = 60_000;

function hasAttempt(dir: string): boolean {
  try {
    return readdirSync(dir).some((name) => /^[1-9]\d*$/.test(name));
  } catch {
    return false;
  }
}

/** A short stable name of a ledger (its location), written beside a job's run folders. */
export function ledgerMark(location: string): string {
  return createHash("sha256").update(location).digest("hex").slice(0, 16);
}

/** Record which ledger a job's run folder belongs to (once). */
export function markLedger(home: string, jobId: string, location: string): void {
  const file = join(jobDir(home, jobId), "ledger");
  if (!existsSync(file)) writePrivate(file, ledgerMark(location));
}

/**
 * Remove the run folders of this home whose job `exists` says is gone (a crash between a delete's
 * commit and its file removal, a delete typed in another home, an older baton that never removed
 * them). Only folders marked with this ledger are judged; unmarked ones (written before marks)
 * only when this ledger is the home's own SQLite file, so a home used with two ledgers never
 * loses the other one's files. Returns the job ids removed. A folder with no attempt yet that
 * changed in the last minute is left alone: a configured task's run saves its environment just
 * before its row is inserted (an attempt folder is made only after a claim, so its job existed).
 */
export async function sweepJobFiles(
  store: { readonly location: string; getJob(id: string): Promise<unknown> },
  home: string,
): Promise<string[]> {
  const location = store.location;
  let names: string[];
  try {
    names = readdirSync(runsRoot(home));
  } catch {
    return [];
  }
  const mark = ledgerMark(location);
  const ownLedger = location === join(home, "baton.db");
  const candidates: string[] = [];
  for (const name of names) {
    let dir: string;
    try {
      dir = jobDir(home, name);
    } catch {
      continue; // a name that would leave the runs folder
    }
    let found: string | undefined;
    try {
      found = readFileSync(join(dir, "ledger"), "utf8").trim();
    } catch {
      found = undefined;
    }
    if (found !== mark && !(found === undefined && ownLedger)) continue;
    if (
      !hasAttempt(dir) &&
      Date.now() - (statSync(dir, { throwIfNoEntry: false })?.mtimeMs ?? 0) < SWEEP_AFTER_MS
    )
      continue; // perhaps a task run's environment, saved just before its row is inserted
    candidates.push(name);
  }
  const removed: string[] = [];
  for (const id of candidates) {
    if ((await store.getJob(id)) !== undefined) continue;
    removeJobFiles(home, id);
    removed.push(id);
  }
  return removed;
}

/** Which stream a byte range of output.log holds. */
export interface LogRun {
  stream: "stdout" | "stderr";
  start: number;
  end: number;
}

/** What output.idx says: the runs of output.log, where the index ends, how far each spool was copied. */
export interface LogIndex {
  runs: LogRun[];
  end: number;
  copied: { stdout: number; stderr: number };
}

const STREAM_OF: Record<string, "stdout" | "stderr"> = { o: "stdout", e: "stderr" };

/** Parse output.idx; undefined when the folder has none (an older baton's) or it is empty. */
export function readIndex(dir: string): LogIndex | undefined {
  let text: string;
  try {
    text = readFileSync(join(dir, INDEX), "utf8");
  } catch {
    return undefined;
  }
  const index: LogIndex = { runs: [], end: 0, copied: { stdout: 0, stderr: 0 } };
  let any = false;
  for (const line of text.split("\n")) {
    // A last line cut by a crash has no newline after it and may be short: skipped.
    const m = /^([oe]) (\d+) (\d+)$/.exec(line);
    if (m === null) continue;
    any = true;
    const stream = STREAM_OF[m[1]!]!;
    const end = Number(m[2]);
    index.copied[stream] = Number(m[3]);
    if (end <= index.end) continue;
    const last = index.runs[index.runs.length - 1];
    if (last !== undefined && last.stream === stream && last.end === index.end) last.end = end;
    else index.runs.push({ stream, start: index.end, end });
    index.end = end;
  }
  return any ? index : undefined;
}

/** A byte range of a file, part of what one view of a log shows. */
interface Segment {
  file: string;
  stream: "stdout" | "stderr" | "output";
  start: number;
  end: number;
}

function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/**
 * The byte ranges one view of an attempt's log is made of, in order. With `tails`, the bytes a
 * command wrote that the pump has not moved yet (no daemon, or a partial last line) come last:
 * stdout's, then stderr's. Offsets handed to readers count `tails: false` views only, which do not
 * move when the pump catches up.
 */
function segments(dir: string, view: LogStream, tails: boolean): Segment[] {
  const index = readIndex(dir);
  const output = join(dir, "output.log");
  if (index === undefined) {
    // An older baton's folder, or nothing indexed yet: the files as they are.
    if (view === "output") {
      const size = fileSize(output);
      const spools = (["stdout", "stderr"] as const).map((s) => ({
        s,
        size: fileSize(join(dir, `${s}.log`)),
      }));
      if (size === 0 && tails)
        return spools.map(({ s, size: n }) => ({ file: join(dir, `${s}.log`), stream: s, start: 0, end: n }));
      return [{ file: output, stream: "output", start: 0, end: size }];
    }
    const file = join(dir, `${view}.log`);
    return [{ file, stream: view, start: 0, end: fileSize(file) }];
  }
  const found: Segment[] = index.runs
    .filter((r) => view === "output" || r.stream === view)
    .map((r) => ({ file: output, stream: r.stream, start: r.start, end: r.end }));
  if (tails) {
    for (const stream of ["stdout", "stderr"] as const) {
      if (view !== "output" && view !== stream) continue;
      const spool = join(dir, `${stream}.log`);
      const size = fileSize(spool);
      if (size > index.copied[stream])
        found.push({ file: spool, stream, start: index.copied[stream], end: size });
    }
  }
  return found;
}

/** Read `[from, to)` of the concatenation of `parts`; the pieces keep their stream. */
function readRange(
  parts: Segment[],
  from: number,
  to: number,
): { stream: Segment["stream"]; bytes: Buffer }[] {
  const pieces: { stream: Segment["stream"]; bytes: Buffer }[] = [];
  let at = 0;
  for (const part of parts) {
    const length = part.end - part.start;
    const lo = Math.max(from, at);
    const hi = Math.min(to, at + length);
    if (hi > lo) {
      const bytes = withLog(part.file, (fd) => readSlice(fd, part.start + lo - at, hi - lo));
      if (bytes !== undefined && bytes.length > 0) pieces.push({ stream: part.stream, bytes });
    }
    at += length;
    if (at >= to) break;
  }
  return pieces;
}

const total = (parts: Segment[]): number => parts.reduce((n, p) => n + p.end - p.start, 0);

/** How many bytes at the end of `bytes` start a UTF-8 character that continues past it. */
function cutCharacter(bytes: Buffer): number {
  const end = bytes.length;
  let back = 0;
  while (back < 3 && end - back - 1 >= 0 && (bytes[end - back - 1]! & 0xc0) === 0x80) back++;
  const lead = bytes[end - back - 1];
  if (lead !== undefined && lead >= 0xc0) {
    const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
    if (back + 1 < need) return back + 1;
  }
  return 0;
}

/** A piece of a log, read from a byte offset (the dashboard's live tail and `logs -f` repeat this). */
export interface LogChunk {
  /** Where this read started (bytes before it are not in `text`). */
  start: number;
  /** Where the next read should start. */
  offset: number;
  /** The log's size when read. */
  size: number;
  text: string;
  /** The same text by stream (a merged view holds both). */
  pieces?: { stream: "stdout" | "stderr" | "output"; text: string }[];
}

/**
 * At most `max` bytes of one view of an attempt's log from `offset`; from its last `max` bytes when
 * `offset` is undefined or past the end (the log was cut to its cap since). Stops before a UTF-8
 * character that the slice would cut in two; that character comes with the next read.
 */
export function readLogChunk(
  dir: string,
  view: LogStream,
  offset: number | undefined,
  max: number,
): LogChunk {
  const parts = segments(dir, view, false);
  const size = total(parts);
  const from = offset === undefined || offset > size ? Math.max(0, size - max) : offset;
  const pieces = readRange(parts, from, Math.min(size, from + max));
  const joined = Buffer.concat(pieces.map((p) => p.bytes));
  let drop = cutCharacter(joined);
  const out: { stream: "stdout" | "stderr" | "output"; text: string }[] = [];
  for (let i = pieces.length - 1; i >= 0 && drop > 0; i--) {
    const cut = Math.min(drop, pieces[i]!.bytes.length);
    pieces[i] = {
      stream: pieces[i]!.stream,
      bytes: pieces[i]!.bytes.subarray(0, pieces[i]!.bytes.length - cut),
    };
    drop -= cut;
  }
  let read = 0;
  for (const p of pieces) {
    read += p.bytes.length;
    if (p.bytes.length > 0) out.push({ stream: p.stream, text: p.bytes.toString("utf8") });
  }
  return { start: from, offset: from + read, size, text: out.map((p) => p.text).join(""), pieces: out };
}

/**
 * The last `lines` lines of one view of an attempt's log ("all": every line), including what the
 * command wrote that the pump has not moved yet. Reads at most `maxBytes` from the end for a
 * number of lines (a megabyte of output without a newline is one line).
 */
export function tailLog(dir: string, view: LogStream, lines: number | "all", maxBytes = 1024 * 1024): string {
  const parts = segments(dir, view, true);
  const size = total(parts);
  const from = lines === "all" ? 0 : Math.max(0, size - maxBytes);
  const text = Buffer.concat(readRange(parts, from, size).map((p) => p.bytes)).toString("utf8");
  if (lines === "all") return text;
  const all = text.split("\n");
  const open = all[all.length - 1] !== "";
  if (!open) all.pop();
  return all.slice(-lines).join("\n") + (open || all.length === 0 ? "" : "\n");
}

/** All of one stream of an attempt (its last megabyte at most): what task and agent outcomes parse. */
export function readStreamText(dir: string, stream: "stdout" | "stderr", maxBytes = 1024 * 1024): string {
  const parts = segments(dir, stream, true);
  const size = total(parts);
  return Buffer.concat(readRange(parts, Math.max(0, size - maxBytes), size).map((p) => p.bytes)).toString(
    "utf8",
  );
}

/**
 * The last non-empty lines of a stream, trimmed and joined by ` | ` (at most `max` characters):
 * why a command failed, in its own words (a thrown error's message, a tool's complaint).
 */
export function streamTail(dir: string, stream: "stdout" | "stderr", lines = 3, max = 500): string {
  return readStreamText(dir, stream, 64 * 1024)
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "")
    .slice(-lines)
    .join(" | ")
    .slice(-max);
}

/**
 * Reads a slice of a log: `length` bytes from `position` of an open file, or fewer. The log may be
 * cut to its cap while this reads (LogPump): only the bytes the read returned count, never the
 * zeros of a buffer it did not fill.
 */
function readSlice(fd: number, position: number, length: number): Buffer {
  const buffer = Buffer.alloc(length);
  return buffer.subarray(0, length === 0 ? 0 : readSync(fd, buffer, 0, length, position));
}

/** Open a log and hand `read` its descriptor; undefined when it does not exist. */
function withLog<T>(file: string, read: (fd: number) => T): T | undefined {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch {
    return undefined;
  }
  try {
    return read(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Where the last `lines` lines of one view of a log begin, as an offset for {@link readLogChunk}
 * (what the pump has moved only): `logs -f` prints from there on.
 */
export function tailOffset(
  dir: string,
  view: LogStream,
  lines: number | "all",
  maxBytes = 1024 * 1024,
): number {
  if (lines === "all") return 0;
  const parts = segments(dir, view, false);
  const size = total(parts);
  const from = Math.max(0, size - maxBytes);
  const bytes = Buffer.concat(readRange(parts, from, size).map((p) => p.bytes));
  let pos = bytes.length > 0 && bytes[bytes.length - 1] === 0x0a ? bytes.length - 1 : bytes.length;
  for (let found = 0; pos > 0;) {
    const newline = bytes.lastIndexOf(0x0a, pos - 1);
    if (newline < 0) return from;
    if (++found === lines) return from + newline + 1;
    pos = newline;
  }
  return from;
}
