/**
 * Moves one attempt's output into the one file it is stored in (D56). The command writes
 * `stdout.log` and `stderr.log` itself (its output survives the daemon); the pump copies their
 * new bytes into `output.log` whole lines at a time, in the order it sees them, and appends to
 * `output.idx` which byte range of output.log came from which stream and how far each file was
 * copied (so a restarted daemon continues where this one stopped). When the attempt ends, the
 * pump copies what is left (a last line without a newline too) and removes the two files: the
 * output is then stored once, and read per stream or merged through the index (run-dir.ts).
 *
 * Caps, per attempt (D115): output.log never holds more than the cap. When the next bytes would
 * pass it, output.log is rewritten as a marker (how many bytes of each stream were dropped in
 * all, also noted in output.idx) followed by its newest half-cap, from a line start when one is
 * near. When more than half a cap of a stream file is waiting to be copied (a pump that fell
 * behind, a daemon that was down), only its newest half-cap is copied, and everything older is
 * dropped and counted, with all output.log held (what is kept stays one piece, the end).
 *
 * A stream file's copied bytes are given back to the disk without cutting the file (D124): on
 * Linux, `fallocate --punch-hole` frees its copied start while the command goes on appending, so
 * no offset ever moves under a write and every byte the command wrote is copied or counted. Where
 * that cannot be done (no fallocate, a file system without holes) the file is emptied instead once
 * everything in it is copied (the command appends with O_APPEND, so it continues at offset 0);
 * what the command writes between the pump's last look and that cut is lost uncounted.
 */
import type { FSWatcher } from "node:fs";
import {
  appendFileSync,
  closeSync,
  fstatSync,
  ftruncateSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  truncateSync,
  watch,
  writeSync,
} from "node:fs";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { replaceFile } from "../core/paths.js";
import { join } from "node:path";
import { INDEX, capMarker, readIndex } from "./run-dir.js";

const CHUNK = 256 * 1024;
/** A line longer than this is copied in pieces rather than waited for. */
const LONGEST_LINE = 64 * 1024;
/** Room left in output.log for the marker (its counts have at most 20 digits each). */
const MARKER_ROOM = 256;
/** How often the pump copies what a stream file grew by before it gives up emptying it this time. */
const CATCH_UP_TRIES = 8;
/**
 * A stream file this many caps long is emptied even if the command writes faster than the pump
 * copies (its waiting bytes are then dropped and counted), so the disk it takes stays bounded.
 */
const SPOOL_LIMIT_CAPS = 4;
/**
 * Copied bytes of a stream file are given back (hole-punched) once this many, or a cap if more,
 * are held: a small cap does not start a process per line.
 */
const RELEASE_MIN = 8 * 1024 * 1024;
/** Whether copied bytes are punched out of the stream files; false once that failed (D124). */
let punching = process.platform === "linux";
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
  /** Bytes at the start of the file already punched out (given back to the disk). */
  released: number;
  /** Bytes of this stream that output.log does not hold, over the whole attempt. */
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
  /** Bytes at the start of output.log that are baton's marker, not the command's output. */
  private markerBytes = 0;
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
      released: 0,
      dropped: 0,
    }));
    this.lastOutputAt = Date.now();
    this.onOutput = onOutput;
    this.resume();
  }

  /** The newest output kept when output.log is cut: half the cap. */
  private get half(): number {
    return Math.max(1, Math.floor(this.capBytes / 2));
  }

  /** How far before the newest half-cap a kept piece may start, to start at a line start. */
  private get room(): number {
    return Math.max(0, this.capBytes - this.half - MARKER_ROOM);
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
      // Before the first append: an empty index says "this baton's, nothing acknowledged yet".
      if (size === 0) this.rewriteIndex("");
      if (size > 0) {
        const [out, err] = this.sources.map((s) => this.size(s.file));
        this.rewriteIndex(`o ${size} ${out}\ne ${size} ${err}\n`);
        this.sources[0]!.offset = out!;
        this.sources[1]!.offset = err!;
      }
      this.outputBytes = size;
      return;
    }
    for (const s of this.sources) {
      s.offset = index.copied[s.name];
      s.dropped = index.dropped[s.name];
    }
    if (size > index.end) truncateSync(this.output, index.end);
    this.outputBytes = index.end;
    this.markerBytes = index.marker;
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
      let fd: number | undefined;
      try {
        fd = openSync(source.file, "r+");
      } catch {
        continue; // a file removed or unreadable: nothing to copy
      }
      try {
        const size = fstatSync(fd).size;
        if (size < source.offset) source.offset = source.released = 0; // truncated under us
        this.skipAhead(source, fd, size);
        grew = this.copyUpTo(source, fd, size, flush) || grew;
        if (punching) this.release(source);
        else if (size > this.capBytes) grew = this.empty(source, fd) || grew;
      } finally {
        closeSync(fd);
      }
    }
    if (grew) {
      this.lastOutputAt = Date.now();
      this.onOutput?.();
    }
  }

  /** Copy `source` from its offset up to `size` (whole lines unless `flush`); true if any moved. */
  private copyUpTo(source: Source, fd: number, size: number, flush: boolean): boolean {
    let moved = false;
    while (source.offset < size) {
      const buffer = chunkBuffer();
      const n = readSync(fd, buffer, 0, Math.min(CHUNK, size - source.offset), source.offset);
      if (n <= 0) break;
      const newline = buffer.lastIndexOf(NEWLINE, n - 1);
      const take = flush ? n : newline >= 0 ? newline + 1 : n >= LONGEST_LINE ? n : 0;
      if (take === 0) break; // a partial line: wait for the rest
      this.append(source, buffer.subarray(0, take), source.offset + take);
      moved = true;
    }
    return moved;
  }

  /**
   * When more than half a cap of `source` waits to be copied (the pump fell behind), skip to its
   * newest half-cap (from a line start when one is near). What output.log holds is older than the
   * bytes skipped, so it goes too: the kept output stays one piece, the end of the command's
   * output, and every byte left out is counted.
   */
  private skipAhead(source: Source, fd: number, size: number): void {
    if (size - source.offset <= this.half) return;
    const skip = size - this.half - source.offset;
    const from = this.lineStart(fd, size - this.half, Math.min(this.room, skip));
    this.compact(0, source, from - source.offset);
    source.offset = from;
  }

  /**
   * Punch the copied start of a stream file out once it holds enough (D124): its size and every
   * offset stay as they are, so the command's appends race with nothing. A failure (no fallocate,
   * a file system without holes) turns punching off for good; the files are then emptied instead.
   */
  private release(source: Source): void {
    if (source.offset - source.released < Math.max(this.capBytes, RELEASE_MIN)) return;
    const args = ["--punch-hole", "--offset", "0", "--length", String(source.offset), source.file];
    const done = spawnSync("fallocate", args, { stdio: "ignore" });
    if (done.status === 0) source.released = source.offset;
    else punching = false;
  }

  /**
   * Where punching is not possible: empty a stream file that is over the cap once everything in it is copied: the command,
   * appending with O_APPEND, continues at offset 0 (D27). What it wrote while this copied is
   * copied first (its newest half-cap at most), a few times; a command still writing faster than
   * that keeps its file until the next pump, unless the file is SPOOL_LIMIT_CAPS caps long: then
   * it is emptied at once and the bytes waiting in it are dropped and counted, with everything
   * before them (the output kept stays one piece: what comes after the cut). A write landing
   * between the last size check and the truncation is lost uncounted: the command writes the file
   * itself, so the cut cannot be atomic with its writes (microseconds, or as long as the daemon is
   * preempted there on a loaded machine).
   */
  private empty(source: Source, fd: number): boolean {
    let moved = false;
    for (let tries = 0; tries < CATCH_UP_TRIES; tries++) {
      const now = fstatSync(fd).size;
      if (now === source.offset) {
        ftruncateSync(fd, 0);
        source.offset = 0;
        this.write(source, "");
        return moved;
      }
      if (now < source.offset) return moved; // emptied by someone else: the next pump starts over
      this.skipAhead(source, fd, now);
      moved = this.copyUpTo(source, fd, now, true) || moved;
    }
    const now = fstatSync(fd).size;
    if (now <= SPOOL_LIMIT_CAPS * this.capBytes) return moved;
    ftruncateSync(fd, 0);
    this.compact(0, source, Math.max(0, now - source.offset));
    source.offset = 0;
    this.write(source, "");
    return true;
  }

  /**
   * Where the line around `pos` of an open file starts, looking back at most `budget` bytes (and
   * one longest line); `pos` itself when no line starts there.
   */
  private lineStart(fd: number, pos: number, budget: number): number {
    const back = Math.min(LONGEST_LINE, Math.max(0, budget), pos);
    if (back === 0) return pos;
    const buffer = chunkBuffer();
    const n = readSync(fd, buffer, 0, back, pos - back);
    if (n < back) return pos;
    if (buffer[back - 1] === NEWLINE) return pos;
    const newline = buffer.lastIndexOf(NEWLINE, back - 1);
    return newline < 0 ? pos : pos - back + newline + 1;
  }

  /**
   * Append bytes of `source` to output.log, then the index line that acknowledges them and says
   * the source is copied up to `copiedTo`. Past the cap, output.log keeps its newest half-cap
   * first (the chunk included).
   */
  private append(source: Source, chunk: Buffer, copiedTo: number): void {
    let bytes = chunk;
    if (this.outputBytes + bytes.length > this.capBytes) {
      bytes = Buffer.from(bytes); // the chunk is in the shared buffer, which the rewrite uses
      if (bytes.length >= this.half) {
        const cut = bytes.length - this.half;
        this.compact(0, source, cut);
        bytes = bytes.subarray(cut);
      } else this.compact(this.half - bytes.length);
    }
    source.offset = copiedTo;
    this.write(source, bytes);
  }

  /**
   * Rewrite output.log as the marker followed by its newest `keep` bytes of output (from a line
   * start when one is within the room the cap leaves), and its index to match. Every byte left
   * out is counted as dropped for its stream, and `extra` more bytes for `skipped` (bytes of its
   * file never copied). The new file and index replace the old ones by renames: a reader sees
   * one or the other, and output.log before its index, so a restarted pump finds the index no
   * longer than the file.
   */
  private compact(keep: number, skipped?: Source, extra = 0): void {
    const index = readIndex(this.dir);
    const dataStart = this.markerBytes;
    let cut = Math.max(dataStart, this.outputBytes - keep);
    if (cut > dataStart && keep > 0) {
      const fd = openSync(this.output, "r");
      try {
        cut = Math.max(dataStart, this.lineStart(fd, cut, Math.min(this.room, cut - dataStart)));
      } finally {
        closeSync(fd);
      }
    }
    const dropped = { stdout: this.sources[0]!.dropped, stderr: this.sources[1]!.dropped };
    for (const run of index?.runs ?? []) {
      const lo = Math.max(run.start, dataStart);
      const hi = Math.min(run.end, cut);
      if (hi > lo) dropped[run.stream] += hi - lo;
    }
    if (skipped !== undefined) dropped[skipped.name] += extra;
    const marker = Buffer.from(capMarker("output", this.capBytes, dropped));
    this.rewriteOutput(marker, cut);
    const shift = cut - marker.length;
    const lines = [`d ${dropped.stdout} ${dropped.stderr} ${this.capBytes}`, `m ${marker.length}`];
    for (const s of this.sources) lines.push(`${s.tag} ${marker.length} ${s.offset}`);
    const offsetOf = (stream: "stdout" | "stderr"): number =>
      this.sources[stream === "stdout" ? 0 : 1]!.offset;
    for (const run of index?.runs ?? [])
      if (run.end > cut)
        lines.push(`${run.stream === "stdout" ? "o" : "e"} ${run.end - shift} ${offsetOf(run.stream)}`);
    this.rewriteIndex(lines.join("\n") + "\n");
    this.sources[0]!.dropped = dropped.stdout;
    this.sources[1]!.dropped = dropped.stderr;
    this.outputBytes = marker.length + this.outputBytes - cut;
    this.markerBytes = marker.length;
  }

  /** Replace output.log by `marker` and its bytes from `from` on, copied a chunk at a time. */
  private rewriteOutput(marker: Buffer, from: number): void {
    const tmp = join(this.dir, `.output.log.${process.pid}-${randomBytes(4).toString("hex")}.tmp`);
    let out: number | undefined;
    let src: number | undefined;
    try {
      out = openSync(tmp, "wx", 0o600);
      writeSync(out, marker);
      src = openSync(this.output, "r");
      const buffer = chunkBuffer();
      for (let at = from; at < this.outputBytes;) {
        const n = readSync(src, buffer, 0, Math.min(CHUNK, this.outputBytes - at), at);
        if (n <= 0) break;
        writeSync(out, buffer, 0, n);
        at += n;
      }
      closeSync(out);
      out = undefined;
      renameSync(tmp, this.output);
    } catch (error) {
      rmSync(tmp, { force: true });
      throw error;
    } finally {
      if (out !== undefined) closeSync(out);
      if (src !== undefined) closeSync(src);
    }
  }

  private write(source: Source, chunk: Buffer | string): void {
    const length = typeof chunk === "string" ? Buffer.byteLength(chunk) : chunk.length;
    if (length > 0) appendFileSync(this.output, chunk);
    this.outputBytes += length;
    appendFileSync(this.index, `${source.tag} ${this.outputBytes} ${source.offset}\n`);
  }

  /** Replace the index at once (a reader sees the old one or the new one). */
  private rewriteIndex(text: string): void {
    replaceFile(this.index, text); // this writer's own temporary: another pump never shares it
  }
}
