/**
 * `baton schedule install-units` writes what the OS tools accept: every generated systemd unit
 * passes `systemd-analyze verify` (the real one), every launchd plist parses as an XML property
 * list with only the keys launchd documents. Unit names are unique per project; the ledger's
 * environment is in the unit; schedules a target cannot express are skipped with the reason
 * instead of aborting the command; a task list selects tasks.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync } from "node:fs";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parsePlist } from "plist";
import { describe, expect, it } from "vitest";
import { project } from "./helpers/tasks.js";
import { cli, cliJson, newHome } from "./helpers/supervisor.js";

const ANALYZE = "/usr/bin/systemd-analyze";
const hasAnalyze = existsSync(ANALYZE);

function tempDir(prefix: string): string {
  return realpathSync(mkdtempSync(join(tmpdir(), prefix)));
}

const YAML = [
  "tasks:",
  "  backup:",
  "    description: Sync 100% of the data",
  "    command: [echo, backup]",
  "    schedule: '0 2 * * *'",
  "    catch_up: once",
  "  zoned:",
  "    command: [echo, zoned]",
  "    schedule: '*/15 9-17 * * 1-5'",
  "    timezone: Europe/Paris",
  "  seconds:",
  "    command: [echo, seconds]",
  "    schedule: '*/5 * * * * *'",
  "  both-days:",
  "    command: [echo, both]",
  "    schedule: '0 0 1 * 1'",
  "  plain:",
  "    command: [echo, plain]",
].join("\n");

/**
 * `systemd-analyze verify --user` on some unit files. As root in a container there is no user
 * manager: verify needs a runtime directory of its own (XDG_RUNTIME_DIR), which it is given here.
 */
function verify(files: string[]): { code: number; output: string } {
  const runtime = tempDir("btxdg-");
  chmodSync(runtime, 0o700);
  const r = spawnSync(ANALYZE, ["verify", "--user", ...files], {
    encoding: "utf8",
    env: { ...process.env, XDG_RUNTIME_DIR: runtime, SYSTEMD_LOG_COLOR: "0" },
  });
  return { code: r.status ?? -1, output: `${r.stdout}${r.stderr}` };
}

describe("schedule install-units: systemd", () => {
  it.skipIf(!hasAnalyze)(
    "every generated unit passes systemd-analyze verify; names are per project; skipped schedules say why",
    () => {
      const home = newHome();
      // Two projects with a task of the same name, one in a folder with a space and a %.
      const a = project(YAML);
      const parent = tempDir("btunit-");
      const b = join(parent, "my proj 50%");
      mkdirSync(b);
      const bFile = join(b, "baton.yaml");
      spawnSync("cp", [join(a, "baton.yaml"), bFile]);
      const units = join(tempDir("btunits-"), "user");
      const outA = cliJson(home, ["schedule", "install-units", "--format", "systemd", "--dir", units], {
        cwd: a,
      });
      const outB = cliJson(home, ["schedule", "install-units", "--format", "systemd", "--dir", units], {
        cwd: b,
      });
      for (const out of [outA, outB]) {
        expect(out.written).toBe(true);
        expect(out.skipped.map((s: { task: string }) => s.task).sort()).toEqual(["both-days", "seconds"]);
        for (const s of out.skipped) expect(s.reason).toMatch(/daemon still fires it/);
      }
      const names = readdirSync(units).sort();
      // backup and zoned from each project, a .service and a .timer each: nothing overwritten.
      expect(names).toHaveLength(8);
      expect(names.filter((n) => n.startsWith(`baton-${a.split("/").pop()!}-`))).toHaveLength(4);
      expect(names.filter((n) => n.includes("my_proj_50_"))).toHaveLength(4);
      const service = readFileSync(
        join(
          units,
          names.find((n) => n.endsWith("backup.service"))!,
        ),
        "utf8",
      );
      expect(service).toContain(`Environment="BATON_HOME=${home.dir}"`);
      expect(service).toMatch(/^WorkingDirectory=\//m);
      const r = verify(names.map((n) => join(units, n)));
      expect(r.output).toBe("");
      expect(r.code).toBe(0);
      // Selection: only the named task; an unknown name is NOT_FOUND.
      const only = join(tempDir("btunits-"), "only");
      const one = cliJson(
        home,
        ["schedule", "install-units", "backup", "plain", "--format", "systemd", "--dir", only],
        { cwd: a },
      );
      expect(readdirSync(only).every((n) => n.includes("-backup."))).toBe(true);
      expect(readdirSync(only)).toHaveLength(2);
      expect(one.skipped).toEqual([{ task: "plain", reason: "it has no schedule" }]);
      const unknown = cli(home, ["schedule", "install-units", "nope", "--dir", only, "--json"], { cwd: a });
      expect(JSON.parse(unknown.stdout).error.code).toBe("NOT_FOUND");
    },
  );

  it.skipIf(!hasAnalyze)("the verifier is not a rubber stamp: a quoted WorkingDirectory= fails it", () => {
    const dir = tempDir("btbad-");
    const file = join(dir, "bad.service");
    spawnSync("sh", [
      "-c",
      `printf '[Service]\\nType=oneshot\\nWorkingDirectory="%s"\\nExecStart=/bin/true\\n' "${dir}" > "${file}"`,
    ]);
    const r = verify([file]);
    expect(r.code).not.toBe(0);
    expect(r.output).toContain("WorkingDirectory= path is not absolute");
  });
});

/** The keys launchd.plist(5) documents for an agent (the subset baton may write) and their types. */
const LAUNCHD_KEYS: Record<string, (v: unknown) => boolean> = {
  Label: (v) => typeof v === "string" && v.length > 0,
  ProgramArguments: (v) => Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === "string"),
  WorkingDirectory: (v) => typeof v === "string" && v.startsWith("/"),
  EnvironmentVariables: (v) =>
    typeof v === "object" && v !== null && Object.values(v).every((x) => typeof x === "string"),
  StartCalendarInterval: (v) =>
    Array.isArray(v) &&
    v.every(
      (entry) =>
        typeof entry === "object" &&
        entry !== null &&
        Object.entries(entry).every(
          ([k, n]) => ["Minute", "Hour", "Day", "Weekday", "Month"].includes(k) && Number.isInteger(n),
        ),
    ),
};

describe("schedule install-units: launchd", () => {
  it("plists parse as XML property lists with launchd's keys; timezone: is skipped with the reason, not dropped", () => {
    const home = newHome();
    const dir = project(YAML);
    const out = cliJson(home, ["schedule", "install-units", "--format", "launchd", "--dry-run"], {
      cwd: dir,
    });
    // both-days is two interval lists (cron's day-of-month OR weekday); seconds and zoned are skipped.
    expect(out.files).toHaveLength(2);
    const reasons = Object.fromEntries(
      out.skipped.map((s: { task: string; reason: string }) => [s.task, s.reason]),
    );
    expect(Object.keys(reasons).sort()).toEqual(["seconds", "zoned"]);
    expect(reasons.zoned).toMatch(/timezone: Europe\/Paris/);
    for (const file of out.files as { path: string; text: string }[]) {
      const parsed = parsePlist(file.text) as Record<string, unknown>;
      for (const [key, value] of Object.entries(parsed)) {
        expect(LAUNCHD_KEYS[key], `undocumented key ${key}`).toBeDefined();
        expect(LAUNCHD_KEYS[key]!(value), `${key}: ${JSON.stringify(value)}`).toBe(true);
      }
      expect(parsed.Label).toBe(
        file.path
          .split("/")
          .pop()!
          .replace(/\.plist$/, ""),
      );
      expect((parsed.EnvironmentVariables as Record<string, string>).BATON_HOME).toBe(home.dir);
      expect(parsed.StartCalendarInterval).toEqual(
        file.path.endsWith(".backup.plist")
          ? [{ Minute: 0, Hour: 2 }]
          : [
              { Minute: 0, Hour: 0, Day: 1 },
              { Minute: 0, Hour: 0, Weekday: 1 },
            ],
      );
    }
  });
});
