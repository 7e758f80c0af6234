/**
 * Reading "the last N bytes" of a log starts at a line start (stranger finding, issue 20): the
 * HTTP route's (and so the dashboard's) first window of 64 KiB, `baton logs -n` (the job_logs
 * operation MCP shares) and `logs -f` drop the partial first line their window begins with when it
 * is at most half the window, and otherwise show the window from mid-line.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { readLogChunk, tailLog, tailOffset } from "../src/supervisor/run-dir.js";
import { request, startTestServer } from "./helpers/http.js";
import type { TestServer } from "./helpers/http.js";
import { cliAsync, cliJson, newHome } from "./helpers/supervisor.js";

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** What `seq 1 <n>` prints. */
const seq = (n: number): string => Array.from({ length: n }, (_, i) => `${i + 1}\n`).join("");

/** `text` is a tail of `all` that starts at one of its line starts. */
function expectWholeLines(text: string, all: string): void {
  expect(all.endsWith(text)).toBe(true);
  const before = all.length - text.length;
  expect(before === 0 || all[before - 1] === "\n", JSON.stringify(text.slice(0, 20))).toBe(true);
}

describe("the first window of a log starts at a line start", () => {
  it(
    "HTTP's first 64 KiB, logs -n, and logs -f over a real command's output",
    { timeout: 90_000 },
    async () => {
      const home = newHome();
      const all = seq(300_000); // 7-byte lines at the end: 64 KiB and 1 MiB both begin mid-line
      const { id } = cliJson(home, ["run", "--", "seq", "1", "300000"]);
      expect((await cliAsync(home, ["wait", id])).code).toBe(0);

      server = await startTestServer({ home: home.dir });
      const first = await request(`${server.base}/api/jobs/${id}/log`);
      expect(first.status).toBe(200);
      const window: string = first.body.data.text;
      expectWholeLines(window, all);
      expect(window.length).toBeGreaterThan(64 * 1024 - 7);
      expect(first.body.data.start).toBe(all.length - window.length);
      // The bytes before the window ("Load earlier") end where it starts.
      const earlier = await request(
        `${server.base}/api/jobs/${id}/log?offset=${first.body.data.start - 100}&max=100`,
      );
      expect(earlier.body.data.text + window).toBe(all.slice(all.length - window.length - 100));

      // More lines than the 1 MiB a tail reads: whole lines from the window's first line start.
      const answered = await cliAsync(home, ["logs", id, "-n", "200000", "--json"]); // over spawnSync's 1 MiB
      const tail: string = JSON.parse(answered.stdout).data.text;
      expectWholeLines(tail, all);
      expect(tail.length).toBeGreaterThan(1024 * 1024 - 7);
      const followed = await cliAsync(home, ["logs", id, "-n", "200000", "-f"]);
      expect(followed.code).toBe(0);
      expect(followed.stdout.startsWith(tail.slice(0, 100))).toBe(true);
      expectWholeLines(followed.stdout.slice(0, tail.length), all);
    },
  );

  it(
    "a last line longer than the window: the first window is still 64 KiB, from mid-line (issue 20, tester M4)",
    { timeout: 90_000 },
    async () => {
      const home = newHome();
      const script = "head -c 300000 /dev/zero | tr '\\0' x; echo; echo after";
      const { id } = cliJson(home, ["run", "--", "sh", "-c", script]);
      expect((await cliAsync(home, ["wait", id])).code).toBe(0);
      const all = `${"x".repeat(300_000)}\nafter\n`;
      server = await startTestServer({ home: home.dir });
      const first = await request(`${server.base}/api/jobs/${id}/log`);
      expect(first.status).toBe(200);
      // Not "after\n" alone: the window as it is, mid-line (the documented exception).
      expect(first.body.data.text).toBe(all.slice(-64 * 1024));
      expect(first.body.data.start).toBe(all.length - 64 * 1024);
    },
  );

  it("the partial first line is dropped only when at most half the window; logs -n and -f agree", () => {
    const dir = mkdtempSync(join(tmpdir(), "btl-"));
    const all = `${"x".repeat(300_000)}\nafter\n`;
    writeFileSync(join(dir, "output.log"), all);
    const max = 64 * 1024;
    expect(readLogChunk(dir, "output", undefined, max).text).toBe(all.slice(-max));
    expect(tailLog(dir, "output", 2, max)).toBe(all.slice(-max));
    expect(tailOffset(dir, "output", 2, max)).toBe(all.length - max);
    // At the bound: a partial line of exactly half the window is dropped, one byte more is kept.
    const bound = `${"a".repeat(150)}\n${"b".repeat(49)}\n`;
    writeFileSync(join(dir, "output.log"), bound);
    expect(readLogChunk(dir, "output", undefined, 100).text).toBe(`${"b".repeat(49)}\n`);
    expect(readLogChunk(dir, "output", undefined, 101).text).toBe(bound.slice(-101));
    expect(tailLog(dir, "output", 5, 101)).toBe(bound.slice(-101));
  });

  it("a single line longer than the window is shown from inside it", () => {
    const dir = mkdtempSync(join(tmpdir(), "btl-"));
    writeFileSync(join(dir, "output.log"), `short\n${"y".repeat(5000)}\n`);
    expect(readLogChunk(dir, "output", undefined, 100).text).toBe(`${"y".repeat(99)}\n`);
    expect(tailLog(dir, "output", 5, 100)).toBe(`${"y".repeat(99)}\n`);
    expect(tailOffset(dir, "output", 5, 100)).toBe(5007 - 100);
    // A window that holds a line start begins there.
    expect(readLogChunk(dir, "output", undefined, 5004).text).toBe(`${"y".repeat(5000)}\n`);
    expect(tailLog(dir, "output", 5, 5004)).toBe(`${"y".repeat(5000)}\n`);
    expect(tailOffset(dir, "output", 5, 5004)).toBe(6);
  });
});
