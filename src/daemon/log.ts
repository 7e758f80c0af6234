/**
 * The daemon's own log. Its stderr is `daemon.log` (a file), and Node writes to a file stderr
 * synchronously and reports a failed write (ENOSPC on a full disk, EIO) as an 'error' event on
 * process.stderr: unhandled, it ends the daemon, mid-line (issue 17, stranger finding 2). Here a
 * line that cannot be written is dropped and counted, never thrown; the first line written after
 * says how many were lost. A line cut by a partial write is ended first, so the next one starts on
 * its own line.
 */
import { writeSync } from "node:fs";
import type { Timer } from "../core/timer.js";
import { every } from "../core/timer.js";

/** How often a log that lost lines tries to say so. */
const RETRY_MS = 1000;

export interface DaemonLog {
  (line: string): void;
  /** Lines dropped since the last one written. */
  readonly dropped: number;
}

/** A log writing whole lines to `fd` (the daemon's stderr), stamped, that never throws. */
export function daemonLog(fd = 2, now: () => Date = () => new Date()): DaemonLog {
  let dropped = 0;
  let lastError = "";
  let cut = false;
  const write = (text: string): boolean => {
    const bytes = Buffer.from(text);
    let at = 0;
    try {
      while (at < bytes.length) at += writeSync(fd, bytes, at, bytes.length - at);
      return true;
    } catch (error) {
      lastError = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      if (at > 0) cut = true;
      return false;
    }
  };
  let retry: Timer | undefined;
  /** Write `line` (or only the note of what was dropped); false when the log cannot be written. */
  const emit = (line: string | undefined): boolean => {
    const stamp = now().toISOString();
    let text = line === undefined ? "" : `${stamp} ${line}\n`;
    if (dropped > 0)
      text = `${stamp} ${dropped} log line${dropped === 1 ? "" : "s"} dropped (could not write the log: ${lastError})\n${text}`;
    if (cut) text = `\n${text}`;
    if (text === "" || write(text)) {
      dropped = 0;
      cut = false;
      retry?.cancel();
      retry = undefined;
      return true;
    }
    return false;
  };
  const log = ((line: string) => {
    if (emit(line)) return;
    dropped++;
    // Say what was lost as soon as the log can be written again, not at the next line only.
    retry ??= every(RETRY_MS, () => void emit(undefined), { unref: true });
  }) as DaemonLog;
  Object.defineProperty(log, "dropped", { get: () => dropped });
  return log;
}

/**
 * Keep stray writes to stdout/stderr (a library's warning, a console call) from ending the
 * daemon when the disk is full: an 'error' on either stream is ignored. The daemon's own lines go
 * through {@link daemonLog}, which counts what it could not write.
 */
export function survivePipeErrors(): void {
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.listenerCount("error") === 0) stream.on("error", () => undefined);
  }
}
