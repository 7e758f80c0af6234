/**
 * One-shot start-up loads only what the call needs (issue 19): `baton --version` and
 * `baton <command…> --help` are answered by the thin client without loading the CLI bundle (help
 * from dist/cli-help.json, written at build time, which must equal the live help), and a mistyped
 * command loads the CLI but not the store: no SQLite driver, no PostgreSQL driver. Each is observed in a real child
 * process: an ES module hook records every module the process resolves, and at exit the CommonJS
 * cache (where the native SQLite driver lands) is added. `baton list` shows the probe sees the
 * store when it is loaded. The times are in docs/benchmarks.md (npm run bench:startup).
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import type { Command } from "commander";
import { buildProgram, main } from "../src/cli/main.js";
import { BIN, ROOT } from "./helpers/cli.js";
import { tempDir } from "./helpers/tmp.js";

function loadedBy(
  args: string[],
  files: Record<string, string> = {},
): { code: number; stdout: string; modules: string[] } {
  const dir = tempDir("baton-startup-");
  const project = join(dir, "p");
  mkdirSync(join(project, ".git"), { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(project, name), text);
  const record = join(dir, "loaded.txt");
  writeFileSync(record, "");
  const hooks = join(dir, "hooks.mjs");
  writeFileSync(
    hooks,
    `import { appendFileSync } from "node:fs";
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(${JSON.stringify(record)}, r.url + "\\n");
  return r;
}
`,
  );
  const preload = join(dir, "preload.mjs");
  writeFileSync(
    preload,
    `import { register, createRequire } from "node:module";
import { appendFileSync } from "node:fs";
register(${JSON.stringify(pathToFileURL(hooks).href)});
const cache = createRequire(import.meta.url).cache;
process.on("exit", () => appendFileSync(${JSON.stringify(record)}, Object.keys(cache).join("\\n") + "\\n"));
`,
  );
  const r = spawnSync(process.execPath, ["--import", pathToFileURL(preload).href, BIN, ...args], {
    cwd: project,
    env: { ...process.env, BATON_HOME: join(dir, "home"), NO_COLOR: "1", BATON_DATABASE_URL: "" },
    encoding: "utf8",
    timeout: 60_000,
  });
  const modules = readFileSync(record, "utf8")
    .split("\n")
    .filter((l) => l !== "");
  return { code: r.status ?? -1, stdout: r.stdout, modules };
}

const cliBundle = (m: string) => /dist[\\/]cli(\.mjs|-chunks)/.test(m);
const store = (m: string) => /better-sqlite3|[\\/]node_modules[\\/]pg[\\/]/.test(m);
/** The text of every file of the CLI bundle a call loaded (bundled packages are inside them). */
const bundleText = (modules: string[]) =>
  modules
    .filter(cliBundle)
    .map((m) => readFileSync(m.startsWith("file:") ? fileURLToPath(m) : m, "utf8"))
    .join("\n");
/** Strings of the yaml parser's and croner's code (their error messages survive minification). */
const YAML_CODE = "Implicit keys need to be on a single line";
const CRONER_CODE = "CronPattern: Pattern has to be of type";

describe("start-up loads only what the call needs", () => {
  it("--version is answered without loading the CLI bundle", () => {
    for (const flag of ["--version", "-V"]) {
      const r = loadedBy([flag]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
      expect(r.modules.filter(cliBundle)).toEqual([]);
      expect(r.modules.filter(store)).toEqual([]);
    }
  });

  it("--help of the program and of any command is printed without loading the CLI bundle", () => {
    const texts = helpTexts();
    for (const args of [["--help"], ["-h"], ["list", "--help"], ["ls", "-h"], ["task", "run", "--help"]]) {
      const r = loadedBy(args);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(texts[args.slice(0, -1).join(" ")]);
      expect(r.modules.filter(cliBundle)).toEqual([]);
    }
  });

  it("a mistyped command loads the CLI but not the store; so does help the file does not hold", () => {
    const help = loadedBy(["list", "--json", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: baton list");
    expect(help.modules.some(cliBundle)).toBe(true);
    expect(help.modules.filter(store)).toEqual([]);
    const typo = loadedBy(["stauts"]);
    expect(typo.code).toBe(2);
    expect(typo.modules.filter(store)).toEqual([]);
  });

  it("the probe sees the store when a command opens it (list)", () => {
    const list = loadedBy(["list"]);
    expect(list.code).toBe(0);
    expect(list.modules.some(store)).toBe(true);
  });

  it("list without a baton.yaml loads no yaml parser, croner, server, dashboard, daemon or PostgreSQL", () => {
    const list = loadedBy(["list"]);
    expect(list.code).toBe(0);
    const code = bundleText(list.modules);
    expect(code).not.toContain(YAML_CODE);
    expect(code).not.toContain(CRONER_CODE);
    expect(
      list.modules.filter((m) => /[\\/]node_modules[\\/](pg|@modelcontextprotocol)[\\/]/.test(m)),
    ).toEqual([]);
    expect(
      list.modules.filter((m) => /(server|dashboard|http|daemon|postgres-store)-\w+\.mjs$/.test(m)),
    ).toEqual([]);
    // The same probe sees the parser once there is a baton.yaml to read.
    const configured = loadedBy(["list"], { "baton.yaml": "tasks:\n  build:\n    command: echo hi\n" });
    expect(configured.code).toBe(0);
    expect(bundleText(configured.modules)).toContain(YAML_CODE);
  });
});

/** dist/cli-help.json: the help bin/baton.js prints, by command words ("" for the program). */
function helpTexts(): Record<string, string> {
  return JSON.parse(readFileSync(join(ROOT, "dist", "cli-help.json"), "utf8")) as Record<string, string>;
}

/** Every visible command path, by name and by each alias. */
function commandPaths(command: Command, prefix: string[] = []): string[][] {
  return command.commands
    .filter((c) => !(c as unknown as { _hidden: boolean })._hidden)
    .flatMap((c) =>
      [c.name(), ...c.aliases()].flatMap((w) => [[...prefix, w], ...commandPaths(c, [...prefix, w])]),
    );
}

/** What the CLI itself (the source, not the build) prints for `baton <words…> --help`, at 80 columns. */
async function liveHelp(words: string[]): Promise<string> {
  let out = "";
  const write = process.stdout.write.bind(process.stdout);
  const tty = Object.getOwnPropertyDescriptor(process.stdout, "isTTY");
  Object.defineProperty(process.stdout, "isTTY", { value: false, configurable: true });
  process.stdout.write = (chunk: string) => ((out += chunk), true);
  try {
    expect(await main([...words, "--help"])).toBe(0);
  } finally {
    process.stdout.write = write;
    if (tty === undefined) delete (process.stdout as { isTTY?: boolean }).isTTY;
    else Object.defineProperty(process.stdout, "isTTY", tty);
  }
  return out;
}

describe("the help printed without the CLI is the CLI's help", () => {
  it("holds every visible command and alias, each equal to its live help", async () => {
    const texts = helpTexts();
    const paths = [[], ...commandPaths(buildProgram(() => undefined))].map((p) => p.join(" "));
    expect(Object.keys(texts).sort()).toEqual([...paths].sort());
    for (const words of paths)
      expect(texts[words], `baton ${words} --help`).toBe(await liveHelp(words ? words.split(" ") : []));
  });
});
