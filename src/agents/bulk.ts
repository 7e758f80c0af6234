/**
 * Bulk agent jobs from a file: NDJSON (one JSON object per line), a JSON array, or CSV with a header
 * row (`agent,instructions,type,user,key,timeout,retries` and `meta.<key>` columns; quoted fields may
 * hold commas, quotes as "" and newlines).
 */
import { InvalidInputError } from "../core/errors.js";

/** RFC 4180 rows: fields split on commas, "quoted" fields with "" for a quote and line breaks inside. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === "") quoted = true;
    else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(field);
      if (row.some((f) => f !== "")) rows.push(row);
      row = [];
      field = "";
    } else field += c;
  }
  if (quoted) throw new InvalidInputError("the CSV file ends inside a quoted field");
  row.push(field);
  if (row.some((f) => f !== "")) rows.push(row);
  return rows;
}

const CSV_COLUMNS = ["agent", "instructions", "type", "user", "key", "timeout", "retries"];

/** Agent job specs from a CSV text with a header row. */
export function csvJobs(text: string): Record<string, unknown>[] {
  const [header, ...rows] = parseCsv(text);
  if (header === undefined) throw new InvalidInputError("the CSV file is empty");
  const names = header.map((h) => h.trim());
  for (const name of names) {
    if (!CSV_COLUMNS.includes(name) && !/^meta\.[^\s]+$/.test(name)) {
      throw new InvalidInputError(
        `unknown CSV column '${name}' (expected ${CSV_COLUMNS.join(", ")} or meta.<key>)`,
      );
    }
  }
  if (!names.includes("instructions"))
    throw new InvalidInputError("the CSV file needs an instructions column");
  return rows.map((cells, n) => {
    if (cells.length !== names.length) {
      throw new InvalidInputError(`CSV row ${n + 2} has ${cells.length} fields, the header ${names.length}`);
    }
    const job: Record<string, unknown> = {};
    const meta: Record<string, string> = {};
    names.forEach((name, i) => {
      const value = cells[i]!;
      if (value === "") return;
      if (name.startsWith("meta.")) meta[name.slice(5)] = value;
      else if (name === "retries") {
        if (!/^\d+$/.test(value)) throw new InvalidInputError(`CSV row ${n + 2}: retries must be a number`);
        job.retries = Number(value);
      } else job[name] = value;
    });
    if (Object.keys(meta).length > 0) job.meta = meta;
    return job;
  });
}
