/**
 * A command flooding its output, and one forking 500 children (RELIABILITY.md R-29): the stored
 * log stays capped without stopping the job, the daemon's memory stays bounded, and a cancel
 * leaves no descendant behind.
 */
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readLogChunk, tailLog } from "../src/supervisor/run-dir.js";
import {
  FIXTURES,
  attemptRows,
  cliAsync,
  cliJson,
  daemonPid,
  groupMembers,
  jobRow,
  newHome,
  processRecords,
  sleep,
  until,
} from "./helpers/supervisor.js";

const CAP = 1024 * 1024;

function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

describe("R-29 logs after a cap", () => {
  it("NUL bytes a command wrote are its output: reading the last lines returns them as they are", () => {
    // An older baton's run folder (output.log, no index) is read as it was.
    const dir = mkdtempSync(join(tmpdir(), "btl-"));
    const file = join(dir, "output.log");
    // The flood's last line fell into a cut: its zeros run straight into the next line.
    writeFileSync(file, `kept\n${"\0".repeat(100_000)}all-done\n`);
    expect(tailLog(dir, "output", 1)).toBe(`${"\0".repeat(100_000)}all-done\n`);
    expect(tailLog(dir, "output", 2)).toBe(`kept\n${"\0".repeat(100_000)}all-done\n`);
    expect(tailLog(dir, "output", 2, 1000)).toBe(`${"\0".repeat(991)}all-done\n`);
    writeFileSync(file, "");
    expect(tailLog(dir, "output", 1)).toBe("");
  });

  it("a chunk read from an offset never splits a UTF-8 character, and starts over from the end after a cut", () => {
    const dir = mkdtempSync(join(tmpdir(), "btl-"));
    writeFileSync(join(dir, "output.log"), "ab\u00e9cd"); // é is 2 bytes: a b [c3 a9] c d
    const read = (offset: number, max: number) => {
      const { pieces: _pieces, ...chunk } = readLogChunk(dir, "output", offset, max);
      return chunk;
    };
    expect(read(0, 3)).toEqual({ start: 0, offset: 2, size: 6, text: "ab" });
    expect(read(2, 3)).toEqual({ start: 2, offset: 5, size: 6, text: "\u00e9c" });
    expect(read(5, 3)).toEqual({ start: 5, offset: 6, size: 6, text: "d" });
    // The log was cut below the reader's offset: its newest bytes, not nothing.
    expect(read(100, 2)).toEqual({ start: 4, offset: 6, size: 6, text: "cd" });
    expect(readLogChunk(join(dir, "missing"), "output", 0, 10)).toMatchObject({
      offset: 0,
      size: 0,
      text: "",
    });
  });
});

describe("R-29 output floods and fork bombs", () => {
  it(
    "R-29 a command writing 1 GiB to stdout: its logs stay under BATON_LOG_CAP_BYTES, truncation is marked, it runs to completion, daemon RSS stays bounded",
    { timeout: 180_000 },
    async () => {
      const home = newHome({ BATON_LOG_CAP_BYTES: String(CAP) });
      // 1 GiB (the fixture's default), a pause, then a last line.
      const { id } = cliJson(home, [
        "run",
        "--name",
        "flood",
        "--",
        "sh",
        "-c",
        'sh "$1" && sleep 1 && echo all-done',
        "flood",
        join(FIXTURES, "flood.sh"),
      ]);
      const daemon = daemonPid(home)!;
      let peak = 0;
      let done = false;
      const watching = (async () => {
        while (!done) {
          peak = Math.max(peak, rssBytes(daemon));
          await sleep(100);
        }
      })();
      const waited = await cliAsync(home, ["wait", id]);
      done = true;
      await watching;
      expect(waited.code).toBe(0);
      expect(jobRow(home, id).state).toBe("succeeded");
      expect(attemptRows(home, id)[0]!.exit_code).toBe(0);

      const dir = join(home.dir, "runs", id, "1");
      // Stored once (D56): the stream files the command wrote are gone, output.log is capped.
      for (const name of ["stdout.log", "stderr.log"]) expect(existsSync(join(dir, name)), name).toBe(false);
      expect(statSync(join(dir, "output.log")).size).toBeLessThanOrEqual(CAP + 1024);
      expect(statSync(join(dir, "output.idx")).size).toBeLessThan(64 * 1024);
      const output = readFileSync(join(dir, "output.log"), "utf8");
      // It starts with the marker that counts what was dropped (D115): 1 GiB and the last line,
      // less what is kept.
      const marker =
        /^\[baton: output exceeded the 1048576-byte cap; (\d+) bytes dropped \(stdout (\d+), stderr 0\)\]\n/.exec(
          output,
        );
      expect(marker).not.toBeNull();
      expect(Number(marker![1])).toBe(Number(marker![2]));
      // (At least half the cap is kept unless the flood outran the copy until its last
      // megabytes: its stream file is then cut at 4 caps regardless, D115.)
      expect(Buffer.byteLength(output)).toBeGreaterThan(Buffer.byteLength(marker![0]));
      // The newest output is kept: the end of the run is there. (The flood's own last line,
      // written with no pause after 1 GiB, can fall in the microseconds between the pump's last
      // size check and its truncation of stdout.log when the machine is loaded; the line written
      // after the flood cannot. See LogPump.cutToTail.)
      expect(JSON.stringify(output.slice(-300).replace(/\0+/g, "<zeros>"))).toMatch(
        /<zeros>(\\nflood-done\\n)?all-done\\n"$/,
      );
      // When the flood's own last line fell into the cut, its zeros run into the next line.
      const last = (args: string[]): string => cliJson(home, ["logs", id, "-n", "1", ...args]).text;
      expect(last([]).replace(/^\0+/, "")).toBe("all-done\n");
      expect(last(["--stdout"]).replace(/^\0+/, "")).toBe("all-done\n");
      expect(peak).toBeGreaterThan(10 * 1024 * 1024); // sampled while it ran
      expect(peak).toBeLessThan(250 * 1024 * 1024);
    },
  );

  it(
    "R-29 a command that forks 500 children and is cancelled leaves 0 descendants",
    { timeout: 120_000 },
    async () => {
      const home = newHome({ BATON_KILL_GRACE_MS: "2000" });
      const { id } = cliJson(home, ["run", "--", "sh", join(FIXTURES, "fork-many.sh"), "500", "300"]);
      await until("500 children", () => cliJson(home, ["logs", id]).text.includes("forked 500"), 60_000, 200);
      const [record] = processRecords(home);
      const members = groupMembers(record!.pid);
      expect(members.length).toBeGreaterThanOrEqual(500);
      expect(cliJson(home, ["stop", id]).state).toBe("cancelled");
      expect(groupMembers(record!.pid)).toEqual([]);
      expect(attemptRows(home, id)[0]!.outcome).toBe("cancelled");
    },
  );
});
