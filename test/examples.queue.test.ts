/**
 * examples/queue.mjs (shown in docs/library.md) runs and does what the doc says. It imports
 * "baton"; here that name points at a private bundle of src/index.ts, because dist/ is rebuilt by
 * other tests at any moment.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { FixtureLibrary } from "./fixtures/library.js";
import { buildFixtureLibrary } from "./fixtures/library.js";
import { tempDir } from "./helpers/tmp.js";

const ROOT = join(import.meta.dirname, "..");
let library: FixtureLibrary | undefined;

beforeAll(async () => {
  library = await buildFixtureLibrary("index.ts");
});
afterAll(() => library?.remove());

it("examples/queue.mjs runs: sends two emails (one after a retry), dead-letters the bad address", () => {
  const source = readFileSync(join(ROOT, "examples", "queue.mjs"), "utf8");
  expect(readFileSync(join(ROOT, "docs", "library.md"), "utf8")).toContain(source.trim());
  // Beside the bundle, inside the repository, so `zod` resolves from node_modules.
  const copy = join(dirname(fileURLToPath(library!.url)), "queue-example.mjs");
  writeFileSync(copy, source.replace(/from "baton-ledger";/, `from ${JSON.stringify(library!.url)};`));
  const out = execFileSync(process.execPath, [copy, tempDir("bex-")], { encoding: "utf8", timeout: 60_000 });
  expect(out).toContain("sent a@b.example: <1@example>");
  expect(out).toContain("c@d.example: SMTP timeout (retrying)");
  expect(out).toContain("x@invalid.example: no such mailbox (failed)");
  expect(out.trim().split("\n").pop()).toBe("done: 2 sent");
});
