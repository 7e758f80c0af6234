/**
 * Follows one attempt's stdout.log and stderr.log (written by the command itself), copies new bytes
 * into output.log in the order it sees them, and keeps every file under the size cap without
 * stopping the job: a file over the cap is emptied after its newest bytes are copied (the command
 * appends with O_APPEND, so it simply continues at offset 0) and the dropped byte count is noted
 * in output.log.
 */
import type { FSWatcher } from "node:fs";
import {
  appendFileSync,
  closeSync,
  ftruncateSync,
  openSync,
  fstatSync,
  readSync,
  statSync,
  watch,
} from "node:fs";
import { join } from "node:path";

const CHUNK = 256 * 1024;
/**
 * One copy buffer for every pump of the process: pumping is synchronous, so no two pumps ever use
 * it at once. (A buffer per pump cost the daemon 256 KiB of resident memory per running command.)
 */
let shared: Buffer | undefined;
const chunkBuffer = (): Buffer => (shared ??= Buffer.allocUnsafe(CHUNK));

interface Source {
  name: "stdout" | "stderr";
  file: string;
  offset: number;
  /** Uncopied bytes cut away from this file so far, over the whole attempt. */
  dropped: number;
}

export class LogPump {
  readonly dir: string;
  private readonly capBytes: number;
  private readonly sources: Source[];
  private readonly output: string;
  private outputBytes = 0;
  private droppedNoted = false;
  private watchers: FSWatcher[] = [];
  /** When output last grew (for idle timeouts). */
  lastOutputAt: number;
  private readonly onOutput: (() => void) | undefined;

  constructor(dir: string, capBytes: number, onOutput?: () => void) {
    this.dir = dir;
    this.capBytes = capBytes;
    this.output = join(dir, "output.log");
    this.sources = (["stdout", "stderr"] as const).map((name) => ({
      name,
      file: join(dir, `${name}.log`),
      offset: 0,
      dropped: 0,
    }));
    this.lastOutputAt = Date.now();
    this.onOutput = onOutput;
    try {
      this.outputBytes = statSync(this.output).size;
    } catch {
      this.outputBytes = 0;
    }
    // Re-attaching after a restart: what output.log already holds was copied before.
    const copied = this.outputBytes;
    if (copied > 0) for (const s of this.sources) s.offset = Math.min(copied, this.size(s.file));
  }

  /** Watch both files; every change pumps. */
  start(): void {
    for (const source of this.sources) {
      try {
        const watcher = watch(source.file, () => this.pump());
        watcher.on("error", () => undefined);
        this.watchers.push(watcher);
      } catch {
        // The file vanished (job cleaned): nothing to follow.
      }
    }
    this.pump();
  }

  stop(): void {
    for (const w of this.watchers) w.close();
    this.watchers = [];
    this.pump();
  }

  private size(file: string): number {
    try {
      return statSync(file).size;
    } catch {
      return 0;
    }
  }

  /**
   * Empty `file`, returning its newest bytes that were not copied yet (after `from`; at most half
   * the cap, at most one chunk) and how many uncopied bytes before them are dropped.
   *
   * Nothing is written back into `file`: the command appends to it with O_APPEND, so bytes it
   * writes after the truncation land at offset 0 and are copied from there. Writing the tail back
   * (as this once did) raced with those appends: a line written between the truncation and the
   * write-back ended up before the tail, behind the copy offset, and never reached output.log (a
   * flood's last line went missing in CI). The only window left is between the last size check and
   * the truncation, a few microseconds. So after a cut, `stdout.log` / `stderr.log` hold what came
   * since; output.log holds the newest output across cuts.
   */
  private cutToTail(file: string, from: number): { fresh: Buffer; dropped: number } {
    let fd: number | undefined;
    try {
      fd = openSync(file, "r+");
      let size = fstatSync(fd).size;
      let n = 0;
      for (let tries = 0; tries < 5; tries++) {
        const length = Math.max(0, Math.min(size - from, Math.floor(this.capBytes / 2), CHUNK));
        n = length === 0 ? 0 : readSync(fd, chunkBuffer(), 0, length, size - length);
        const now = fstatSync(fd).size;
        if (now === size) break;
        size = now;
      }
      ftruncateSync(fd, 0);
      return {
        fresh: Buffer.from(chunkBuffer().subarray(0, n)),
        dropped: Math.max(0, size - n - from),
      };
    } catch {
      return { fresh: Buffer.alloc(0), dropped: 0 };
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  /** Copy whatever is new; enforce the caps. Cheap when nothing changed. */
  pump(): void {
    let grew = false;
    for (const source of this.sources) {
      let size = this.size(source.file);
      if (size < source.offset) source.offset = 0; // truncated under us
      if (size > this.capBytes) {
        // Over the cap: copy its newest bytes (so the end of the output survives), empty it, and
        // follow it from the start: the command, appending with O_APPEND, continues at offset 0.
        const { fresh, dropped } = this.cutToTail(source.file, source.offset);
        if (dropped > 0) {
          source.dropped += dropped;
          this.note(this.dropMarker(source));
        }
        if (fresh.length > 0) this.append(fresh);
        source.offset = 0;
        size = this.size(source.file);
        grew = true;
      }
      let fd: number | undefined;
      try {
        while (source.offset < size) {
          fd ??= openSync(source.file, "r");
          const buffer = chunkBuffer();
          const n = readSync(fd, buffer, 0, Math.min(CHUNK, size - source.offset), source.offset);
          if (n <= 0) break;
          source.offset += n;
          grew = true;
          this.append(buffer.subarray(0, n));
        }
      } catch {
        // A file removed or unreadable: stop copying it.
      } finally {
        if (fd !== undefined) closeSync(fd);
      }
    }
    if (grew) {
      this.lastOutputAt = Date.now();
      this.onOutput?.();
    }
  }

  private append(chunk: Buffer): void {
    if (this.outputBytes + chunk.length > this.capBytes) {
      // Keep the newest output: start output.log over with a marker.
      try {
        const fd = openSync(this.output, "r+");
        ftruncateSync(fd, 0);
        closeSync(fd);
      } catch {
        return;
      }
      this.outputBytes = 0;
      this.droppedNoted = false;
      this.note(`[baton: output exceeded the ${this.capBytes}-byte cap; earlier output dropped]\n`);
      // Starting over must not erase what was said about dropped command output: repeat it.
      for (const source of this.sources) if (source.dropped > 0) this.note(this.dropMarker(source));
    }
    appendFileSync(this.output, chunk);
    this.outputBytes += chunk.length;
  }

  /** The running total of what was cut from one stream. */
  private dropMarker(source: Source): string {
    return `[baton: ${source.name} exceeded the ${this.capBytes}-byte cap; ${source.dropped} bytes dropped]\n`;
  }

  private note(text: string): void {
    if (this.droppedNoted && text.startsWith("[baton: output")) return;
    appendFileSync(this.output, text);
    this.outputBytes += Buffer.byteLength(text);
  }
}
