/**
 * Command logs (issue 17 finding 10, issue 19 "logs"): stdout and stderr stored once and merged by
 * line, a job's files removed with its rows, orphaned run folders swept.
 */
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LocalCommandHost } from "../src/ops/local-host.js";
import { LogPump } from "../src/supervisor/log-pump.js";
import { ensureAttemptDir } from "../src/supervisor/run-dir.js";
import { cli, cliAsync, cliJson, newHome, stopDaemon, until } from "./helpers/supervisor.js";

/** Bytes stored under a folder, all files. */
function storedBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const st = statSync(path);
    total += st.isDirectory() ? storedBytes(path) : st.size;
  }
  return total;
}

describe("logs are merged by line", () => {
  it("a line one stream writes in pieces is not cut by the other stream's line", () => {
    const home = newHome();
    const id = "01JAAAAAAAAAAAAAAAAAAAAAAA";
    const dir = ensureAttemptDir(home.dir, id, 1);
    const pump = new LogPump(dir, 1024 * 1024);
    appendFileSync(join(dir, "stdout.log"), "abc");
    pump.pump();
    appendFileSync(join(dir, "stderr.log"), "err\n");
    pump.pump();
    appendFileSync(join(dir, "stdout.log"), "-def\n");
    pump.pump();
    appendFileSync(join(dir, "stdout.log"), "last, no newline");
    pump.stop(true);
    const host = new LocalCommandHost(home.dir);
    expect(host.readLog(id, 1, "output", 10)).toBe("err\nabc-def\nlast, no newline");
    expect(host.readLog(id, 1, "stdout", 10)).toBe("abc-def\nlast, no newline");
    expect(host.readLog(id, 1, "stderr", 10)).toBe("err\n");
    expect(host.readLog(id, 1, "output", 1)).toBe("last, no newline");
    // The dashboard's chunked reads see the same merged text, and per stream.
    expect(host.readLogChunk(id, 1, "output", 0, 1000).text).toBe("err\nabc-def\nlast, no newline");
    expect(host.readLogChunk(id, 1, "stderr", 0, 1000).text).toBe("err\n");
    expect(host.readLogChunk(id, 1, "stdout", 4, 1000).text).toBe("def\nlast, no newline");
  });
});

describe("following a log", () => {
  it("logs -f prints the output and exits with the job's own exit code", async () => {
    const home = newHome();
    const { id } = cliJson(home, ["run", "--", "sh", "-c", "echo a; sleep 1; echo b >&2; sleep 0.5; exit 4"]);
    const followed = await cliAsync(home, ["logs", id, "-f"]);
    expect(followed.stdout).toBe("a\nb\n");
    expect(followed.code).toBe(4);
    stopDaemon(home);
  });

  it("run --follow --json and logs -f --json print one JSON object per line, then the outcome", async () => {
    const home = newHome();
    const result = await cliAsync(home, [
      "run",
      "--follow",
      "--json",
      "--",
      "sh",
      "-c",
      "echo out; sleep 0.3; echo err >&2; sleep 0.3; printf partial; exit 2",
    ]);
    expect(result.code).toBe(2);
    const lines = result.stdout
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.slice(0, 3)).toEqual([
      { stream: "stdout", text: "out" },
      { stream: "stderr", text: "err" },
      { stream: "stdout", text: "partial" },
    ]);
    expect(lines[3]).toMatchObject({ ok: true, data: { state: "failed", exitCode: 2 } });
    expect(lines).toHaveLength(4);
    const id = (lines[3] as { data: { id: string } }).data.id;
    const again = await cliAsync(home, ["logs", id, "-f", "--json", "-n", "all"]);
    expect(again.code).toBe(2);
    expect(again.stdout).toBe(result.stdout);
    stopDaemon(home);
  });
});

describe("logs are stored once", () => {
  it("a finished command's stdout and stderr take their own size on disk, not twice", async () => {
    const home = newHome();
    const script =
      "i=0; while [ $i -lt 3000 ]; do echo out-line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxx; echo err-line-$i-yyyyyyyyyyyyyyyyyyyyy >&2; i=$((i+1)); done";
    const { id } = cliJson(home, ["run", "--", "sh", "-c", script]);
    expect(cli(home, ["wait", id]).code).toBe(0);
    const logs = cliJson(home, ["logs", id, "-n", "all"]);
    const text = logs.text as string;
    const written = Buffer.byteLength(text);
    expect(text.split("\n").length).toBe(6001);
    expect(storedBytes(join(home.dir, "runs", id))).toBeLessThan(written * 1.2);
    // Every line of each stream, in its own order.
    const out = cliJson(home, ["logs", id, "--stdout", "-n", "all"]).text.split("\n");
    expect(out.length).toBe(3001);
    expect(out[2999]).toBe("out-line-2999-xxxxxxxxxxxxxxxxxxxxxxxxxx");
    stopDaemon(home);
  });
});

describe("a job's files go with it (finding 10)", () => {
  it("delete removes runs/<id>/ in the same step", () => {
    const home = newHome();
    const { id } = cliJson(home, ["run", "--", "sh", "-c", "echo hello"]);
    expect(cli(home, ["wait", id]).code).toBe(0);
    expect(existsSync(join(home.dir, "runs", id))).toBe(true);
    expect(cliJson(home, ["delete", id]).deleted).toBe(1);
    expect(existsSync(join(home.dir, "runs", id))).toBe(false);
    stopDaemon(home);
  });

  it("clean removes the files of the jobs it removes, and run folders whose job is gone", () => {
    const home = newHome();
    const { id } = cliJson(home, ["run", "--", "sh", "-c", "echo hello"]);
    expect(cli(home, ["wait", id]).code).toBe(0);
    // A folder left by a crash between a delete's commit and its file removal.
    const orphan = join(home.dir, "runs", "01JZZZZZZZZZZZZZZZZZZZZZZZ", "1");
    mkdirSync(orphan, { recursive: true });
    writeFileSync(join(orphan, "output.log"), "left behind\n");
    // Another ledger's folder (this home used with BATON_DATABASE_URL too): never judged here.
    const foreign = join(home.dir, "runs", "01JXXXXXXXXXXXXXXXXXXXXXXX");
    mkdirSync(join(foreign, "1"), { recursive: true });
    writeFileSync(join(foreign, "ledger"), "0123456789abcdef");
    // An environment saved a moment ago, its row perhaps not inserted yet (a task run): kept;
    // one saved minutes ago whose job never came: removed.
    const fresh = join(home.dir, "runs", "01JWWWWWWWWWWWWWWWWWWWWWWW");
    const stale = join(home.dir, "runs", "01JVVVVVVVVVVVVVVVVVVVVVVV");
    for (const dir of [fresh, stale]) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "env"), "{}");
    }
    const old = new Date(Date.now() - 120_000);
    utimesSync(stale, old, old);
    expect(cliJson(home, ["clean", "--older-than", "0s"]).deleted).toBe(1);
    expect(existsSync(join(home.dir, "runs", id))).toBe(false);
    expect(existsSync(join(home.dir, "runs", "01JZZZZZZZZZZZZZZZZZZZZZZZ"))).toBe(false);
    expect(existsSync(foreign)).toBe(true);
    expect(existsSync(fresh)).toBe(true);
    expect(existsSync(stale)).toBe(false);
    stopDaemon(home);
  });

  it("a starting daemon sweeps run folders whose job no longer exists, and keeps the others", async () => {
    const home = newHome();
    const { id } = cliJson(home, ["run", "--", "sh", "-c", "echo kept"]);
    expect(cli(home, ["wait", id]).code).toBe(0);
    stopDaemon(home);
    const orphan = join(home.dir, "runs", "01JYYYYYYYYYYYYYYYYYYYYYYY");
    mkdirSync(join(orphan, "1"), { recursive: true });
    writeFileSync(join(orphan, "1", "output.log"), "left behind\n");
    expect(cli(home, ["daemon", "start"]).code).toBe(0);
    await until("the sweep", () => !existsSync(orphan), 10_000);
    expect(cliJson(home, ["logs", id]).text).toBe("kept\n");
    stopDaemon(home);
  });

  it("logs of an attempt whose command never started is NOT_FOUND saying so, not an empty ok", () => {
    const home = newHome();
    // Attempt 1 removes its own working directory and fails: the retry cannot start.
    const cwd = mkdtempSync(join(tmpdir(), "bsv-gone-"));
    const { id } = cliJson(home, ["run", "--retries", "1", "--", "sh", "-c", `cd /; rm -rf ${cwd}; exit 1`], {
      cwd,
    });
    expect(cli(home, ["wait", id]).code).not.toBe(0);
    const answer = cli(home, ["logs", id, "--json"]);
    expect(answer.code, answer.stdout).toBe(3);
    const error = (JSON.parse(answer.stdout) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe("NOT_FOUND");
    expect(error.message).toContain("never started");
    expect(error.message).toContain("does not exist");
    // Attempt 1 ran and printed nothing: that stays an empty log, exit 0 (D57).
    expect(cliJson(home, ["logs", id, "--attempt", "1"]).text).toBe("");
    stopDaemon(home);
  });
});
