/**
 * `--json` typed before the command (`baton --json status <id>`) was refused "unknown option
 * '--json' (see baton run --help)": commander looks for a command's options after its words. It
 * is the command's own flag wherever it is typed before them; after `--` it stays the command's.
 * Real CLI processes, a temp SQLite ledger.
 */
import { describe, expect, it } from "vitest";
import { buildProgram, jsonAfterCommand } from "../src/cli/main.js";
import { cli, newHome, stopDaemon } from "./helpers/supervisor.js";

describe("--json before the command", () => {
  it("is moved after the words that name the command", () => {
    const program = buildProgram(() => undefined);
    expect(jsonAfterCommand(program, ["--json", "status", "x"])).toEqual(["status", "--json", "x"]);
    expect(jsonAfterCommand(program, ["--json", "task", "run", "deploy"])).toEqual([
      "task",
      "run",
      "--json",
      "deploy",
    ]);
    expect(jsonAfterCommand(program, ["--json", "run", "--", "sh", "--json"])).toEqual([
      "run",
      "--json",
      "--",
      "sh",
      "--json",
    ]);
    expect(jsonAfterCommand(program, ["--json", "nosuch"])).toEqual(["nosuch", "--json"]);
    expect(jsonAfterCommand(program, ["list", "--json"])).toEqual(["list", "--json"]);
  });

  it("gives the command's JSON envelope, and a command's own --json after -- stays its own", () => {
    const home = newHome();
    try {
      const run = cli(home, [
        "--json",
        "run",
        "--wait",
        "--",
        "sh",
        "-c",
        'echo "$1" >&2; exit 3',
        "_",
        "--json",
      ]);
      expect(run.code, run.stderr).toBe(3);
      const answer = JSON.parse(run.stdout) as { ok: boolean; data: { state: string; exitCode: number } };
      expect(answer).toMatchObject({ ok: true, data: { state: "failed", exitCode: 3 } });

      const list = cli(home, ["--json", "list"]);
      expect(list.code, list.stderr).toBe(0);
      expect(JSON.parse(list.stdout)).toMatchObject({ ok: true });

      const unknown = cli(home, ["--json", "statsu"]);
      expect(unknown.code).toBe(2);
      expect(JSON.parse(unknown.stdout)).toMatchObject({
        ok: false,
        error: { code: "USAGE", message: expect.stringContaining("unknown command 'statsu'") },
      });
    } finally {
      stopDaemon(home);
    }
  }, 60_000);

  it("on a command whose output is its product says it takes no --json (stranger s19a)", () => {
    const home = newHome();
    try {
      for (const [args, why] of [
        [["--json", "export"], "NDJSON"],
        [["export", "--json"], "NDJSON"],
        [["--json", "instructions"], "rules file"],
        [["mcp", "--json"], "server"],
      ] as const) {
        const result = cli(home, [...args]);
        expect(result.code, result.stdout + result.stderr).toBe(2);
        const name = args.find((a) => a !== "--json")!;
        expect(JSON.parse(result.stdout), result.stdout).toMatchObject({
          ok: false,
          error: { code: "USAGE", message: expect.stringContaining(`baton ${name} takes no --json: `) },
        });
        expect(result.stdout).toContain(why);
      }
    } finally {
      stopDaemon(home);
    }
  }, 60_000);
});
