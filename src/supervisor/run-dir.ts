/**
 * Where a command job's files live: `<home>/runs/<job id>/<attempt>/` holds `output.log` (stdout
 * and stderr merged by line, stored once), `output.idx` (which byte ranges of output.log are
 * which stream), `exit` (the exit code, written by the wrapper), `pid` (the wrapper's pid, written
 * by the wrapper as it starts), `launch.json` (the lease token, written before the process starts)
 * and `process.json` (pid, start time, lease token: what a restarted daemon needs to re-attach),
 * `hook.json` (pid and start time of the task hook running for the run's end, see tasks/hooks),
 * `ending.json` (why baton ended the process — a stop, a timeout — written before it signals the
 * group, so the next daemon records that outcome if this one dies first; D148). While the command runs it
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
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { BatonError } from "../core/errors.js";
import { ensurePrivateDir, replaceFile, resolveInsideReal } from "../core/paths.js";

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
  ensurePrivateDir(runsRoot(home), "baton's runs folder");
  ensurePrivateDir(jobDir(home, jobId), "the job's run folder");
  ensurePrivateDir(dir, "the attempt's run folder");
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

/** Replace one of the run folder's files at once (0600; see core/paths' replaceFile). */
export function writePrivate(file: string, text: string): void {
  replaceFile(file, text);
}

/**
 * Keep the caller's environment for this job's attempts; never stored in the database. `ledger`
 * (the store's `Store.ledger`) marks the folder as that ledger's, for {@link sweepJobFiles}. A full
 * disk is STORAGE_FULL saying nothing was queued: callers save it before the job is queued (D140).
 */
export function saveEnv(home: string, jobId: string, env: NodeJS.ProcessEnv, ledger?: string): void {
  const dir = jobDir(home, jobId);
  try {
    ensurePrivateDir(runsRoot(home), "baton's runs folder");
    ensurePrivateDir(dir, "the job's run folder");
    if (ledger !== undefined) markLedger(home, jobId, ledger);
    writePrivate(join(dir, "env"), JSON.stringify(env));
  } catch (error) {
    throw homeFull(home, error) ?? error;
  }
}

/**
 * STORAGE_FULL for a full disk (ENOSPC, or a quota) under BATON_HOME, met while a job's files are
 * written before the job is queued or re-queued: every caller writes them first (D140), so the
 * answer can say that nothing was queued. Undefined for any other error.
 */
function homeFull(home: string, error: unknown): BatonError | undefined {
  const code = (error as NodeJS.ErrnoException).code;
  if (code !== "ENOSPC" && code !== "EDQUOT") return undefined;
  return new BatonError(
    "STORAGE_FULL",
    `the disk holding BATON_HOME ${home} is full, so a command's environment and logs cannot be kept: nothing was queued; free some space and call again`,
    { cause: error, details: { home } },
  );
}

/**
 * Check that the home can take a job's files before the job is queued (D134): a full disk would
 * otherwise acknowledge a job whose environment cannot be kept and whose command cannot start.
 * Writes and removes a one-byte file in the runs folder; ENOSPC (or a quota) is STORAGE_FULL.
 */
export function checkWritable(home: string): void {
  const probe = join(runsRoot(home), `.write-check-${process.pid}`);
  try {
    ensurePrivateDir(runsRoot(home), "baton's runs folder");
    writeFileSync(probe, "x", { mode: 0o600 });
  } catch (error) {
    throw homeFull(home, error) ?? error;
  } finally {
    rmSync(probe, { force: true });
  }
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

/**
 * What a daemon writes before it starts an attempt's process: the lease token and owner. With the
 * wrapper's `pid` file it lets the next daemon take over a process whose process.json was never
 * written (the daemon died in between).
 */
export interface LaunchRecord {
  token: string;
  owner: string;
  startedAt: number;
}

export function saveLaunch(dir: string, record: LaunchRecord): void {
  writePrivate(join(dir, "launch.json"), JSON.stringify(record));
}

/** A JSON record of the attempt folder, or undefined when it is missing or torn. */
function readRecord<T>(dir: string, name: string): T | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, name), "utf8")) as T;
  } catch {
    return undefined;
  }
}

/** A whole number the wrapper wrote into the attempt folder, or undefined (missing, partial). */
function readNumber(dir: string, name: string): number | undefined {
  try {
    const text = readFileSync(join(dir, name), "utf8").trim();
    return /^\d+$/.test(text) ? Number(text) : undefined;
  } catch {
    return undefined;
  }
}

export function loadLaunch(dir: string): LaunchRecord | undefined {
  return readRecord<LaunchRecord>(dir, "launch.json");
}

/** The pid the wrapper wrote when it started (it may have ended since). */
export function readWrapperPid(dir: string): number | undefined {
  return readNumber(dir, "pid");
}

/** Did the wrapper start in this attempt folder (whether or not it has ended)? */
export function wrapperStarted(dir: string): boolean {
  return ["pid", "exit.tmp", "exit"].some((name) => existsSync(join(dir, name)));
}

/**
 * Why baton ends an attempt's process, written before the first signal (D148): a daemon that dies
 * after signalling and before recording the outcome leaves its successor the truth (a stop is
 * `cancelled`, a timeout `timed_out`, not a crash), and `stopId` names the stop call that did it,
 * so that call, repeated after the daemon died, answers that it stopped the job.
 */
export interface EndingRecord {
  ending: "stop" | "timeout" | "idle";
  detail: string;
  force: boolean;
  /** When the first signal was sent (ms since the epoch): the SIGKILL grace counts from it. */
  at: number;
  stopId?: string;
}

export function saveEnding(dir: string, record: EndingRecord): void {
  writePrivate(join(dir, "ending.json"), JSON.stringify(record));
}

export function loadEnding(dir: string): EndingRecord | undefined {
  return readRecord<EndingRecord>(dir, "ending.json");
}

export function loadProcess(dir: string): ProcessRecord | undefined {
  return readRecord<ProcessRecord>(dir, "process.json");
}

/** The process (group leader) of a task's hook running for this attempt's end. */
export interface HookProcessRecord {
  pid: number;
  startTime: string;
}

/**
 * Record the hook process just started for this attempt, as process.json records the command's:
 * a hook outlives a daemon killed while it runs, and the task's lock is held while it does.
 */
export function saveHookProcess(dir: string, record: HookProcessRecord): void {
  writePrivate(join(dir, "hook.json"), JSON.stringify(record));
}

export function loadHookProcess(dir: string): HookProcessRecord | undefined {
  return readRecord<HookProcessRecord>(dir, "hook.json");
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
  return readNumber(dir, "exit");
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

/** A short stable name of a ledger (its `Store.ledger`), written beside a job's run folders. */
export function ledgerMark(ledger: string): string {
  return createHash("sha256").update(ledger).digest("hex").slice(0, 16);
}

/** Record which ledger (its `Store.ledger`) a job's run folder belongs to (once). */
export function markLedger(home: string, jobId: string, ledger: string): void {
  const file = join(jobDir(home, jobId), "ledger");
  if (!existsSync(file)) writePrivate(file, ledgerMark(ledger));
}

/**
 * Remove the run folders of this home whose job `exists` says is gone (a crash between a delete's
 * commit and its file removal, a delete typed in another home, an older baton that never removed
 * them). Only folders marked with this ledger are judged (D134): a home used with several ledgers
 * (a SQLite file, PostgreSQL databases, schemas of one database) never loses another one's files.
 * A folder without a mark (written before marks) is judged only when this ledger is the home's own
 * SQLite file; one marked by a baton that named PostgreSQL ledgers by URL alone (before D134) is
 * never judged, since every schema of that database wrote the same mark. Returns the job ids
 * removed. A folder with no attempt yet that changed in the last minute is left alone: a
 * job a daemon runs has its environment saved just before its row is inserted (D140; an attempt folder
 * is made only after a claim, so its job existed).
 */
export async function sweepJobFiles(
  store: { readonly location: string; readonly ledger: string; getJob(id: string): Promise<unknown> },
  home: string,
): Promise<string[]> {
  const location = store.location;
  let names: string[];
  try {
    names = readdirSync(runsRoot(home));
  } catch {
    return [];
  }
  const mark = ledgerMark(store.ledger);
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
      continue; // perhaps a job's environment, saved just before its row is inserted
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

/**
 * What output.idx says: the runs of output.log, where the index ends, how far each spool was
 * copied; after a cut (D115), how many bytes of each stream output.log no longer holds, the cap,
 * and the length of the marker output.log starts with.
 */
export interface LogIndex {
  runs: LogRun[];
  end: number;
  copied: { stdout: number; stderr: number };
  dropped: { stdout: number; stderr: number };
  cap: number;
  marker: number;
}

/**
 * The line that heads a view of a log whose older output was dropped (D115): output.log starts
 * with the merged view's; a one-stream view gets its own, with that stream's count.
 */
export function capMarker(view: LogStream, cap: number, dropped: { stdout: number; stderr: number }): string {
  if (view !== "output")
    return `[baton: ${view} exceeded the ${cap}-byte cap; ${dropped[view]} bytes dropped]\n`;
  const all = dropped.stdout + dropped.stderr;
  return `[baton: output exceeded the ${cap}-byte cap; ${all} bytes dropped (stdout ${dropped.stdout}, stderr ${dropped.stderr})]\n`;
}

const STREAM_OF: Record<string, "stdout" | "stderr"> = { o: "stdout", e: "stderr" };

/**
 * Parse output.idx; undefined only when the folder has none (an older baton's). An empty index is
 * this baton's with nothing acknowledged yet: the pump writes it before its first append to
 * output.log, so a reader never takes bytes appended ahead of their index line for an older
 * baton's unlabelled `output` stream (the first line of a `run --follow --json` came out as stream
 * `output` on a loaded machine).
 */
export function readIndex(dir: string): LogIndex | undefined {
  let text: string;
  try {
    text = readFileSync(join(dir, INDEX), "utf8");
  } catch {
    return undefined;
  }
  const index: LogIndex = {
    runs: [],
    end: 0,
    copied: { stdout: 0, stderr: 0 },
    dropped: { stdout: 0, stderr: 0 },
    cap: 0,
    marker: 0,
  };
  for (const line of text.split("\n")) {
    // A last line cut by a crash has no newline after it and may be short: skipped.
    const d = /^d (\d+) (\d+) (\d+)$/.exec(line);
    if (d !== null) {
      index.dropped = { stdout: Number(d[1]), stderr: Number(d[2]) };
      index.cap = Number(d[3]);
      continue;
    }
    const marker = /^m (\d+)$/.exec(line);
    if (marker !== null && index.runs.length === 0) {
      index.marker = index.end = Number(marker[1]);
      continue;
    }
    const m = /^([oe]) (\d+) (\d+)$/.exec(line);
    if (m === null) continue;
    const stream = STREAM_OF[m[1]!]!;
    const end = Number(m[2]);
    index.copied[stream] = Number(m[3]);
    if (end <= index.end) continue;
    const last = index.runs[index.runs.length - 1];
    if (last !== undefined && last.stream === stream && last.end === index.end) last.end = end;
    else index.runs.push({ stream, start: index.end, end });
    index.end = end;
  }
  return index;
}

/** A byte range of a file (or of `bytes`, a marker), part of what one view of a log shows. */
interface Segment {
  file: string;
  stream: "stdout" | "stderr" | "output";
  start: number;
  end: number;
  bytes?: Buffer;
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
 * move when the pump catches up. With `markers`, a view whose older output was dropped starts
 * with the marker that says how much (D115).
 */
function segments(dir: string, view: LogStream, tails: boolean, markers = true): Segment[] {
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
  const found: Segment[] = [];
  if (markers && view === "output" && index.marker > 0)
    found.push({ file: output, stream: "output", start: 0, end: index.marker });
  if (markers && view !== "output" && index.dropped[view] > 0) {
    const bytes = Buffer.from(capMarker(view, index.cap, index.dropped));
    found.push({ file: output, stream: view, start: 0, end: bytes.length, bytes });
  }
  for (const r of index.runs)
    if (view === "output" || r.stream === view)
      found.push({ file: output, stream: r.stream, start: r.start, end: r.end });
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
      const bytes =
        part.bytes?.subarray(part.start + lo - at, part.start + hi - at) ??
        withLog(part.file, (fd) => readSlice(fd, part.start + lo - at, hi - lo));
      if (bytes !== undefined && bytes.length > 0) pieces.push({ stream: part.stream, bytes });
    }
    at += length;
    if (at >= to) break;
  }
  return pieces;
}

const total = (parts: Segment[]): number => parts.reduce((n, p) => n + p.end - p.start, 0);

/**
 * Where a window of a view that ends at `to` should start instead of `from` so that it starts at a
 * line start: past the partial first line when that line is at most half the window; a longer one
 * (a line longer than half the window, or with no line start in it at all) is shown from mid-line,
 * so a long last line never shrinks the window to the few bytes after it. What every reader of
 * "the last N bytes" uses: the dashboard's and HTTP's first window, `logs -n`, `logs -f` and MCP's
 * logs.
 */
function lineStartFrom(parts: Segment[], from: number, to: number): number {
  if (from <= 0 || from >= to) return from;
  const bytes = Buffer.concat(readRange(parts, from - 1, to).map((p) => p.bytes));
  const newline = bytes.indexOf(0x0a);
  const start = from + newline; // just past that newline (bytes begin at from - 1)
  return newline < 0 || to - start < (to - from) / 2 ? from : start;
}

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
 * `offset` is undefined or past the end (the log was cut to its cap since), less the partial first
 * line (a line start, unless one line is longer than that). Stops before a UTF-8 character that
 * the slice would cut in two; that character comes with the next read.
 */
export function readLogChunk(
  dir: string,
  view: LogStream,
  offset: number | undefined,
  max: number,
): LogChunk {
  const parts = segments(dir, view, false);
  const size = total(parts);
  const from =
    offset === undefined || offset > size ? lineStartFrom(parts, Math.max(0, size - max), size) : offset;
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
 * number of lines (a megabyte of output without a newline is one line), from a line start.
 */
export function tailLog(dir: string, view: LogStream, lines: number | "all", maxBytes = 1024 * 1024): string {
  const parts = segments(dir, view, true);
  const size = total(parts);
  const from = lines === "all" ? 0 : lineStartFrom(parts, Math.max(0, size - maxBytes), size);
  const text = Buffer.concat(readRange(parts, from, size).map((p) => p.bytes)).toString("utf8");
  if (lines === "all") return text;
  const all = text.split("\n");
  const open = all[all.length - 1] !== "";
  if (!open) all.pop();
  return all.slice(-lines).join("\n") + (open || all.length === 0 ? "" : "\n");
}

/**
 * All of one stream of an attempt (its last megabyte at most): what task and agent outcomes parse.
 * Only the command's own output: no marker of dropped output.
 */
export function readStreamText(dir: string, stream: "stdout" | "stderr", maxBytes = 1024 * 1024): string {
  const parts = segments(dir, stream, true, false);
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
  const from = lineStartFrom(parts, Math.max(0, size - maxBytes), size);
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
