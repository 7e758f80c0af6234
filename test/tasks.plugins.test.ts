/**
 * Plugin tasks (issue 18) through the real binary and a real daemon: docket-style definitions
 * (inputs and outputs as maps of descriptions, docket's `schema` and `required_env`), a broken
 * plugin refused at load as CONFIG_INVALID naming the file and the key (run, `config validate`,
 * `doctor`), `describe` showing outputs, a plugin's required environment checked before anything is
 * queued, the JavaScript scaffold in a fresh npm project, and the pid in the `--async` receipt.
 */
import { spawnSync } from "node:child_process";
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { project } from "./helpers/tasks.js";
import { cli, cliJson, newHome, processRecords, until } from "./helpers/supervisor.js";

/** A project with `baton.yaml` = `tasks: {}` and the given modules in `.baton/tasks/`. */
function withPlugins(modules: Record<string, string>): string {
  const dir = project("tasks: {}\n");
  mkdirSync(join(dir, ".baton", "tasks"), { recursive: true });
  for (const [file, text] of Object.entries(modules)) writeFileSync(join(dir, ".baton", "tasks", file), text);
  return dir;
}

/** A task's runs in the ledger (what `baton runs` lists). */
function runsOf(home: ReturnType<typeof newHome>, dir: string, task: string): unknown[] {
  return cliJson(home, ["runs", task], { cwd: dir }).runs as unknown[];
}

const DOCKET_STYLE = [
  "// A docket task class, written as a plugin: inputs/outputs are descriptions, schema types them.",
  "import { readdirSync } from 'node:fs';",
  "export default {",
  "  name: 'count-files',",
  "  description: 'Count the files of a folder',",
  "  inputs: { dir: 'the folder to count', hidden: 'count dot files too' },",
  "  outputs: { count: 'how many files', dir: 'the folder counted' },",
  "  schema: { dir: { type: 'string', required: true }, hidden: { type: 'boolean', default: false } },",
  "  required_env: [],",
  "  network: false,",
  "  destructive: false,",
  "  run({ inputs }) {",
  "    const names = readdirSync(inputs.dir).filter((n) => inputs.hidden || !n.startsWith('.'));",
  "    return { ok: true, summary: `${names.length} files`, count: names.length, dir: inputs.dir };",
  "  },",
  "  dry_run({ inputs }) { return { ok: true, summary: `would count ${inputs.dir}` }; },",
  "};",
].join("\n");

describe("plugin tasks", () => {
  it("a docket-style plugin (inputs and outputs as descriptions, schema, required_env) runs, dry-runs and is described", () => {
    const home = newHome();
    const dir = withPlugins({ "count-files.mjs": DOCKET_STYLE });
    const data = join(dir, "data");
    mkdirSync(data);
    for (const f of ["a", "b", ".c"]) writeFileSync(join(data, f), "");

    const done = cliJson(home, ["task", "run", "count-files", "--input", `dir=${data}`], { cwd: dir });
    expect(done.state).toBe("succeeded");
    expect(done.result).toMatchObject({ summary: "2 files", count: 2, dir: data });
    const hidden = cliJson(
      home,
      ["task", "run", "count-files", "--input", `dir=${data}`, "--input", "hidden=true"],
      {
        cwd: dir,
      },
    );
    expect(hidden.result).toMatchObject({ count: 3 });
    const dry = cli(home, ["task", "run", "count-files", "--dry-run", "--input", `dir=${data}`], {
      cwd: dir,
    });
    expect(dry.code).toBe(2);
    expect(dry.stdout).toContain(`would count ${data}`);

    // Inputs are checked as a baton.yaml task's, before anything is queued.
    const missing = cli(home, ["task", "run", "count-files", "--json"], { cwd: dir });
    expect(missing.code).toBe(2);
    expect(JSON.parse(missing.stdout).error).toMatchObject({ code: "INVALID_INPUT" });
    expect(JSON.parse(missing.stdout).error.message).toContain("needs the input 'dir'");
    const typed = cli(
      home,
      ["task", "run", "count-files", "--input", `dir=${data}`, "--input", "hidden=maybe", "--json"],
      {
        cwd: dir,
      },
    );
    expect(JSON.parse(typed.stdout).error.message).toContain("input 'hidden' must be true or false");
    expect(runsOf(home, dir, "count-files")).toHaveLength(3);

    // describe: inputs with their descriptions and types, and the outputs (json and text).
    const described = cliJson(home, ["task", "describe", "count-files"], { cwd: dir });
    expect(described).toMatchObject({
      kind: "plugin",
      description: "Count the files of a folder",
      dryRun: "function",
      outputs: { count: "how many files", dir: "the folder counted" },
      inputs: {
        properties: {
          dir: { type: "string", description: "the folder to count" },
          hidden: { type: "boolean", default: false },
        },
        required: ["dir"],
      },
    });
    const text = cli(home, ["task", "describe", "count-files"], { cwd: dir });
    expect(text.code).toBe(0);
    expect(text.stdout).toContain("how many files");
    expect(text.stdout).toContain("the folder to count");
  });

  it("a docket result with ok: false is a failed run whose error is its summary", () => {
    const home = newHome();
    const dir = withPlugins({
      "refuse.mjs": "export default { run() { return { ok: false, summary: 'quota exceeded' }; } };\n",
    });
    const r = cli(home, ["task", "run", "refuse", "--json"], { cwd: dir });
    expect(r.code).toBe(1);
    const data = JSON.parse(r.stdout).data;
    expect(data.state).toBe("failed");
    expect(data.error).toContain("quota exceeded");
  });

  it("a broken plugin is CONFIG_INVALID at load naming the file and the key; nothing is queued; validate and doctor report it", () => {
    const home = newHome();
    const broken: Record<string, { text: string; key: string; says: string; line?: number }> = {
      "syntax.mjs": {
        text: "export default {\n  run() { return 1 }\n  description: 'x'\n};\n",
        key: "",
        says: "syntax error: Unexpected identifier 'description'",
        line: 3,
      },
      "noexport.mjs": { text: "export const helper = 1;\n", key: "default", says: "no task exported" },
      "norun.mjs": {
        text: "export default { description: 'no run' };\n",
        key: "run",
        says: "missing: expected a function run(ctx)",
      },
      "badinputs.mjs": {
        text: "export default { inputs: 5, run() {} };\n",
        key: "inputs",
        says: "expected a zod schema or a map of input name to description",
      },
      "badtype.mjs": {
        text: "export default { inputs: { n: { type: 'float' } }, run() {} };\n",
        key: "inputs.n.type",
        says: "float",
      },
      "typo.mjs": {
        text: "export default { dryrun() {}, run() {} };\n",
        key: "dryrun",
        says: "did you mean 'dryRun'?",
      },
      "badenv.mjs": {
        text: "export default { requiredEnv: 'TOKEN', run() {} };\n",
        key: "requiredEnv",
        says: "expected a list of environment variable names",
      },
      "throws.mjs": { text: "throw new Error('boom at load');\n", key: "", says: "boom at load" },
    };
    const texts = Object.fromEntries(Object.entries(broken).map(([f, b]) => [f, b.text]));
    const dir = withPlugins(texts);

    for (const [file, b] of Object.entries(broken)) {
      const task = file.replace(/\.mjs$/, "");
      const r = cli(home, ["task", "run", task, "--json"], { cwd: dir });
      const error = JSON.parse(r.stdout).error as { code: string; message: string; details: any };
      expect(error.code, file).toBe("CONFIG_INVALID");
      expect(r.code, file).toBe(2);
      const where = `.baton/tasks/${file}${b.line === undefined ? "" : `:${b.line}`}`;
      expect(error.message, file).toContain(where);
      expect(error.message, file).toContain(b.says);
      expect(error.details.problems[0], file).toMatchObject({
        key: b.key,
        file: join(dir, ".baton", "tasks", file),
      });
      // describe refuses it the same way
      const d = cli(home, ["task", "describe", task, "--json"], { cwd: dir });
      expect(JSON.parse(d.stdout).error.code, file).toBe("CONFIG_INVALID");
    }
    // nothing was queued: no daemon was needed and no job exists
    expect(cliJson(home, ["list", "--all"]).jobs ?? []).toEqual([]);

    const validate = cli(home, ["config", "validate", "--json"], { cwd: dir });
    expect(validate.code).toBe(2);
    const problems = JSON.parse(validate.stdout).error.details.problems as {
      file: string;
      key: string;
      message: string;
    }[];
    for (const [file, b] of Object.entries(broken)) {
      expect(
        problems.some((p) => p.file.endsWith(file) && p.key === b.key && p.message.includes(b.says)),
        file,
      ).toBe(true);
    }
    const text = cli(home, ["config", "validate"], { cwd: dir });
    expect(text.stdout + text.stderr).toContain(".baton/tasks/syntax.mjs:3:1: syntax error");

    const doctor = cli(home, ["doctor", "--json"], { cwd: dir });
    expect(doctor.code).toBe(1);
    const config = (
      JSON.parse(doctor.stdout).data.checks as { name: string; ok: boolean; detail: string }[]
    ).find((c) => c.name === "config")!;
    expect(config.ok).toBe(false);
    expect(config.detail).toContain(".baton/tasks/noexport.mjs: default: no task exported");

    // capabilities still lists every task, each broken one with its error
    const caps = cliJson(home, ["capabilities"], { cwd: dir });
    const typo = (caps.tasks as { name: string; error?: string }[]).find((t) => t.name === "typo");
    expect(typo?.error).toContain("did you mean 'dryRun'?");
    // 19 CLI calls, each importing plugins: more than the default minute on a loaded machine.
  }, 120_000);

  it("a plugin whose import never finishes is broken after 5 s, not a hang: validate, doctor, capabilities, describe, run", () => {
    const home = newHome();
    const dir = withPlugins({
      "hang.mjs": "while (true) {}\nexport default { run() { return { summary: 'never' }; } };\n",
      "fine.mjs": "export default { description: 'fine', run() { return { summary: 'ok' }; } };\n",
    });
    const says = "did not finish loading within 5 s";
    // The child would run forever without the limit: the helper's own timeout (well above 5 s) ends it.
    const validate = cli(home, ["config", "validate", "--json"], { cwd: dir });
    expect(validate.code).toBe(2);
    const problems = JSON.parse(validate.stdout).error.details.problems as {
      file: string;
      message: string;
    }[];
    expect(problems).toHaveLength(1);
    expect(problems[0]!.file).toBe(join(dir, ".baton", "tasks", "hang.mjs"));
    expect(problems[0]!.message).toContain(says);
    const doctor = cli(home, ["doctor", "--json"], { cwd: dir });
    const config = (
      JSON.parse(doctor.stdout).data.checks as { name: string; ok: boolean; detail: string }[]
    ).find((c) => c.name === "config")!;
    expect(config.ok).toBe(false);
    expect(config.detail).toContain(".baton/tasks/hang.mjs");
    expect(config.detail).toContain(says);
    const caps = cliJson(home, ["capabilities"], { cwd: dir }).tasks as { name: string; error?: string }[];
    expect(caps.find((t) => t.name === "hang")?.error).toContain(says);
    expect(caps.find((t) => t.name === "fine")?.error).toBeUndefined();
    for (const args of [
      ["task", "describe", "hang", "--json"],
      ["task", "run", "hang", "--json"],
    ]) {
      const r = cli(home, args, { cwd: dir });
      expect(r.code, args.join(" ")).toBe(2);
      const error = JSON.parse(r.stdout).error as { code: string; message: string };
      expect(error.code).toBe("CONFIG_INVALID");
      expect(error.message).toContain(".baton/tasks/hang.mjs");
      expect(error.message).toContain(says);
    }
    expect(cliJson(home, ["list", "--all"]).jobs ?? []).toEqual([]);
  });

  it("a plugin that never finishes loading holds only its own verdict: the plugins after it are checked, in about 5 s", () => {
    const home = newHome();
    const dir = withPlugins({
      "hang.mjs": "await new Promise(() => {});\nexport default { run() { return {}; } };\n",
      "oops.mjs": "export default { run() { return {; } };\n",
      "valid.mjs": "export default { description: 'valid', run() { return { summary: 'ok' }; } };\n",
    });
    const started = Date.now();
    const validate = cli(home, ["config", "validate", "--json"], { cwd: dir });
    const took = Date.now() - started;
    expect(validate.code).toBe(2);
    const body = JSON.parse(validate.stdout);
    const problems = body.error.details.problems as { file: string; message: string }[];
    expect(problems.map((p) => [p.file.slice(dir.length + 1), p.message.split(":")[0]])).toEqual([
      [".baton/tasks/hang.mjs", "did not finish loading within 5 s (its top-level code never ends)"],
      [".baton/tasks/oops.mjs", "syntax error"],
    ]);
    expect(took).toBeLessThan(12_000);
    const doctor = cli(home, ["doctor", "--json"], { cwd: dir });
    const config = (
      JSON.parse(doctor.stdout).data.checks as { name: string; ok: boolean; detail: string; fix: string }[]
    ).find((c) => c.name === "config")!;
    expect(config.detail).not.toContain("valid.mjs");
    expect(config.fix).toContain("until then the tasks hang, oops cannot run (the others do)");
    // It is true: the valid plugin runs.
    expect(cliJson(home, ["task", "run", "valid"], { cwd: dir }).state).toBe("succeeded");
  });

  it("a plugin's requiredEnv (or docket's required_env) is checked before the run is queued", () => {
    const home = newHome();
    const dir = withPlugins({
      "deploy.mjs":
        "export default { requiredEnv: ['PLUG_TOKEN', 'PLUG_URL'], run({ env }) { return { summary: `to ${env.PLUG_URL}` }; } };\n",
      "legacy.mjs": "export default { required_env: ['LEGACY_KEY'], run() { return { summary: 'ok' }; } };\n",
    });
    const r = cli(home, ["task", "run", "deploy", "--json"], { cwd: dir, env: { PLUG_URL: "x" } });
    expect(r.code).toBe(2);
    const error = JSON.parse(r.stdout).error;
    expect(error.code).toBe("INVALID_INPUT");
    expect(error.message).toContain("needs environment variable(s) PLUG_TOKEN");
    expect(error.details).toMatchObject({ task: "deploy", missing: ["PLUG_TOKEN"] });
    const legacy = cli(home, ["task", "run", "legacy", "--async", "--json"], { cwd: dir });
    expect(JSON.parse(legacy.stdout).error.details).toMatchObject({ missing: ["LEGACY_KEY"] });
    expect(runsOf(home, dir, "deploy")).toEqual([]);
    expect(runsOf(home, dir, "legacy")).toEqual([]);
    expect(cliJson(home, ["task", "describe", "legacy"], { cwd: dir }).requiredEnv).toEqual(["LEGACY_KEY"]);

    const ok = cliJson(home, ["task", "run", "deploy"], {
      cwd: dir,
      env: { PLUG_URL: "here", PLUG_TOKEN: "t" },
    });
    expect(ok.result).toMatchObject({ summary: "to here" });
  });

  it("task new --plugin writes plain JavaScript that runs in a fresh npm project with nothing installed", () => {
    const home = newHome();
    const dir = realpathSync(mkdtempSync(join(tmpdir(), "btnpm-")));
    const npm = spawnSync("npm", ["init", "-y"], { cwd: dir, encoding: "utf8" });
    expect(npm.status, npm.stderr).toBe(0);
    const created = cliJson(home, ["task", "new", "hello", "--plugin"], { cwd: dir });
    expect(created).toMatchObject({
      task: "hello",
      kind: "plugin",
      file: join(dir, ".baton", "tasks", "hello.mjs"),
    });
    expect(readdirSync(dir).sort()).toEqual([".baton", "package.json"]);
    // Node imports it as it is: no compiler, no dependency.
    const imported = spawnSync(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `const m = await import(${JSON.stringify(pathToFileURL(created.file).href)}); console.log(typeof m.default.run)`,
      ],
      { cwd: dir, encoding: "utf8" },
    );
    expect(imported.stdout.trim(), imported.stderr).toBe("function");
    expect(cliJson(home, ["config", "validate"], { cwd: dir }).ok).toBe(true);
    const done = cliJson(home, ["task", "run", "hello", "--input", "who=ann"], { cwd: dir });
    expect(done.state).toBe("succeeded");
    expect(done.result).toMatchObject({ summary: "hello ann" });
    const dry = cli(home, ["task", "run", "hello", "--dry-run"], { cwd: dir });
    expect(dry.code).toBe(2);
    expect(dry.stdout).toContain("would greet world");
    expect(cliJson(home, ["task", "describe", "hello"], { cwd: dir }).outputs).toEqual({
      summary: "the greeting",
    });
  });

  it("a TypeScript plugin where no esbuild is installed (a user's install of baton) says to install it", () => {
    // baton as a user installs it: its files, and its dependencies without the dev-only esbuild.
    const repo = join(import.meta.dirname, "..");
    const installed = realpathSync(mkdtempSync(join(tmpdir(), "btinst-")));
    try {
      for (const part of ["bin", "dist", "sql", "package.json"])
        cpSync(join(repo, part), join(installed, part), { recursive: true });
      mkdirSync(join(installed, "node_modules"));
      for (const dep of readdirSync(join(repo, "node_modules"))) {
        if (dep === "esbuild" || dep === ".bin" || dep.startsWith(".")) continue;
        symlinkSync(join(repo, "node_modules", dep), join(installed, "node_modules", dep));
      }
      const home = newHome();
      const dir = realpathSync(mkdtempSync(join(tmpdir(), "btnpm-")));
      const run = (args: string[]) =>
        spawnSync(process.execPath, [join(installed, "bin", "baton.js"), ...args, "--json"], {
          cwd: dir,
          encoding: "utf8",
          env: { ...process.env, BATON_HOME: home.dir },
        });
      expect(run(["task", "new", "typed", "--plugin", "--typescript"]).status).toBe(0);
      const described = run(["task", "describe", "typed"]);
      const error = JSON.parse(described.stdout).error as { code: string; message: string };
      expect(error.code).toBe("CONFIG_INVALID");
      expect(error.message).toContain(".baton/tasks/typed.ts");
      expect(error.message).toContain("install esbuild in the project (npm i -D esbuild)");
      expect(error.message).not.toContain("__filename");
      // The default scaffold needs nothing.
      expect(run(["task", "new", "plain", "--plugin"]).status).toBe(0);
      const plain = JSON.parse(run(["task", "describe", "plain"]).stdout);
      expect(plain.data).toMatchObject({ kind: "plugin", outputs: { summary: "the greeting" } });
    } finally {
      rmSync(installed, { recursive: true, force: true });
    }
  });

  it("the --async receipt has the pid of the run's process (text and --json)", async () => {
    const home = newHome();
    const dir = project("tasks:\n  long:\n    command: [sleep, '60']\n");
    const started: string[] = [];
    try {
      const receipt = cliJson(home, ["task", "run", "long", "--async"], { cwd: dir });
      started.push(receipt.id);
      expect(receipt.state).toBe("running");
      expect(typeof receipt.pid).toBe("number");
      const record = await until("the run's process record", () =>
        processRecords(home).find((r) => r.jobId === receipt.id),
      );
      expect(receipt.pid).toBe(record.pid);
      const text = cli(home, ["task", "run", "long", "--async"], { cwd: dir });
      expect(text.code).toBe(0);
      // `<id> (<short id>)  <task>  <state>  pid <n>` (short ids in task run's receipt since D95)
      const [, id, state, pid] = /^(\S+) \(\S+\)\s+long\s+(\S+)\s+pid (\d+)/.exec(text.stdout) ?? [];
      started.push(id!);
      expect(state).toBe("running");
      const second = await until("the second run's process record", () =>
        processRecords(home).find((r) => r.jobId === id),
      );
      expect(Number(pid)).toBe(second.pid);
    } finally {
      for (const run of started) cli(home, ["stop", run, "--force"]);
    }
  });
});
