#!/usr/bin/env node
/**
 * Build baton.
 *
 *   node scripts/build.mjs               library (tsc -> dist/, with .d.ts) and the CLI bundle
 *   node scripts/build.mjs --bundle-only the CLI bundle only (used by the test global setup)
 *
 * The library is `tsc -p tsconfig.json`. The CLI is one esbuild bundle, dist/cli.mjs (see
 * docs/decisions.md D9: agents call the CLI hundreds of times, and parsing one file is cheaper than
 * resolving dozens of modules). Both run at the same time. Exits non-zero if either fails.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);
const bundleOnly = process.argv.includes("--bundle-only");

const CLI_ENTRY = join(root, "src", "cli", "main.ts");
const CLI_BUNDLE = join(root, "dist", "cli.mjs");
const LEDGER_KEY_ENTRY = join(root, "src", "ops", "ledger-key.ts");
const LEDGER_KEY_BUNDLE = join(root, "dist", "ledger-key.cjs");
const PLUGIN_GUARD_ENTRY = join(root, "src", "tasks", "plugin-guard.ts");
const PLUGIN_GUARD_BUNDLE = join(root, "dist", "plugin-guard.mjs");

/** Native addons and optional drivers: loaded from node_modules at run time, never bundled (pg itself is pure JS and is bundled). */
const EXTERNAL = ["better-sqlite3", "pg-native", "pg-cloudflare", "bufferutil", "utf-8-validate", "fsevents"];
/** jsonc-parser's CommonJS entry is UMD, whose inner require()s break once bundled: bundle its ES module build. */
const ALIAS = { "jsonc-parser": "jsonc-parser/lib/esm/main.js" };

/**
 * zod's namespace re-exports every locale (≈ 260 KB of the bundle's 450 KB of zod) although baton
 * only ever uses its default, English messages: the bundle gets a locales module with English only.
 * Parsing less keeps the daemon, which loads the CLI to serve thin clients, smaller.
 */
const zodEnglishOnly = {
  name: "zod-english-only",
  setup(build) {
    build.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[\\/]zod[\\/]v4[\\/]/.test(args.importer)
        ? { path: join(dirname(args.importer), "..", "locales", "index.js"), namespace: "zod-locales" }
        : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: "zod-locales" }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(join(dirname(args.path), "en.js"))};`,
      loader: "js",
      resolveDir: dirname(args.path),
    }));
  },
};

/**
 * yaml and croner (150 KB of the bundle) are needed only when a baton.yaml or config.yaml exists or
 * a schedule is read, but the catalogue imports them: in the CLI they are loaded on first use. Each
 * is bundled on its own as CommonJS (dist/cli-chunks/<name>.cjs), and its imports in the CLI bundle
 * resolve to a module of stand-ins that require() it on first call (`new` works on a stand-in of a
 * class: a constructor that returns an object returns that object). The names are the ones baton
 * imports; a new one is a build error ("No matching export"), not a silent undefined.
 */
const LAZY = {
  yaml: ["parseDocument", "stringify", "isMap", "isScalar", "LineCounter"],
  croner: ["Cron"],
};

const lazyPackages = {
  name: "lazy-packages",
  setup(build) {
    build.onResolve({ filter: new RegExp(`^(${Object.keys(LAZY).join("|")})$`) }, (args) =>
      args.namespace === "lazy-package" ? undefined : { path: args.path, namespace: "lazy-package" },
    );
    build.onLoad({ filter: /.*/, namespace: "lazy-package" }, (args) => {
      const names = LAZY[args.path].map(
        (name) =>
          `export function ${name}(...a) { const f = load().${name}; return new.target ? new f(...a) : f(...a); }`,
      );
      return {
        // The stand-ins land in dist/cli.mjs or in a chunk beside the .cjs files.
        contents: [
          "let loaded;",
          // require() is the banner's, relative to the output file the stand-ins land in.
          `const file = (import.meta.url.includes("/cli-chunks/") ? "./" : "./cli-chunks/") + "${args.path}.cjs";`,
          "const load = () => (loaded ??= require(file));",
          ...names,
        ].join("\n"),
        loader: "js",
      };
    });
  },
};

/** dist/cli-chunks/<name>.cjs for each package of LAZY: the package bundled as CommonJS. */
async function lazyBundles(esbuild) {
  for (const name of Object.keys(LAZY))
    await esbuild.build({
      absWorkingDir: root,
      stdin: { contents: `module.exports = require(${JSON.stringify(name)});`, resolveDir: root },
      outfile: join(root, "dist", "cli-chunks", `${name}.cjs`),
      bundle: true,
      platform: "node",
      format: "cjs",
      target: "node20",
      minify: true,
      legalComments: "none",
      logLevel: "warning",
    });
}

/** Run tsc; resolves on success, rejects with a short message on failure. */
function typescript() {
  const tsc = require.resolve("typescript/bin/tsc");
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [tsc, "-p", join(root, "tsconfig.json")], {
      cwd: root,
      stdio: "inherit",
    });
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`tsc failed (${signal ?? `exit ${code}`})`));
    });
  });
}

/**
 * dist/cli-help.json, the help of every command, which bin/baton.js prints without loading the
 * bundle (scripts/help-texts.mjs). A child whose stdout is a pipe, so that help is wrapped at
 * commander's 80 columns whatever terminal the build runs in.
 */
function helpTexts() {
  rmSync(join(root, "dist", "cli-help.json"), { force: true });
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, "scripts", "help-texts.mjs")], {
      cwd: root,
      stdio: ["ignore", "pipe", "inherit"],
    });
    child.stdout.resume();
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`help texts failed (${signal ?? `exit ${code}`})`));
    });
  });
}

async function bundle() {
  if (!existsSync(CLI_ENTRY)) {
    process.stdout.write(
      "build: src/cli/main.ts does not exist yet; skipping the CLI bundle (dist/cli.mjs)\n",
    );
    return false;
  }
  const esbuild = await import("esbuild");
  const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  // Code splitting: what only some commands need (the MCP SDK, install-mcp, the daemon) sits in
  // chunks loaded by their dynamic import(), so ordinary commands parse less at start-up.
  rmSync(join(root, "dist", "cli-chunks"), { recursive: true, force: true });
  await esbuild.build({
    absWorkingDir: root,
    entryPoints: { cli: CLI_ENTRY },
    outdir: join(root, "dist"),
    outExtension: { ".js": ".mjs" },
    splitting: true,
    chunkNames: "cli-chunks/[name]-[hash]",
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    minify: true,
    legalComments: "none",
    external: EXTERNAL,
    alias: ALIAS,
    plugins: [zodEnglishOnly, lazyPackages],
    define: { BATON_VERSION: JSON.stringify(version) },
    // Bundled CommonJS dependencies call require(); in an ES module it has to be made.
    banner: {
      js: 'import { createRequire as __batonCreateRequire } from "node:module"; const require = __batonCreateRequire(import.meta.url);',
    },
    logLevel: "warning",
  });
  // The ledger key (D121) as a small CommonJS file: bin/baton.js loads it on every call to find
  // the daemon of the call's ledger, with the CLI's own code and without loading the CLI.
  await esbuild.build({
    absWorkingDir: root,
    entryPoints: [LEDGER_KEY_ENTRY],
    outfile: LEDGER_KEY_BUNDLE,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    logLevel: "warning",
  });
  // The plugin import guard (D128): Node loads a resolve hook by URL, so it is a file of its own.
  await esbuild.build({
    absWorkingDir: root,
    entryPoints: [PLUGIN_GUARD_ENTRY],
    outfile: PLUGIN_GUARD_BUNDLE,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "warning",
  });
  await lazyBundles(esbuild);
  await helpTexts();
  return true;
}

async function main() {
  const started = performance.now();
  const steps = [];
  const done = [];
  if (!bundleOnly) {
    // Start from an empty dist/ so files of deleted modules do not linger in the package.
    rmSync(join(root, "dist"), { recursive: true, force: true });
    steps.push(typescript().then(() => done.push("library")));
  }
  steps.push(bundle().then((built) => built && done.push("CLI bundle")));
  const results = await Promise.allSettled(steps);
  const failures = results.filter((r) => r.status === "rejected");
  for (const failure of failures) {
    const reason = failure.reason;
    // esbuild has already printed its diagnostics; tsc printed its own.
    process.stderr.write(
      `build: ${reason instanceof Error ? reason.message.split("\n")[0] : String(reason)}\n`,
    );
  }
  if (failures.length > 0) {
    process.exitCode = 1;
    return;
  }
  const ms = Math.round(performance.now() - started);
  process.stdout.write(`build: ${done.join(" and ") || "nothing"} done in ${ms} ms\n`);
}

await main();
