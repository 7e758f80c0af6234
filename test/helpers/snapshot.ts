import { readFileSync, writeFileSync } from "node:fs";
import { expect } from "vitest";

/**
 * Compare `actual` with the committed snapshot file; with UPDATE_SCHEMA_SNAPSHOT=1, rewrite the
 * file instead. A schema change must come with a new numbered migration and a reviewed snapshot.
 */
export function expectSchemaSnapshot(file: string, actual: string): void {
  if (process.env.UPDATE_SCHEMA_SNAPSHOT === "1") {
    writeFileSync(file, actual);
    return;
  }
  let expected: string;
  try {
    expected = readFileSync(file, "utf8");
  } catch {
    throw new Error(`${file} is missing: run with UPDATE_SCHEMA_SNAPSHOT=1 to create it`);
  }
  expect(actual).toBe(expected);
}
