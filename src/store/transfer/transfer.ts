/**
 * Moving a whole ledger between stores (SQLite ⇄ PostgreSQL) as NDJSON: a header line, one line
 * per row (`{"table":"jobs","row":{…}}`, tables in insert order, rows in key order), and an end
 * line with the row counts, so a truncated file is refused instead of half-imported.
 *
 * The import runs in one transaction: it lands whole or not at all.
 */
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { BatonError } from "../../core/errors.js";
import type { LedgerRows, Row, TableName, TableSpec } from "./rows.js";
import { badLine, isEmptyLedger, normalizeRow, TABLES, tableSpec } from "./rows.js";

export const EXPORT_FORMAT = "baton-ledger";
export const EXPORT_VERSION = 1;
const PAGE = 1000;

export type Counts = Record<TableName, number>;

function zeroCounts(): Counts {
  return { jobs: 0, job_deps: 0, attempts: 0, events: 0, pauses: 0, schedules: 0 };
}

/**
 * Write every row of `source` as NDJSON lines through `write` (which may return a promise to
 * apply backpressure). Returns the row counts.
 */
export async function exportLedger(
  source: LedgerRows,
  write: (line: string) => void | Promise<void>,
  now: () => number = Date.now,
): Promise<Counts> {
  const counts = zeroCounts();
  // One snapshot for the whole file: tables read at different moments under claim/complete
  // traffic disagreed (a job running whose attempt had succeeded), and an import re-ran it.
  await source.beginSnapshot();
  try {
    await writeAll(source, write, now, counts);
  } finally {
    await source.endSnapshot();
  }
  return counts;
}

async function writeAll(
  source: LedgerRows,
  write: (line: string) => void | Promise<void>,
  now: () => number,
  counts: Counts,
): Promise<void> {
  await write(
    `${JSON.stringify({
      format: EXPORT_FORMAT,
      version: EXPORT_VERSION,
      schemaVersion: await source.schemaVersion(),
      source: source.kind,
      exportedAt: new Date(now()).toISOString(),
    })}\n`,
  );
  for (const spec of TABLES) {
    let after: Row | undefined;
    for (;;) {
      const rows = await source.page(spec, after, PAGE);
      for (const row of rows) await write(`${JSON.stringify({ table: spec.name, row })}\n`);
      counts[spec.name] += rows.length;
      if (rows.length < PAGE) break;
      after = rows[rows.length - 1];
    }
  }
  await write(`${JSON.stringify({ end: true, counts })}\n`);
}

export interface ImportResult {
  /** Rows read from the export, per table. */
  read: Counts;
  /** Rows written (with `force`, rows whose key already existed are skipped). */
  inserted: Counts;
}

/**
 * Read an export from `input` into `target` in one transaction. Refuses a target that already
 * holds jobs, events, pauses or schedules unless `force` (then rows whose key exists are kept as
 * they are and only new ones are added).
 */
export async function importLedger(
  target: LedgerRows,
  input: Readable,
  options: { force?: boolean } = {},
): Promise<ImportResult> {
  const force = options.force === true;
  if (!force && !(await isEmptyLedger(target))) {
    throw new BatonError(
      "INVALID_INPUT",
      `the ledger at ${target.location} is not empty: import into an empty ledger, or pass --force to add the rows it lacks (rows with an existing id are kept as they are)`,
      { details: { location: target.location } },
    );
  }
  const read = zeroCounts();
  const inserted = zeroCounts();
  const pending: Row[] = [];
  let current: TableSpec | undefined;
  let order = 0;
  let lineNo = 0;
  let header = false;
  let ended: Counts | undefined;
  const flush = async (): Promise<void> => {
    if (current === undefined || pending.length === 0) return;
    try {
      inserted[current.name] += await target.insert(current, pending, force);
    } catch (error) {
      if (error instanceof BatonError && error.code !== "INTERNAL") throw error;
      // A constraint of the ledger (a NOT NULL, a state outside the list, a dangling reference).
      throw badLine(lineNo, `the ledger refused a ${current.name} row: ${(error as Error).message}`);
    }
    pending.length = 0;
  };

  await target.begin();
  try {
    for await (const text of createInterface({ input, crlfDelay: Infinity })) {
      lineNo++;
      if (text.trim() === "") continue;
      if (ended !== undefined) throw badLine(lineNo, "content after the end line");
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        throw badLine(lineNo, "not JSON");
      }
      if (!header) {
        checkHeader(line, lineNo, await target.schemaVersion());
        header = true;
        continue;
      }
      if (line.end === true) {
        ended = line.counts as Counts;
        continue;
      }
      const spec = typeof line.table === "string" ? tableSpec(line.table) : undefined;
      if (spec === undefined) throw badLine(lineNo, `unknown table ${JSON.stringify(line.table)}`);
      const at = TABLES.indexOf(spec);
      if (at < order) throw badLine(lineNo, `table ${spec.name} out of order`);
      if (spec !== current) {
        await flush();
        current = spec;
        order = at;
      }
      const row =
        typeof line.row === "object" && line.row !== null
          ? normalizeRow(spec, line.row as Record<string, unknown>)
          : undefined;
      if (row === undefined) throw badLine(lineNo, `malformed ${spec.name} row`);
      pending.push(row);
      read[spec.name]++;
      if (pending.length >= PAGE) await flush();
    }
    await flush();
    if (!header) throw badLine(lineNo, "empty input: not a baton export");
    if (ended === undefined) throw badLine(lineNo, "the export is truncated: no end line");
    for (const spec of TABLES) {
      if (Number(ended[spec.name] ?? 0) !== read[spec.name])
        throw badLine(
          lineNo,
          `the end line counts ${ended[spec.name]} ${spec.name}, read ${read[spec.name]}`,
        );
    }
    const [bad, ...more] = await target.inconsistentJobs();
    if (bad !== undefined)
      throw new BatonError(
        "INVALID_INPUT",
        `the export is not one consistent snapshot: job ${bad.id}: ${bad.problem}${more.length > 0 ? ` (and ${more.length} more)` : ""}; nothing was imported (take a new export with this baton, which reads one snapshot)`,
        { details: { id: bad.id, jobs: [bad, ...more].map((j) => j.id) } },
      );
    await target.afterEvents();
    await target.commit();
  } catch (error) {
    await target.rollback();
    throw error;
  }
  return { read, inserted };
}

function checkHeader(line: Record<string, unknown>, lineNo: number, targetVersion: number): void {
  if (line.format !== EXPORT_FORMAT) throw badLine(lineNo, `not a baton export (format '${EXPORT_FORMAT}')`);
  if (line.version !== EXPORT_VERSION)
    throw badLine(lineNo, `export format version ${String(line.version)} is not supported`);
  const schemaVersion = Number(line.schemaVersion);
  if (!Number.isInteger(schemaVersion) || schemaVersion > targetVersion) {
    throw new BatonError(
      "SCHEMA_TOO_NEW",
      `the export comes from a ledger at schema version ${String(line.schemaVersion)}, newer than this one (${targetVersion}): upgrade baton`,
    );
  }
}
