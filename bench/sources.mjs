// Benchmarks that measure the TypeScript sources (not dist/) bundle the exports they need with
// esbuild into bench/results/ and import the bundle: one place for how that is done.
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** Bundle `exports` (lines of `export { … } from "./src/….ts"`) as `.<name>-bench-bundle.mjs` and import it. */
export async function loadSources(name, exports) {
  const esbuild = await import("esbuild");
  const outdir = join(root, "bench", "results");
  mkdirSync(outdir, { recursive: true });
  const outfile = join(outdir, `.${name}-bench-bundle.mjs`);
  await esbuild.build({
    stdin: { contents: exports.join("\n"), resolveDir: root, loader: "ts" },
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    external: ["better-sqlite3", "@modelcontextprotocol/*", "jsonc-parser", "pg", "pg-native"],
    banner: {
      js: 'import { createRequire as __cr } from "node:module"; const require = __cr(import.meta.url);',
    },
    logLevel: "warning",
  });
  return import(pathToFileURL(outfile).href);
}
