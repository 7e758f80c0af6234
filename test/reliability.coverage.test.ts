/**
 * The R-id coverage check (RELIABILITY.md): every requirement that an implemented issue promises
 * must have at least one test whose name carries its id. A test proves a requirement by saying so
 * in its name (the id, then what is proved); this file finds those names in `test/**\/*.test.ts`
 * and fails when a promised id has none.
 *
 * When an issue lands, append the ids it promises to REQUIRED.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..");
const TEST_DIR = join(ROOT, "test");

/** Ids the implemented issues promise. Later issues append theirs. */
const REQUIRED: readonly string[] = [
  // issue 2: SQLite reliability, bad input, database paths
  "R-01",
  "R-03",
  "R-04",
  "R-09",
  "R-10",
  "R-11",
  "R-19",
  "R-21",
  "R-22",
  "R-26",
  "R-30",
  // issue 4: MCP protocol abuse (stdio) and the HTTP transport's Host/Origin checks
  "R-20",
  "R-25",
  // issue 8: the HTTP API's malformed input and bind/token policy (R-25 also for the API)
  "R-23",
  "R-24",
  "R-06",
  // issue 5: configured tasks (baton.yaml validation, schedules once per slot, hooks via env only)
  "R-31",
  "R-18",
  "R-27",
  // issue 3: background commands (R-26 also for log paths and job names)
  "R-07",
  "R-08",
  "R-15",
  "R-16",
  "R-28",
  "R-29",
  // issue 7: PostgreSQL (R-04, R-19, R-22, R-30 also run on PostgreSQL)
  "R-02",
  "R-13",
  "R-14",
  // issue 6: queue library (poison pill dead-lettered across worker-process crashes; soak)
  "R-17",
  "R-05",
  // not named by an issue: the disk holding the SQLite ledger fills up (a real tmpfs)
  "R-12",
  // issue 17 (ledger-model): long timers
  "R-34",
  "R-35",
  // issue 17 (ledger-truth): request ids across daemon kills, a daemon serves only its own ledger, a full disk under the daemon
  "R-32",
  "R-33",
  "R-39",
  // issue 17, finding 8: a lock: true task started many times at once runs once at a time
  "R-40",
  // issue 17: model-based test, random interleavings of the catalogue from three processes
  "R-38",
  // issue 16: trust boundaries (another local user on every surface; executor types)
  "R-36",
  "R-37",
];

/** Every requirement of RELIABILITY.md: R-01 … R-40. */
const ALL = Array.from({ length: 40 }, (_, i) => `R-${String(i + 1).padStart(2, "0")}`);

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === "node_modules" ? [] : testFiles(path);
    return entry.name.endsWith(".test.ts") ? [path] : [];
  });
}

/**
 * The names given to `it`, `test` and `describe` (with modifiers such as `.each` or `.skipIf(…)`,
 * but not `.skip` or `.todo`, which prove nothing), as written: a quoted or template string.
 */
const TEST_NAME =
  /\b(?:it|test|describe)((?:\.(?:concurrent|sequential|only|each|for|skipIf|runIf|fails)(?:\([^)]*\))?)*)\s*\(\s*(["'`])((?:\\.|(?!\2)[\s\S])*?)\2/g;

function requirementIdsIn(source: string): Set<string> {
  // Commented-out tests prove nothing: drop line comments and block comments that open a line.
  const code = source.replace(/^\s*\/\*[\s\S]*?\*\//gm, "").replace(/^\s*\/\/.*$/gm, "");
  const ids = new Set<string>();
  for (const match of code.matchAll(TEST_NAME)) {
    for (const id of (match[3] ?? "").matchAll(/\bR-(\d\d)\b/g)) ids.add(`R-${id[1]}`);
  }
  return ids;
}

describe("reliability requirement coverage", () => {
  it("finds ids only in test names, and not in skipped tests or comments", () => {
    // Built from a variable so that this file's own source carries no test name with an id.
    const R = "R-";
    const sample = [
      `// ${R}05 is mentioned in a comment`,
      `// it("${R}06 commented out", () => {});`,
      `/*\n it("${R}09 commented out too", () => {});\n */`,
      `it("${R}07 kill -9 the daemon", () => {});`,
      `it.skip("${R}08 not yet", () => {});`,
      `it.todo("${R}12 disk full");`,
      `describe.skipIf(noPg)("${R}02 on PostgreSQL", () => {});`,
      `it(\`${R}21 \${group}: exit 2\`, () => {});`,
      `it(\n  "${R}13 a name on its own line",\n  async () => {},\n);`,
      `const text = "${R}14 in a plain string";`,
    ].join("\n");
    expect([...requirementIdsIn(sample)].sort()).toEqual(["R-02", "R-07", "R-13", "R-21"]);
  });

  it("every promised R-id has a test that carries it in its name", () => {
    const where = new Map<string, string[]>();
    for (const file of testFiles(TEST_DIR)) {
      for (const id of requirementIdsIn(readFileSync(file, "utf8"))) {
        where.set(id, [...(where.get(id) ?? []), relative(ROOT, file)]);
      }
    }
    const rows = ALL.map((id) => {
      const files = where.get(id) ?? [];
      const status = files.length > 0 ? "tested" : REQUIRED.includes(id) ? "MISSING" : "to come";
      return `${id}  ${status.padEnd(8)} ${files.join(", ")}`;
    });
    console.log(`R-id coverage (${REQUIRED.length} required):\n${rows.join("\n")}`);

    const missing = REQUIRED.filter((id) => !where.has(id));
    expect(missing, `promised requirements without a test named after them: ${missing.join(", ")}`).toEqual(
      [],
    );
    // REQUIRED names real requirements only.
    expect(REQUIRED.filter((id) => !ALL.includes(id))).toEqual([]);
  });
});
