/**
 * A docket user's config runs in baton unchanged. Every example config of docket's published
 * README (`/work/shared/seeds/003_…txt`, copied into `test/fixtures/docket/README.md`) is used as
 * `baton.yaml` byte for byte: it validates, every task dry-runs and runs. The tools the examples
 * call (rclone, hbackup, invoice-fetcher, systemctl, notify-send, curl) are harmless stand-ins on
 * PATH that record their arguments; the config files are not touched.
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { project } from "./helpers/tasks.js";
import { cli, cliJson, FIXTURES, newHome } from "./helpers/supervisor.js";

const README = readFileSync(join(FIXTURES, "docket", "README.md"), "utf8");

/** The ```yaml blocks of the README that are whole configs (they have a top-level tasks:). */
function exampleConfigs(): string[] {
  return [...README.matchAll(/```yaml\n([\s\S]*?)```/g)]
    .map((m) => m[1]!)
    .filter((text) => /^tasks:/m.test(text));
}

/** Stand-ins for the tools docket's examples call: each logs its name and argv, then succeeds. */
function fakeTools(dir: string): { bin: string; log: string } {
  const bin = join(dir, "fake-bin");
  const log = join(dir, "tools.log");
  mkdirSync(bin);
  const script = (name: string, body = "") =>
    `#!/bin/sh\nprintf '%s' ${name} >> "${log}"; for a in "$@"; do printf ' [%s]' "$a" >> "${log}"; done; echo >> "${log}"\n${body}\n`;
  const tools: Record<string, string> = {
    rclone: "echo 'Transferred: 3 files'",
    rsync: "echo 'sent 100 bytes'",
    hbackup: "echo 'archive written'",
    "notify-send": "",
    curl: "",
    systemctl: "exit 0",
    // A JSONL command: progress events, then the result line.
    "invoice-fetcher": `echo '{"event":"start"}'; echo '{"summary":"fetched 2 invoices","events":2}'`,
  };
  for (const [name, body] of Object.entries(tools)) {
    writeFileSync(join(bin, name), script(name, body));
    chmodSync(join(bin, name), 0o755);
  }
  return { bin, log };
}

describe("docket's example configs run in baton unchanged", () => {
  const configs = exampleConfigs();

  it("the README holds docket's example configs (the full schema one among them)", () => {
    expect(configs.length).toBeGreaterThanOrEqual(7);
    expect(configs.some((c) => c.includes("state_dir:") && c.includes("docket_bin:"))).toBe(true);
    expect(configs.some((c) => c.includes("type: command") && c.includes("dry_run_args"))).toBe(true);
  });

  // vitals-morning is a notify: block for a task whose code is a Python drop-in module: it
  // has nothing to run until a plugin module provides it (docs/tasks.md, "coming from docket").
  const runnable = configs.filter((c) => !c.includes("vitals-morning"));

  it.each(runnable.map((text, i) => [i, text] as const))(
    "example config %i validates, and each of its tasks dry-runs and runs",
    (_i, text) => {
      const home = newHome();
      const dir = project(text);
      const tools = fakeTools(dir);
      const env = {
        PATH: `${tools.bin}:${process.env.PATH ?? ""}`,
        INVOICE_API_TOKEN: "test-token",
      };
      expect(readFileSync(join(dir, "baton.yaml"), "utf8")).toBe(text);
      expect(cliJson(home, ["config", "validate"], { cwd: dir, env }).ok).toBe(true);
      const tasks = cliJson(home, ["task", "list"], { cwd: dir, env }).tasks as { name: string }[];
      expect(tasks.length).toBeGreaterThan(0);
      for (const { name } of tasks) {
        const dry = cli(home, ["task", "run", name, "--dry-run", "--json"], { cwd: dir, env });
        expect({ name, code: dry.code }).toEqual({ name, code: 2 });
        const run = cli(home, ["task", "run", name, "--json"], { cwd: dir, env });
        const data = JSON.parse(run.stdout).data;
        if (name === "health-check") {
          // The real disk and memory of this machine decide; the check ran to its verdict.
          expect(data.result.summary).toMatch(/^(healthy|unhealthy)$/);
        } else {
          expect({ name, state: data.state, code: run.code }).toEqual({ name, state: "succeeded", code: 0 });
        }
      }
      expect(readFileSync(join(dir, "baton.yaml"), "utf8")).toBe(text);
    },
    240_000,
  );

  it("the command task: argv from command + args, dry_run_args, jsonl output, required_env checked first", () => {
    const home = newHome();
    const text = configs.find((c) => c.includes("fetch-invoices"))!;
    const dir = project(text);
    const tools = fakeTools(dir);
    const env = { PATH: `${tools.bin}:${process.env.PATH ?? ""}` };
    // required_env is checked before anything is queued or run.
    const missing = cli(home, ["task", "run", "fetch-invoices", "--json"], { cwd: dir, env });
    expect(missing.code).toBe(2);
    expect(JSON.parse(missing.stdout).error.message).toContain("INVOICE_API_TOKEN");
    const withToken = { ...env, INVOICE_API_TOKEN: "t" };
    expect(cli(home, ["task", "run", "fetch-invoices", "--dry-run"], { cwd: dir, env: withToken }).code).toBe(
      2,
    );
    const run = cliJson(home, ["task", "run", "fetch-invoices"], { cwd: dir, env: withToken });
    expect(run.result).toMatchObject({ summary: "fetched 2 invoices", events: 2 });
    const calls = readFileSync(tools.log, "utf8").trim().split("\n");
    expect(calls).toEqual([
      "invoice-fetcher [--account] [main] [--dry-run] [--json]",
      "invoice-fetcher [--account] [main] [--jsonl]",
    ]);
    const events = cliJson(home, ["events", run.id]).events as { kind: string }[];
    expect(events.filter((e) => e.kind === "output")).toHaveLength(2);
  });

  it("hooks get docket's DOCKET_* variables beside baton's", () => {
    const home = newHome();
    const dir = project(
      [
        "tasks:",
        "  hooked:",
        "    type: command",
        "    command: echo",
        '    args: ["all good"]',
        '    on_complete: \'printf "%s|%s|%s|%s" "$DOCKET_TASK_NAME" "$DOCKET_STATUS" "$DOCKET_SUMMARY" "$DOCKET_RUN_ID" > hook.txt\'',
      ].join("\n"),
    );
    const run = cliJson(home, ["task", "run", "hooked"], { cwd: dir });
    expect(readFileSync(join(dir, "hook.txt"), "utf8")).toBe(`hooked|succeeded|all good|${run.id}`);
  });

  it("baton task import converts the full example into baton's spellings and lists each change", () => {
    const home = newHome();
    const full = configs.find((c) => c.includes("docket_bin:"))!;
    const dir = project("");
    writeFileSync(join(dir, "docket.yaml"), full);
    // An empty baton.yaml exists: import refuses to replace it without --force.
    const refused = cli(home, ["task", "import", "docket.yaml", "--json"], { cwd: dir });
    expect(JSON.parse(refused.stdout).error.code).toBe("INVALID_INPUT");
    const out = cliJson(home, ["task", "import", "docket.yaml", "--force"], { cwd: dir });
    expect(out.tasks).toEqual(["backup", "health-check"]);
    const keys = (out.changes as { key: string }[]).map((c) => c.key);
    for (const key of [
      "state_dir",
      "tasks_dir",
      "logs_dir",
      "tasks.backup",
      "tasks.backup.retry",
      "tasks.backup.idle_timeout_seconds",
      "tasks.backup.docket_bin",
      "tasks.backup.notify.telegram.chat",
      "tasks.health-check",
    ])
      expect(keys).toContain(key);
    const written = readFileSync(join(dir, "baton.yaml"), "utf8");
    expect(written).toContain("attempts: 4");
    expect(written).not.toMatch(/docket_bin|backoff_base|idle_timeout_seconds|state_dir/);
    // The written file is baton's own: reading it again changes nothing.
    const again = cliJson(home, ["task", "import", "baton.yaml", "--dry-run"], { cwd: dir });
    expect(again.changes).toEqual([]);
  });
});
