/**
 * Moves one attempt's output into the one file it is stored in (D56). The command writes
 * `stdout.log` and `stderr.log` itself (its output survives the daemon); the pump copies their
 * new bytes into `output.log` whole lines at a time, in the order it sees them, and appends to
 * `output.idx` which byte range of output.log came from which stream and how far each file was
 * copied (so a restarted daemon continues where this one stopped). When the attempt ends, the
 * pump copies what is left (a last line without a newline too) and removes the two files: the
 * output is then stored once, and read per stream or merged through the index (run-dir.ts).
 *
 * Caps, per attempt: a stream file over the cap is emptied after its newest bytes are copied (the
 * command appends with O_APPEND, so it simply continues at offset 0) and the dropped byte count
 * is noted in output.log; output.log over the cap starts over with a marker (D27).
 */
import type { FSWatcher } from "node:fs";
import {
  appendFileSync,
  closeSync,
  ftruncateSync,
  openSync,
  fstatSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  truncateSync,
  watch,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { INDEX, readIndex } from "./run-dir.js";

const CHUNK = 256 * 1024;
/** A line longer than this is copied in pieces rather than waited for. */
const LONGEST_LINE = 64 * 1024;
/**
 * One copy buffer for every pump of the process: pumping is synchronous, so no two pumps ever use
 * it at once. (A buffer per pump cost the daemon 256 KiB of resident memory per running command.)
 */
let shared: Buffer | undefined;
const chunkBuffer = (): Buffer => (shared ??= Buffer.allocUnsafe(CHUNK));

interface Source {
  name: "stdout" | "stderr";
  tag: "o" | "e";
  file: string;
  /** Bytes of the file copied so far. */
  offset: number;
  /** Uncopied bytes cut away from this file so far, over the whole attempt. */
  dropped: number;
}

const NEWLINE = 0x0a;

export class LogPump {
  readonly dir: string;
  private readonly capBytes: number;
  private readonly sources: Source[];
  private readonly output: string;
  private readonly index: string;
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
    this.index = join(dir, INDEX);
    this.sources = (["stdout", "stderr"] as const).map((name) => ({
      name,
      tag: name === "stdout" ? "o" : "e",
      file: join(dir, `${name}.log`),
      offset: 0,
      dropped: 0,
    }));
    this.lastOutputAt = Date.now();
    this.onOutput = onOutput;
    this.resume();
  }

  /**
   * Continue where the index says (a restarted daemon re-attaching). Bytes appended to output.log
   * after the index's last run were never acknowledged (the daemon died between the two writes):
   * they are cut off and copied again. A folder an older baton started (output.log, no index)
   * gets an index that calls what output.log holds stdout and counts both files as copied.
   */
  private resume(): void {
    const size = this.size(this.output);
    const index = readIndex(this.dir);
    if (index === undefined) {
      if (size > 0) {
        const [out, err] = this.sources.map((s) => this.size(s.file));
        this.rewriteIndex(`o ${size} ${out}\ne ${size} ${err}\n`);
        this.sources[0]!.offset = out!;
        this.sources[1]!.offset = err!;
      }
      this.outputBytes = size;
      return;
    }
    for (const s of this.sources) s.offset = index.copied[s.name];
    if (size > index.end) truncateSync(this.output, index.end);
    this.outputBytes = index.end;
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

  /**
   * Stop following. `ended`: the attempt's processes are gone, so nothing writes the stream files
   * any more: what is left is copied (a last line without its newline too) and the files are
   * removed. Otherwise (a daemon shutting down with the command still running) they stay for the
   * next daemon.
   */
  stop(ended = false): void {
    for (const w of this.watchers) w.close();
    this.watchers = [];
    const moved = this.pump(ended);
    if (ended && moved) for (const s of this.sources) rmSync(s.file, { force: true });
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
   * writes after the truncation land at offset 0 and are copied from there (D27). The only window
   * left is between the last size check and the truncation, a few microseconds.
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

  /**
   * Copy whatever is new, whole lines only (a line longer than LONGEST_LINE in pieces; with
   * `flush`, a last line without a newline too); enforce the caps. Cheap when nothing changed.
   * Never throws: it runs from file watchers and timers, where an exception would end the daemon
   * . False when output.log could not be written (a full disk): the stream files keep what
   * was not moved, for the next pump.
   */
  pump(flush = false): boolean {
    try {
      this.copy(flush);
      return true;
    } catch {
      return false;
    }
  }

  private copy(flush: boolean): void {
    let grew = false;
    for (const source of this.sources) {
      let size = this.size(source.file);
      if (size < source.offset) source.offset = 0; // truncated under us
      if (size > this.capBytes) {
        // Over the cap: copy its newest bytes (so the end of the output survives), empty it, and
        // follow it from the start: the command, appending with O_APPEND, continues at offset 0.
        const { fresh, dropped } = this.cutToTail(source.file, source.offset);
        source.offset = 0;
        if (dropped > 0) {
          source.dropped += dropped;
          this.note(source, this.dropMarker(source));
        }
        this.append(source, fresh, 0);
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
          const newline = buffer.lastIndexOf(NEWLINE, n - 1);
          const take = flush ? n : newline >= 0 ? newline + 1 : n >= LONGEST_LINE ? n : 0;
          if (take === 0) break; // a partial line: wait for the rest
          this.append(source, buffer.subarray(0, take), source.offset + take);
          grew = true;
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

  /**
   * Append bytes of `source` to output.log, then the index line that acknowledges them and says
   * the source is copied up to `copiedTo`.
   */
  private append(source: Source, chunk: Buffer, copiedTo: number): void {
    if (this.outputBytes + chunk.length > this.capBytes) {
      // Keep the newest output: start output.log (and its index) over with a marker.
      this.rewriteIndex(this.sources.map((s) => `${s.tag} 0 ${s.offset}\n`).join(""));
      try {
        truncateSync(this.output, 0);
      } catch {
        return;
      }
      this.outputBytes = 0;
      this.droppedNoted = false;
      this.note(source, `[baton: output exceeded the ${this.capBytes}-byte cap; earlier output dropped]\n`);
      // Starting over must not erase what was said about dropped command output: repeat it.
      for (const s of this.sources) if (s.dropped > 0) this.note(s, this.dropMarker(s));
    }
    source.offset = copiedTo;
    this.write(source, chunk);
  }

  private write(source: Source, chunk: Buffer | string): void {
    const length = typeof chunk === "string" ? Buffer.byteLength(chunk) : chunk.length;
    if (length > 0) appendFileSync(this.output, chunk);
    this.outputBytes += length;
    appendFileSync(this.index, `${source.tag} ${this.outputBytes} ${source.offset}\n`);
  }

  /** Replace the index at once (a reader sees the old one or the new one). */
  private rewriteIndex(text: string): void {
    const tmp = `${this.index}.tmp`;
    writeFileSync(tmp, text, { mode: 0o600 });
    renameSync(tmp, this.index);
  }

  /** The running total of what was cut from one stream. */
  private dropMarker(source: Source): string {
    return `[baton: ${source.name} exceeded the ${this.capBytes}-byte cap; ${source.dropped} bytes dropped]\n`;
  }

  private note(source: Source, text: string): void {
    if (this.droppedNoted && text.startsWith("[baton: output")) return;
    this.write(source, text);
  }
}
