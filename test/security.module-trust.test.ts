/**
 * D122 (red team H1, issue 16): a TypeScript plugin is compiled with the esbuild a node_modules walk
 * finds, and that walk climbs above the project. Root's project is /tmp/pub/proj; /tmp/pub is
 * shared (1777), so `nobody` makes /tmp/pub/node_modules/esbuild whose code writes a canary. Root's
 * `task describe`, `config validate` and the daemon's read-only `describe_task`/`capabilities` (HTTP
 * API and MCP) imported it: code run as root. It is refused now (CONFIG_INVALID naming the path).
 *
 * D128: a plugin's own bare imports (`import "somepkg"`, `require("somepkg")`) were resolved by
 * Node's walk, past D122's checks: nobody's /tmp/pub/node_modules/somepkg ran as root in the probe
 * thread, the command and the plugin host. The plugin import guard refuses them now.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, realpathSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { callOp } from "./helpers/http.js";
import { call, connectStdio, toolError } from "./helpers/mcp.js";
import { cli, cliJson, newHome, stopDaemon } from "./helpers/supervisor.js";

const isRoot = process.getuid?.() === 0;
const hasRunuser = isRoot && spawnSync("runuser", ["--help"]).status === 0;
if (!hasRunuser) console.warn("security.module-trust: skipped: needs root and runuser (a second local user)");

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()!().catch(() => undefined);
});

/** Run `script` as nobody (sh -c). */
function asNobody(script: string): void {
  const r = spawnSync("runuser", ["-u", "nobody", "--", "sh", "-c", script], { encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
}

/** Root's project `proj` with these `.baton/tasks` files, in a shared folder (1777) `pub`. */
function sharedProject(plugins: Record<string, string>): { pub: string; dir: string } {
  const pub = realpathSync(mkdtempSync(join(tmpdir(), "bts-pub-")));
  chmodSync(pub, 0o1777);
  const dir = join(pub, "proj");
  mkdirSync(join(dir, ".baton", "tasks"), { recursive: true, mode: 0o755 });
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, "baton.yaml"), "tasks: {}\n");
  for (const [name, text] of Object.entries(plugins)) writeFileSync(join(dir, ".baton", "tasks", name), text);
  return { pub, dir };
}

/** Root's project under a shared folder where nobody planted node_modules/esbuild writing `canary`. */
function plantedProject(canary: string): { dir: string; planted: string } {
  const { pub, dir } = sharedProject({
    "greet.ts": "export default { description: 'Say hello', run() { return { summary: 'hello' }; } };\n",
  });
  const fake = join(pub, "node_modules", "esbuild");
  const index = `require("node:fs").writeFileSync(${JSON.stringify(canary)}, "pwned"); exports.build = async () => ({ outputFiles: [{ text: "export default {}" }] });\n`;
  asNobody(
    `mkdir -p '${fake}' && printf '%s' '{"name":"esbuild","main":"index.js"}' > '${fake}/package.json' && cat > '${fake}/index.js' <<'EOF'\n${index}EOF`,
  );
  return { dir, planted: join(fake, "index.js") };
}

/**
 * `config validate` and the daemon's read-only `describe_task` of `greet` refuse it, naming
 * `planted`; the daemon's API base and read-only authorization, for more calls.
 */
async function refusedByValidateAndDaemon(
  home: ReturnType<typeof newHome>,
  dir: string,
  planted: string,
): Promise<{ base: string; auth: Record<string, string> }> {
  const validated = cli(home, ["config", "validate", "--json"], { cwd: dir });
  expect(validated.code).not.toBe(0);
  expect(validated.stdout + validated.stderr).toContain(planted);
  const dash = cliJson(home, ["dashboard", "--no-open"]) as { base: string };
  const base = String(dash.base).replace(/\/$/, "");
  const readOnly = cliJson(home, ["token", "show", "--read-only"]).token as string;
  const auth = { authorization: `Bearer ${readOnly}` };
  const viaHttp = await callOp(base, "describe_task", { task: "greet", cwd: dir }, auth);
  expect(viaHttp.body.error?.code).toBe("CONFIG_INVALID");
  expect(viaHttp.body.error?.message).toContain(planted);
  return { base, auth };
}

describe.skipIf(!hasRunuser)("D122 an esbuild another user planted above the project is not imported", () => {
  it("red team H1: task describe, config validate and the daemon's describe_task/capabilities (read-only token) and MCP refuse it", async () => {
    const canaryDir = realpathSync(mkdtempSync(join(tmpdir(), "bts-canary-")));
    chmodSync(canaryDir, 0o777);
    const canary = join(canaryDir, "pwned");
    const { dir, planted } = plantedProject(canary);
    const home = newHome();
    closers.push(async () => stopDaemon(home));

    const described = cli(home, ["task", "describe", "greet", "--json"], { cwd: dir });
    expect(described.code).not.toBe(0);
    expect(described.stdout + described.stderr).toContain("CONFIG_INVALID");
    expect(described.stdout + described.stderr).toContain(planted);
    expect(described.stdout + described.stderr).toContain("owned by uid 65534");

    const { base, auth } = await refusedByValidateAndDaemon(home, dir, planted);
    const caps = await callOp(base, "capabilities", { cwd: dir }, auth);
    expect(JSON.stringify(caps.body)).toContain(planted);

    // describe_task and capabilities are in the full tool set, which the daemon's /mcp does not serve: stdio.
    const mcp = await connectStdio(home.dir, ["--tools", "full"], dir);
    closers.push(() => mcp.close());
    const viaMcp = await call(mcp.client, "describe_task", { task: "greet", cwd: dir });
    expect(viaMcp.isError).toBe(true);
    expect(toolError(viaMcp).code).toBe("CONFIG_INVALID");
    expect(toolError(viaMcp).message).toContain(planted);
    const capsMcp = await call(mcp.client, "capabilities", { cwd: dir });
    expect(JSON.stringify(capsMcp.data)).toContain(planted);

    expect(existsSync(canary)).toBe(false);
  });

  it("a plugin package of root's own, in a node_modules nobody made above the project, is refused", () => {
    const canaryDir = realpathSync(mkdtempSync(join(tmpdir(), "bts-canary-")));
    const canary = join(canaryDir, "pwned");
    const pub = realpathSync(mkdtempSync(join(tmpdir(), "bts-pub-")));
    chmodSync(pub, 0o1777);
    const dir = join(pub, "proj");
    mkdirSync(dir, { mode: 0o755 });
    writeFileSync(join(dir, "baton.yaml"), "tasks:\n  greet:\n    plugin: greeter\n");
    // nobody owns node_modules, so could swap root's package in it for another after any check.
    asNobody(`mkdir -m 0755 '${join(pub, "node_modules")}'`);
    const pkg = join(pub, "node_modules", "greeter");
    mkdirSync(pkg, { mode: 0o755 });
    writeFileSync(join(pkg, "package.json"), '{"name":"greeter","main":"index.mjs"}');
    writeFileSync(
      join(pkg, "index.mjs"),
      `import { writeFileSync } from "node:fs"; writeFileSync(${JSON.stringify(canary)}, "x");\nexport default { run() { return {}; } };\n`,
    );
    const home = newHome();
    const described = cli(home, ["task", "describe", "greet", "--json"], { cwd: dir });
    expect(described.code).not.toBe(0);
    expect(described.stdout).toContain("CONFIG_INVALID");
    expect(described.stdout).toContain(
      `the folder above it ${join(pub, "node_modules")} is owned by uid 65534`,
    );
    expect(existsSync(canary)).toBe(false);
  });
});

/**
 * Root's project in a shared folder (1777) with three plugins importing the bare package `somepkg`:
 * `greet.mjs` (import), `legacy.cjs` (require) and `typed.ts` (import, compiled by esbuild).
 */
function importingProject(): { pub: string; dir: string } {
  return sharedProject({
    "greet.mjs":
      'import word from "somepkg";\nexport default { description: `say ${word}`, run() { return { summary: word }; } };\n',
    "legacy.cjs":
      'const word = require("somepkg");\nmodule.exports = { description: `say ${word}`, run() { return { summary: word }; } };\n',
    "typed.ts":
      'import word from "somepkg";\nexport default { description: `say ${word as string}`, run() { return { summary: word }; } };\n',
  });
}

/** The CommonJS package `somepkg` in `folder`/node_modules (as `owner`), writing `canary` when run. */
function somepkg(folder: string, canary: string, word: string, owner: "root" | "nobody"): string {
  const pkg = join(folder, "node_modules", "somepkg");
  const index = `require("node:fs").writeFileSync(${JSON.stringify(canary)}, "ran"); module.exports = ${JSON.stringify(word)};\n`;
  const script = `mkdir -p '${pkg}' && printf '%s' '{"name":"somepkg","main":"index.js"}' > '${pkg}/package.json' && cat > '${pkg}/index.js' <<'EOF'\n${index}EOF`;
  if (owner === "nobody") asNobody(script);
  else expect(spawnSync("sh", ["-c", script]).status).toBe(0);
  return join(pkg, "index.js");
}

describe.skipIf(!hasRunuser)(
  "D128 a plugin's own bare import of another user's package is not imported",
  () => {
    it("the probe thread, the command, the daemon and the plugin host refuse it, for import, require and TypeScript", async () => {
      const canaryDir = realpathSync(mkdtempSync(join(tmpdir(), "bts-canary-")));
      chmodSync(canaryDir, 0o777);
      const canary = join(canaryDir, "ran");
      const { pub, dir } = importingProject();
      const planted = somepkg(pub, canary, "planted", "nobody");
      const home = newHome();
      closers.push(async () => stopDaemon(home));

      for (const task of ["greet", "legacy", "typed"]) {
        const described = cli(home, ["task", "describe", task, "--json"], { cwd: dir });
        const said = described.stdout + described.stderr;
        expect(described.code, said).not.toBe(0);
        expect(said).toContain("CONFIG_INVALID");
        expect(said).toContain(`imports 'somepkg' from ${planted}`);
        expect(said).toContain("owned by uid 65534");
        expect(existsSync(canary), `${task}: the planted code ran`).toBe(false);
      }

      // The daemon imports plugins for describe_task in its long-lived process.
      await refusedByValidateAndDaemon(home, dir, planted);

      // The plugin host, which a run starts, imports without a probe.
      const hosted = cli(home, ["task", "plugin-host", join(dir, ".baton", "tasks", "greet.mjs"), "greet"], {
        cwd: dir,
      });
      expect(hosted.code).not.toBe(0);
      expect(hosted.stdout + hosted.stderr).toContain(planted);

      expect(existsSync(canary)).toBe(false);
    });

    it("the same package of root's own, above the project or in its node_modules, is imported", () => {
      const canary = join(realpathSync(mkdtempSync(join(tmpdir(), "bts-canary-"))), "ran");
      const { pub, dir } = importingProject();
      somepkg(pub, canary, "root's", "root");
      const home = newHome();
      for (const task of ["greet", "legacy", "typed"]) {
        const described = cliJson(home, ["task", "describe", task], { cwd: dir }) as { description?: string };
        expect(described.description).toBe("say root's");
      }
      expect(existsSync(canary)).toBe(true);

      // Nearest first: the project's own copy is found before the one nobody planted above it.
      const other = importingProject();
      somepkg(other.pub, canary, "planted", "nobody");
      somepkg(other.dir, canary, "the project's", "root");
      const own = cliJson(home, ["task", "describe", "greet"], { cwd: other.dir }) as {
        description?: string;
      };
      expect(own.description).toBe("say the project's");
    });
  },
);

/** A folder anyone may write, for a planted binary's canary. */
function canaryIn(name: string): string {
  const canaryDir = realpathSync(mkdtempSync(join(tmpdir(), "bts-canary-")));
  chmodSync(canaryDir, 0o777);
  return join(canaryDir, name);
}

/** Root's `task describe` in `dir` is CONFIG_INVALID naming `planted`, nobody's file. */
function expectDescribeRefused(
  home: ReturnType<typeof newHome>,
  dir: string,
  task: string,
  planted: string,
): void {
  const described = cli(home, ["task", "describe", task, "--json"], { cwd: dir });
  expect(described.code).not.toBe(0);
  expect(described.stdout + described.stderr).toContain("CONFIG_INVALID");
  expect(described.stdout + described.stderr).toContain(planted);
  expect(described.stdout + described.stderr).toContain("owned by uid 65534");
}

/** esbuild's platform package for this machine (as esbuild's lib/main.js names it). */
const platformPkg = `@esbuild/${process.platform}-${process.arch}`;

/**
 * Root's project /<shared>/proj with a TypeScript plugin and its own node_modules/esbuild but not
 * the platform package beside it (an install with --omit=optional); nobody plants that package in
 * /<shared>/node_modules, its binary a script that writes `id` to `marker` then runs the real one.
 */
function missingBinaryProject(marker: string): { dir: string; planted: string; real: string } {
  const { pub, dir } = sharedProject({
    "tt.ts":
      "export default { description: 'Typed', run(): { summary: string } { return { summary: 'ok' }; } };\n",
  });

  mkdirSync(join(dir, "node_modules"), { mode: 0o755 });
  cpSync(join(process.cwd(), "node_modules", "esbuild"), join(dir, "node_modules", "esbuild"), {
    recursive: true,
  });
  const real = realpathSync(
    createRequire(join(process.cwd(), "node_modules", "esbuild", "lib", "main.js")).resolve(
      `${platformPkg}/bin/esbuild`,
    ),
  );
  const fake = join(pub, "node_modules", platformPkg);
  asNobody(
    `mkdir -p '${fake}/bin' && printf '%s' '{"name":"${platformPkg}","version":"0.0.0"}' > '${fake}/package.json' && printf '#!/bin/sh\\nid > ${marker}\\nexec ${real} "$@"\\n' > '${fake}/bin/esbuild' && chmod 755 '${fake}/bin/esbuild'`,
  );
  return { dir, planted: join(fake, "bin", "esbuild"), real };
}

describe.skipIf(!hasRunuser)("D136 the native binary esbuild would run is checked and pinned", () => {
  it("red team (issue 16): a binary nobody planted above a project whose esbuild lacks its platform package is refused, not run", async () => {
    const marker = canaryIn("id");
    const { dir, planted } = missingBinaryProject(marker);
    const home = newHome();
    closers.push(async () => stopDaemon(home));

    expectDescribeRefused(home, dir, "tt", planted);

    const dash = cliJson(home, ["dashboard", "--no-open"]) as { base: string };
    const base = String(dash.base).replace(/\/$/, "");
    const readOnly = cliJson(home, ["token", "show", "--read-only"]).token as string;
    const viaHttp = await callOp(
      base,
      "describe_task",
      { task: "tt", cwd: dir },
      { authorization: `Bearer ${readOnly}` },
    );
    expect(viaHttp.body.error?.code).toBe("CONFIG_INVALID");
    expect(viaHttp.body.error?.message).toContain(planted);

    // A caller's ESBUILD_BINARY_PATH naming nobody's binary is checked the same way.
    const viaEnv = cli(home, ["task", "describe", "tt", "--json"], {
      cwd: dir,
      env: { ESBUILD_BINARY_PATH: planted },
    });
    expect(viaEnv.code).not.toBe(0);
    expect(viaEnv.stdout + viaEnv.stderr).toContain("ESBUILD_BINARY_PATH");
    expect(viaEnv.stdout + viaEnv.stderr).toContain("owned by uid 65534");

    expect(existsSync(marker)).toBe(false);
  });

  it("the project's own platform package beside its esbuild is used, and one nobody planted above is not run", () => {
    const marker = canaryIn("id");
    const { dir } = missingBinaryProject(marker);
    cpSync(join(process.cwd(), "node_modules", platformPkg), join(dir, "node_modules", platformPkg), {
      recursive: true,
    });
    const home = newHome();
    const described = cli(home, ["task", "describe", "tt", "--json"], { cwd: dir });
    expect(described.code, described.stdout + described.stderr).toBe(0);
    expect(described.stdout).toContain("Typed");
    expect(existsSync(marker)).toBe(false);
  });
});
