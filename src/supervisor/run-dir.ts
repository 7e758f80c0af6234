/**
 * Where a command job's files live: `<home>/runs/<job id>/<attempt>/` holds `stdout.log`,
 * `stderr.log`, `output.log` (both, interleaved in the order the supervisor saw them), `exit` (the
 * exit code, written by the wrapper) and `process.json` (pid, start time, lease token: what a
 * restarted daemon needs to re-attach). `<home>/runs/<job id>/env` holds the caller's environment
 * (0600) until the job finishes. Every path is resolved inside the data dir.
 */
import {
  closeSync,
  existsSync,
  fstatSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
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
  for (const name of ["stdout.log", "stderr.log", "output.log"]) {
    const file = join(dir, name);
    if (!existsSync(file)) writeFileSync(file, "", { mode: 0o600 });
  }
  return dir;
}

export function logPath(home: string, jobId: string, attempt: number, stream: LogStream): string {
  return inRuns(home, jobId, String(attempt), `${stream}.log`); // a planted link is refused too
}

function writePrivate(file: string, text: string): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, file);
}

/** Keep the caller's environment for this job's attempts; never stored in the database. */
export function saveEnv(home: string, jobId: string, env: NodeJS.ProcessEnv): void {
  const dir = jobDir(home, jobId);
  ensurePrivateDir(runsRoot(home));
  ensurePrivateDir(dir);
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

/**
 * Reads a slice of a log: `length` bytes from `position` of an open file, or fewer. The log may be
 * cut to its cap while this reads (LogPump): only the bytes the read returned count, never the
 * zeros of a buffer it did not fill.
 */
function readSlice(fd: number, position: number, length: number): Buffer {
  const buffer = Buffer.alloc(length);
  return buffer.subarray(0, length === 0 ? 0 : readSync(fd, buffer, 0, length, position));
}

/** Open a log and hand `read` its descriptor and size; undefined when it does not exist. */
function withLog<T>(file: string, read: (fd: number, size: number) => T): T | undefined {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch {
    return undefined;
  }
  try {
    return read(fd, fstatSync(fd).size);
  } finally {
    closeSync(fd);
  }
}

/** A piece of a log, read from a byte offset (the dashboard's live tail repeats this). */
export interface LogChunk {
  /** Where the next read should start. */
  offset: number;
  /** The log's size when read. */
  size: number;
  text: string;
}

/**
 * At most `max` bytes of a log from `offset`; from its last `max` bytes when `offset` is undefined
 * or past the end (the log was cut to its cap since). Stops before a UTF-8 character that the
 * slice would cut in two; that character comes with the next read.
 */
export function readLogChunk(file: string, offset: number | undefined, max: number): LogChunk {
  const chunk = withLog(file, (fd, size) => {
    const from = offset === undefined || offset > size ? Math.max(0, size - max) : offset;
    const bytes = readSlice(fd, from, Math.min(max, size - from));
    let end = bytes.length;
    let back = 0;
    while (back < 3 && end - back - 1 >= 0 && (bytes[end - back - 1]! & 0xc0) === 0x80) back++;
    const lead = bytes[end - back - 1];
    if (lead !== undefined && lead >= 0xc0) {
      const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
      if (back + 1 < need) end -= back + 1;
    }
    return { offset: from + end, size, text: bytes.subarray(0, end).toString("utf8") };
  });
  return chunk ?? { offset: 0, size: 0, text: "" };
}

/** The last `lines` lines of a log (reads at most `maxBytes` from the end). */
export function tailLog(file: string, lines: number, maxBytes = 1024 * 1024): string {
  const text =
    withLog(file, (fd, size) => {
      const length = Math.min(size, maxBytes);
      return readSlice(fd, size - length, length).toString("utf8");
    }) ?? "";
  const all = text.split("\n");
  if (all[all.length - 1] === "") all.pop();
  return all.slice(-lines).join("\n") + (all.length > 0 ? "\n" : "");
}
