/**
 * A reader never takes a live attempt's output for an older baton's unlabelled log: the pump
 * writes an empty output.idx before its first append to output.log, so bytes appended ahead of
 * their index line are read from the stream files with their stream. Without it, the first line of
 * a `run --follow --json` came out as stream `output` on a loaded machine (a full-suite run).
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LogPump } from "../src/supervisor/log-pump.js";
import { INDEX, readIndex, readLogChunk } from "../src/supervisor/run-dir.js";
import { tempDir } from "./helpers/tmp.js";

describe("output.idx before the first byte of output.log", () => {
  it("a new pump writes an empty index; output appended ahead of its index line keeps its stream", () => {
    const dir = tempDir("baton-log-index-");
    writeFileSync(join(dir, "stdout.log"), "");
    writeFileSync(join(dir, "stderr.log"), "");
    new LogPump(dir, 1 << 20);
    expect(existsSync(join(dir, INDEX))).toBe(true);
    expect(readFileSync(join(dir, INDEX), "utf8")).toBe("");
    expect(readIndex(dir)).toMatchObject({ runs: [], end: 0 });
    // The moment between the pump's two writes: the command's line is in stdout.log and appended
    // to output.log, its index line not yet written.
    appendFileSync(join(dir, "stdout.log"), "out\n");
    appendFileSync(join(dir, "output.log"), "out\n");
    // The merged view (what `run --follow --json` labels per stream) holds no unlabelled piece:
    // the line shows once its index line says whose it is.
    const merged = readLogChunk(dir, "output", 0, 1000);
    expect((merged.pieces ?? []).map((p) => p.stream)).not.toContain("output");
  });

  it("a folder with no index at all is still read as an older baton's (output.log as it is)", () => {
    const dir = tempDir("baton-log-index-");
    writeFileSync(join(dir, "output.log"), "old\n");
    expect(readIndex(dir)).toBeUndefined();
  });
});
