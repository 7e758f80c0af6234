import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ERROR_CODES } from "../src/core/errors.js";

const DOC = join(import.meta.dirname, "..", "docs", "errors.md");

interface DocRow {
  code: string;
  exit: string;
  http: string;
  meaning: string;
  todo: string;
}

/** Rows of the markdown table whose first cell is a backticked code. */
function documentedRows(): DocRow[] {
  const rows: DocRow[] = [];
  for (const line of readFileSync(DOC, "utf8").split("\n")) {
    const match = /^\|\s*`([^`]+)`\s*\|(.*)\|\s*$/.exec(line);
    if (match === null) continue;
    const cells = match[2]!.split("|").map((c) => c.trim());
    rows.push({
      code: match[1]!,
      exit: cells[0] ?? "",
      http: cells[1] ?? "",
      meaning: cells[2] ?? "",
      todo: cells[3] ?? "",
    });
  }
  return rows;
}

describe("docs/errors.md", () => {
  const rows = documentedRows();
  const codes = Object.keys(ERROR_CODES);

  it("lists every code of ERROR_CODES", () => {
    const documented = new Set(rows.map((r) => r.code));
    expect(codes.filter((code) => !documented.has(code))).toEqual([]);
  });

  it("names no code that does not exist, and none twice", () => {
    expect(rows.map((r) => r.code).filter((code) => !(code in ERROR_CODES))).toEqual([]);
    expect(rows.length).toBe(new Set(rows.map((r) => r.code)).size);
  });

  it("gives each code its real exit code and HTTP status, a meaning and what to do", () => {
    for (const row of rows) {
      const spec = ERROR_CODES[row.code as keyof typeof ERROR_CODES];
      if (spec === undefined) continue;
      expect(row.exit, row.code).toBe(String(spec.exit));
      expect(row.http, row.code).toBe(String(spec.http));
      expect(row.meaning.length, `${row.code} meaning`).toBeGreaterThan(10);
      expect(row.todo.length, `${row.code} what to do`).toBeGreaterThan(10);
    }
  });

  it("mentions no other code-like name in backticks", () => {
    // Upper-case snake names in backticks must be error codes or known environment variables.
    const text = readFileSync(DOC, "utf8");
    const named = [...text.matchAll(/`([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)`/g)].map((m) => m[1]!);
    const unknown = named.filter((name) => !(name in ERROR_CODES) && !name.startsWith("BATON_"));
    expect(unknown).toEqual([]);
  });
});
