/**
 * The log cap (D115) with real commands writing three caps of output, fast and slowly: output.log
 * ends up as a marker with the true number of bytes dropped (written − kept) followed by the real
 * end of the output, at least half a cap of it; `baton logs` (merged and per stream), readLogChunk
 * (the HTTP log route's and MCP's reader) and the HTTP route itself agree.
 */
import { existsSync, mkdirSync, readFileSync, statSync, symlinkSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { readIndex, readLogChunk } from "../src/supervisor/run-dir.js";
import { request, startTestServer } from "./helpers/http.js";
import type { TestServer } from "./helpers/http.js";
import { cliAsync, cliJson, jobRow, newHome, sleep, stopDaemon, until } from "./helpers/supervisor.js";
import type { Home } from "./helpers/supervisor.js";

const CAP = 256 * 1024;

/** The bytes a `yes <word> | head -c <n>` writes. */
function yesOutput(word: string, n: number): string {
  const line = `${word}\n`;
  return line.repeat(Math.ceil(n / line.length)).slice(0, n);
}

/** Numbered lines, `count` of them: what the slow writer below writes. */
/** What `seq 1 <n>` writes. */
function seqOutput(n: number): string {
  const lines: string[] = [];
  for (let i = 1; i <= n; i++) lines.push(String(i));
  return lines.join("\n") + "\n";
}

function numbered(prefix: string, count: number): string {
  let text = "";
  for (let i = 0; i < count; i++) text += `${prefix} ${String(i).padStart(6, "0")} ${"x".repeat(50)}\n`;
  return text;
}

/** A node command that writes `count` numbered lines to `fd`, 40 at a time, pausing `pauseMs` between writes. */
function slowWriter(prefix: string, count: number, pauseMs: number, fd = 1): string[] {
  const script = `
    const fs = require("node:fs");
    let i = 0;
    const line = (n) => ${JSON.stringify(prefix)} + " " + String(n).padStart(6, "0") + " " + "x".repeat(50) + "\\n";
    const next = () => {
      let text = "";
      for (let k = 0; k < 40 && i < ${count}; k++) text += line(i++);
      fs.writeSync(${fd}, text);
      if (i < ${count}) setTimeout(next, ${pauseMs});
    };
    next();`;
  return ["node", "-e", script];
}

function marker(view: string, dropped: number, out?: number, err?: number): string {
  const split = view === "output" ? ` (stdout ${out}, stderr ${err})` : "";
  return `[baton: ${view} exceeded the ${CAP}-byte cap; ${dropped} bytes dropped${split}]\n`;
}

/** Split a view's text into its marker's count and what follows it. */
function parse(view: string, text: string): { dropped: number; kept: string } {
  const m = new RegExp(
    `^\\[baton: ${view} exceeded the ${CAP}-byte cap; (\\d+) bytes dropped[^\\]]*\\]\\n`,
  ).exec(text);
  expect(m, `${view} starts with its marker: ${JSON.stringify(text.slice(0, 200))}`).not.toBeNull();
  return { dropped: Number(m![1]), kept: text.slice(m![0].length) };
}

async function runToEnd(home: Home, command: string[]): Promise<string> {
  const { id } = cliJson(home, ["run", "--", ...command]);
  const waited = await cliAsync(home, ["wait", id]);
  expect(waited.code, waited.stdout + waited.stderr).toBe(0);
  return id as string;
}

const logs = (home: Home, id: string, ...args: string[]): string =>
  cliJson(home, ["logs", id, "-n", "all", ...args]).text as string;

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/**
 * Check every view of a finished command's log against what it wrote: each starts with its
 * marker (when anything of it was dropped) whose count is written − kept, then the real end.
 */
async function checkViews(
  home: Home,
  id: string,
  written: { stdout: string; stderr: string },
): Promise<void> {
  const dir = join(home.dir, "runs", id, "1");
  for (const name of ["stdout.log", "stderr.log"]) expect(existsSync(join(dir, name)), name).toBe(false);
  expect(statSync(join(dir, "output.log")).size).toBeLessThanOrEqual(CAP);
  const file = readFileSync(join(dir, "output.log"), "utf8");
  const merged = logs(home, id);
  expect(merged).toBe(file);
  const { dropped, kept } = parse("output", merged);
  const total = written.stdout.length + written.stderr.length;
  expect(dropped).toBe(total - kept.length);
  expect(kept.length).toBeGreaterThanOrEqual(Math.min(total, CAP / 2));
  const streams = { stdout: 0, stderr: 0 };
  for (const stream of ["stdout", "stderr"] as const) {
    const text = logs(home, id, `--${stream}`);
    const all = written[stream];
    let tail = text;
    if (text.startsWith("[baton:")) {
      const view = parse(stream, text);
      tail = view.kept;
      expect(view.dropped, stream).toBe(all.length - tail.length);
      expect(text.startsWith(marker(stream, view.dropped))).toBe(true);
    } else expect(tail, stream).toBe(all);
    // The kept bytes are the real end of what the stream wrote.
    expect(all.endsWith(tail), `${stream} keeps its end`).toBe(true);
    streams[stream] = all.length - tail.length;
    // What the HTTP route and MCP read (readLogChunk) is the same text.
    expect(readLogChunk(dir, stream, 0, 4 * CAP).text).toBe(text);
  }
  expect(merged.startsWith(marker("output", dropped, streams.stdout, streams.stderr))).toBe(true);
  expect(readLogChunk(dir, "output", 0, 4 * CAP).text).toBe(merged);
  server ??= await startTestServer({ home: home.dir });
  for (const stream of ["output", "stdout", "stderr"]) {
    const answer = await request(`${server.base}/api/jobs/${id}/log?stream=${stream}&offset=0&max=${CAP}`);
    expect(answer.status, answer.text).toBe(200);
    expect(answer.body.data.text).toBe(readLogChunk(dir, stream as "output", 0, CAP).text);
  }
}

describe("D115 the log cap keeps the newest half-cap and counts what it dropped", () => {
  it("a fast writer: 3 caps of stdout in one burst", { timeout: 60_000 }, async () => {
    const home = newHome({ BATON_LOG_CAP_BYTES: String(CAP) });
    const id = await runToEnd(home, ["sh", "-c", `yes 0123456789abcdef | head -c ${3 * CAP}`]);
    const stdout = yesOutput("0123456789abcdef", 3 * CAP);
    await checkViews(home, id, { stdout, stderr: "" });
    expect(logs(home, id, "--stderr")).toBe("");
  });

  it("a fast writer on both streams: stdout's 3 caps, then stderr's", { timeout: 60_000 }, async () => {
    const home = newHome({ BATON_LOG_CAP_BYTES: String(CAP) });
    const id = await runToEnd(home, [
      "sh",
      "-c",
      `yes out-line | head -c ${3 * CAP}; yes err-line | head -c ${3 * CAP} >&2`,
    ]);
    await checkViews(home, id, {
      stdout: yesOutput("out-line", 3 * CAP),
      stderr: yesOutput("err-line", 3 * CAP),
    });
  });

  it("a slow writer: 3 caps of numbered lines, a little at a time", { timeout: 120_000 }, async () => {
    const home = newHome({ BATON_LOG_CAP_BYTES: String(CAP) });
    const count = Math.ceil((3 * CAP) / numbered("out", 1).length);
    const id = await runToEnd(home, slowWriter("out", count, 5));
    await checkViews(home, id, { stdout: numbered("out", count), stderr: "" });
  });

  it("a slow writer on stderr beside a fast one on stdout", { timeout: 120_000 }, async () => {
    const home = newHome({ BATON_LOG_CAP_BYTES: String(CAP) });
    const count = Math.ceil((3 * CAP) / numbered("err", 1).length);
    const [node, e, script] = slowWriter("err", count, 5, 2);
    const id = await runToEnd(home, [
      "sh",
      "-c",
      `yes out-line | head -c ${3 * CAP}; "$0" "$1" "$2"`,
      node!,
      e!,
      script!,
    ]);
    await checkViews(home, id, { stdout: yesOutput("out-line", 3 * CAP), stderr: numbered("err", count) });
  });
});

describe("D124 a writer faster than the copy loses nothing uncounted", () => {
  it(
    "seq on both streams at once, many caps, several runs side by side: every view is its stream's real end under an exact count",
    { timeout: 240_000 },
    async () => {
      // Several runs at once load the machine: the pump is preempted between looking at a stream
      // file and cutting it, which used to lose what seq wrote meanwhile, uncounted and unmarked.
      const n = 2_500_000; // 18.9 MB per stream: 72 caps, and more than one release of its stream file
      const written = seqOutput(n);
      const home = newHome({ BATON_LOG_CAP_BYTES: String(CAP) });
      for (let round = 0; round < 2; round++) {
        const ids = [0, 1, 2].map(
          () => cliJson(home, ["run", "--", "sh", "-c", `seq 1 ${n} >&2 & seq 1 ${n}; wait`]).id as string,
        );
        for (const id of ids) {
          const waited = await cliAsync(home, ["wait", id]);
          expect(waited.code, waited.stdout + waited.stderr).toBe(0);
        }
        for (const id of ids) {
          await checkViews(home, id, { stdout: written, stderr: written });
          // A fresh server per check: checking 38 MB takes longer than an idle connection is kept.
          await server?.close();
          server = undefined;
        }
      }
    },
  );

  it(
    "without fallocate (D115's way): a slow writer's stream file is cut, the counts stay exact",
    { timeout: 120_000 },
    async () => {
      const count = Math.ceil((3 * CAP) / numbered("out", 1).length);
      // A PATH holding only what the command needs: the daemon started from it cannot punch holes.
      const home = newHome({ BATON_LOG_CAP_BYTES: String(CAP) });
      const bin = join(home.dir, "bin");
      mkdirSync(bin);
      for (const tool of ["sh", "node"])
        symlinkSync(
          execFileSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).trim(),
          join(bin, tool),
        );
      home.env.PATH = bin;
      const { id } = cliJson(home, ["run", "--", ...slowWriter("out", count, 20)]);
      const spool = join(home.dir, "runs", id, "1", "stdout.log");
      const size = (): number => (existsSync(spool) ? statSync(spool).size : 0);
      let largest = 0;
      await until(
        "the stream file emptied",
        () => {
          largest = Math.max(largest, size());
          return largest > CAP && size() < largest;
        },
        60_000,
      );
      const waited = await cliAsync(home, ["wait", id]);
      expect(waited.code, waited.stdout + waited.stderr).toBe(0);
      await checkViews(home, id, { stdout: numbered("out", count), stderr: "" });
    },
  );
});

describe("D115 the counts survive a daemon restart", () => {
  it(
    "a daemon stopped after a cut and started again goes on counting from the index",
    { timeout: 120_000 },
    async () => {
      const home = newHome({ BATON_LOG_CAP_BYTES: String(CAP) });
      const count = Math.ceil((3 * CAP) / numbered("out", 1).length);
      const { id } = cliJson(home, ["run", "--", ...slowWriter("out", count, 60)]);
      const dir = join(home.dir, "runs", id, "1");
      await until("a first cut", () => readIndex(dir)?.dropped.stdout, 60_000);
      stopDaemon(home);
      const left = readIndex(dir)!.dropped.stdout;
      await sleep(500); // the command goes on writing its stream file with no daemon
      expect(jobRow(home, id).state).toBe("running");
      cliJson(home, ["daemon", "start"]);
      const waited = await cliAsync(home, ["wait", id]);
      expect(waited.code, waited.stdout + waited.stderr).toBe(0);
      // The new daemon cut again, counting on from what the index said.
      expect(readIndex(dir)!.dropped.stdout).toBeGreaterThan(left);
      await checkViews(home, id, { stdout: numbered("out", count), stderr: "" });
    },
  );
});
