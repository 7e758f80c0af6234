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
    plugins: [zodEnglishOnly],
    define: { BATON_VERSION: JSON.stringify(version) },
    // Bundled CommonJS dependencies call require(); in an ES module it has to be made.
    banner: {
      js: 'import { createRequire as __batonCreateRequire } from "node:module"; const require = __batonCreateRequire(import.meta.url);',
    },
    logLevel: "warning",
  });
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
