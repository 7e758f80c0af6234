/**
 * Background commands against hostile input and secret leaks (RELIABILITY.md ): crafted
 * job references and names never lead a path outside BATON_HOME, planted links are refused, and a
 * secret in the caller's environment reaches the command but nothing baton stores or prints.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { Client } from "@modelcontextprotocol/client";
import { getDefaultEnvironment, StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { afterEach, describe, expect, it } from "vitest";
import { BIN } from "./helpers/cli.js";
import { call, toolError } from "./helpers/mcp.js";
import {
  attemptRows,
  cli,
  cliJson,
  gatedCommand,
  jobRow,
  makeGate,
  newHome,
  openGate,
  processRecords,
  until,
} from "./helpers/supervisor.js";
import type { Home } from "./helpers/supervisor.js";

const outsides: string[] = [];
afterEach(() => {
  while (outsides.length > 0) rmSync(outsides.pop()!, { recursive: true, force: true });
});

/** A folder next to the home that nothing may ever write into. */
function outsideDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "bsv-outside-"));
  outsides.push(dir);
  return dir;
}

/** Every file and folder under `dir` (links not followed). */
function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    return e.isDirectory() ? [path, ...walk(path)] : [path];
  });
}

/** An MCP client over stdio to `baton mcp --tools full`, with extra environment for the server. */
async function mcp(
  home: Home,
  env: Record<string, string> = {},
): Promise<{ client: Client; close(): Promise<void> }> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BIN, "mcp", "--tools", "full"],
    env: { ...getDefaultEnvironment(), ...home.env, ...env, BATON_HOME: home.dir },
    stderr: "pipe",
    cwd: home.dir,
  });
  const client = new Client({ name: "baton-test", version: "1.0.0" });
  await client.connect(transport);
  return { client, close: () => client.close() };
}

/** Crafted references: traversal, absolute, encoded, separators, NUL and control characters, huge. */
function craftedReferences(outside: string): string[] {
  const name = basename(outside);
  const bases = [
    "..",
    "../",
    "../..",
    `../${name}`,
    `../../${name}/x`,
    outside,
    `${outside}/x`,
    "/etc/passwd",
    "%2e%2e%2f",
    "..%2f..%2f",
    "%2e%2e/%2e%2e",
    "..\\..\\windows",
    "runs/../../x",
    "./runs",
    "~/x",
    "$(touch canary)",
    "`touch canary`",
    "a/b",
    "a\u0000b",
    "\u0000",
    "x\ny",
    "\u202e..",
    "ＡＢＣＤ",
    "x".repeat(5000),
    "0".repeat(26),
  ];
  const out: string[] = [];
  for (const base of bases) {
    out.push(
      base,
      `${base}/`,
      `./${base}`,
      `${base}\u0000.log`,
      `${base}/1/output.log`,
      `${base}%00`,
      `${base}..`,
      `${base} `,
    );
  }
  return out;
}

describe("R-26 hostile job references, names and planted links", () => {
  it(
    "R-26 200 crafted references to logs/status/wait/stop/retry and names (CLI and MCP): typed errors, nothing outside BATON_HOME",
    { timeout: 180_000 },
    async () => {
      const home = newHome();
      const outside = outsideDir();
      const refs = craftedReferences(outside);
      expect(refs.length).toBeGreaterThanOrEqual(200);
      // One real job, so that references have something to miss.
      const real = cliJson(home, ["run", "--name", "real", "--", "sh", "-c", "echo hello"]);
      expect(cli(home, ["wait", real.id]).code).toBe(0);

      const { client, close } = await mcp(home);
      try {
        for (const ref of refs) {
          for (const [tool, args] of [
            ["job_logs", { id: ref }],
            ["job_logs", { id: ref, stream: "stderr", attempt: 1 }],
            ["job_status", { id: ref }],
            ["wait_job", { id: ref, timeoutSeconds: 0 }],
            ["stop_job", { id: ref }],
            ["retry_job", { id: ref }],
          ] as const) {
            const result = await call(client, tool, args);
            expect(result.isError, `${tool} ${JSON.stringify(ref)}`).toBe(true);
            expect(["JOB_NOT_FOUND", "NOT_FOUND", "INVALID_INPUT", "UNSAFE_PATH", "AMBIGUOUS_ID"]).toContain(
              toolError(result).code,
            );
          }
        }
        // Names are data, never a path: hostile ones are refused (control characters, too long) or
        // kept as a name only.
        for (const name of ["a\u0000b", "x\ny", "n".repeat(201)]) {
          const refused = await call(client, "run_command", { argv: ["true"], name });
          expect(refused.isError, JSON.stringify(name)).toBe(true);
          expect(toolError(refused).code).toBe("INVALID_INPUT");
        }
        for (const name of [`../../${basename(outside)}/evil`, `${outside}/evil`, "%2e%2e%2fevil"]) {
          const ran = await call(client, "run_command", { argv: ["sh", "-c", "echo named"], name });
          expect(ran.isError, JSON.stringify(ran.content)).not.toBe(true);
          expect(ran.data.logPath.startsWith(join(home.dir, "runs", ran.data.id))).toBe(true);
          expect((await call(client, "wait_job", { id: ran.data.id, timeoutSeconds: 30 })).data.state).toBe(
            "succeeded",
          );
          // Found by its name like any other.
          expect((await call(client, "job_logs", { id: name })).data.text).toBe("named\n");
        }
      } finally {
        await close();
      }
      // The CLI answers the same, as one-line typed errors that parse.
      for (const ref of refs.filter((r) => !r.includes("\u0000")).slice(0, 12)) {
        for (const verb of ["logs", "status", "wait", "stop", "retry"]) {
          const result = cli(home, [verb, ref, "--json"]);
          expect([2, 3, 4], `${verb} ${ref}: ${result.stdout}`).toContain(result.code);
          expect(JSON.parse(result.stdout).ok).toBe(false);
        }
      }
      expect(cli(home, ["logs", real.id, "--attempt", "../1"]).code).toBe(2);

      expect(readdirSync(outside)).toEqual([]);
      // Inside, only job ids name folders; directories 0700, files 0600.
      for (const entry of readdirSync(join(home.dir, "runs"))) expect(entry).toMatch(/^[0-9A-Z]{26}$/);
      for (const path of walk(home.dir)) {
        const mode = statSync(path).mode;
        if (statSync(path).isDirectory()) expect((mode & 0o777).toString(8), path).toBe("700");
        else if (statSync(path).isFile()) expect((mode & 0o777).toString(8), path).toBe("600");
      }
    },
  );

  it("R-26 links planted in the data dir (runs/, an attempt folder, a log file) are refused, never followed", async () => {
    const home = newHome();
    const outside = outsideDir();
    const secretFile = join(outside, "private.txt");
    const first = cliJson(home, ["run", "--name", "first", "--", "sh", "-c", "echo one; exit 3"]);
    expect(cli(home, ["wait", first.id]).code).toBe(3);

    // A log file replaced by a link to a file outside: logs refuses to read it.
    const output = join(home.dir, "runs", first.id, "1", "output.log");
    rmSync(output);
    mkdirSync(outside, { recursive: true });
    symlinkSync(secretFile, output);
    const logs = cli(home, ["logs", first.id, "--json"]);
    expect(JSON.parse(logs.stdout).error.code).toBe("UNSAFE_PATH");

    // The next attempt's folder planted as a link: the retry fails with a reason, nothing is written outside.
    symlinkSync(outside, join(home.dir, "runs", first.id, "2"));
    cliJson(home, ["retry", first.id]);
    expect(cli(home, ["wait", first.id]).code).not.toBe(0);
    await until("the refused attempt", () => attemptRows(home, first.id).length === 2);
    expect(attemptRows(home, first.id)[1]!.error).toMatch(/log folder|symbolic link/);

    // The whole runs/ folder replaced by a link: run refuses with a typed error.
    rmSync(join(home.dir, "runs"), { recursive: true });
    symlinkSync(outside, join(home.dir, "runs"));
    const refused = cli(home, ["run", "--json", "--", "true"]);
    expect(JSON.parse(refused.stdout).error.code).toBe("UNSAFE_PATH");
    expect(readdirSync(outside)).toEqual([]);
    expect(statSync(outside).mode & 0o777).not.toBe(0); // its mode was not touched either
    rmSync(join(home.dir, "runs"));
  });
});

describe("R-28 secrets in the caller's environment", () => {
  it(
    "R-28 a secret canary reaches the command but not the database, baton's logs, CLI or MCP output; the env file is 0600 and deleted at the end",
    { timeout: 120_000 },
    async () => {
      const home = newHome();
      const secret = `canary-${Math.random().toString(36).slice(2)}-s3cr3t`;
      const env = { BATON_TEST_SECRET: secret, GITHUB_TOKEN: secret };
      const gate = makeGate(join(home.dir, "gate"));
      // The command sees the secret (it says so without printing it).
      const check =
        'test "$BATON_TEST_SECRET" = "$GITHUB_TOKEN" && test -n "$GITHUB_TOKEN" && echo has-secret';
      expect(cli(home, ["run", "--wait", "--name", "sees", "--", "sh", "-c", check], { env }).code).toBe(0);
      const held = cliJson(home, ["run", "--name", "held", "--", ...gatedCommand(gate, 0)], { env });
      const flaky = cliJson(home, ["run", "--name", "flaky", "--retries", "1", "--", "sh", "-c", "exit 4"], {
        env,
      });
      await until("the held command to run", () => processRecords(home).some((r) => r.jobId === held.id));

      // While a job may still need it, the environment waits in a 0600 file.
      const envFile = join(home.dir, "runs", held.id, "env");
      expect(statSync(envFile).mode & 0o777).toBe(0o600);
      expect(readFileSync(envFile, "utf8")).toContain(secret);

      const outputs: string[] = [];
      const shown = (args: string[]): void => {
        const r = cli(home, args, { env });
        outputs.push(r.stdout, r.stderr);
      };
      for (const json of [[], ["--json"]]) {
        for (const ref of [held.id, "sees", "flaky"]) {
          shown(["status", ref, ...json]);
          shown(["show", ref, ...json]);
          shown(["logs", ref, ...json]);
          shown(["audit", ref, ...json]);
        }
        shown(["status", ...json]);
        shown(["list", "--all", ...json]);
        shown(["daemon", "status", ...json]);
      }
      const agent = await mcp(home, env);
      try {
        const ran = await call(agent.client, "run_command", { argv: ["sh", "-c", check], name: "by-mcp" });
        outputs.push(JSON.stringify(ran));
        outputs.push(
          JSON.stringify(await call(agent.client, "wait_job", { id: ran.data.id, timeoutSeconds: 30 })),
        );
        for (const [tool, args] of [
          ["job_status", {}],
          ["job_status", { id: held.id }],
          ["job_logs", { id: "by-mcp" }],
          ["list_tasks", { all: true }],
          ["check_task", { id: held.id }],
          ["audit_log", { id: held.id }],
        ] as const)
          outputs.push(JSON.stringify(await call(agent.client, tool, args)));
      } finally {
        await agent.close();
      }
      expect(outputs.join("\n")).toContain("has-secret");
      expect(outputs.join("\n")).not.toContain(secret);

      await openGate(gate, () => jobRow(home, held.id).state === "succeeded");
      expect(cli(home, ["wait", "flaky"]).code).toBe(4);
      expect(attemptRows(home, flaky.id)).toHaveLength(2);
      // Terminal: every env file is gone, and no file of the home holds the secret (database, WAL,
      // daemon log, run folders).
      for (const id of [held.id, flaky.id]) {
        await until(`the env file of ${id} to go`, () => {
          try {
            statSync(join(home.dir, "runs", id, "env"));
            return false;
          } catch {
            return true;
          }
        });
      }
      const files = walk(home.dir).filter((p) => statSync(p).isFile());
      expect(files.map((p) => basename(p))).toEqual(expect.arrayContaining(["baton.db", "daemon.log"]));
      for (const file of files) expect(readFileSync(file).includes(secret), file).toBe(false);
    },
  );
});
