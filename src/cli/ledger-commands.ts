/**
 * Commands on the ledger as a whole: `baton migrate`, `baton export`, `baton import`. They work on
 * the store this invocation selects (--database-url, BATON_DATABASE_URL, database_url, SQLite), in
 * this process (never served by the daemon).
 */
import { createReadStream, createWriteStream } from "node:fs";
import { once } from "node:events";
import type { Writable } from "node:stream";
import type { Command } from "commander";
import { BatonError } from "../core/errors.js";
import type { LedgerRows } from "../store/transfer/rows.js";
import type { Counts } from "../store/transfer/transfer.js";
import type { Store } from "../store/types.js";
import { io } from "./io.js";
import { detectColor, printOk } from "./output.js";

function modeFor(json: boolean | undefined) {
  return { json: json === true, color: json !== true && detectColor() };
}

/** Open the selected ledger (migrated), run `fn` on its raw rows, close both. */
async function withLedgerRows<T>(fn: (rows: LedgerRows, store: Store) => Promise<T>): Promise<T> {
  // Loaded here, not at start-up: rows.js brings the PostgreSQL driver, which every CLI process
  // (and the daemon, which serves thin clients) would otherwise parse and keep (D19).
  const { postgresRows, sqliteRows } = await import("../store/transfer/rows.js");
  const { databaseUrlFrom, openEngine } = await import("../open.js");
  const { store } = await openEngine({ actor: "cli" });
  try {
    const url = databaseUrlFrom({});
    // A PostgreSQL store names its schema (options or BATON_DATABASE_SCHEMA, resolved by open.ts).
    const schema = (store as Store & { schema?: unknown }).schema;
    const rows =
      store.kind === "postgres" && url !== undefined && typeof schema === "string"
        ? await postgresRows(url, schema)
        : sqliteRows(store.location);
    try {
      return await fn(rows, store);
    } finally {
      await rows.close();
    }
  } finally {
    await store.close();
  }
}

function describeCounts(counts: Counts): string {
  return Object.entries(counts)
    .map(([table, n]) => `${n} ${table}`)
    .join(", ");
}

/** A line writer with backpressure. */
function writer(stream: Writable): (line: string) => Promise<void> | void {
  return (line) => {
    return stream.write(line) ? undefined : once(stream, "drain").then(() => undefined);
  };
}

export function registerLedgerCommands(program: Command, onExit: (code: number) => void): void {
  program
    .command("migrate")
    .description("Create or upgrade the ledger's schema (under a lock; also done on first use)")
    .option("--json", "print one JSON envelope")
    .action(async (opts: { json?: boolean }) => {
      const { openEngine } = await import("../open.js");
      const { store } = await openEngine({ actor: "cli", migrate: false });
      try {
        const result = await store.migrate();
        const data = { store: store.kind, location: store.location, ...result };
        printOk(modeFor(opts.json), data, () =>
          result.applied.length === 0
            ? `${store.kind} at ${store.location}: schema up to date (version ${result.version})`
            : `${store.kind} at ${store.location}: applied ${result.applied.join(", ")}; schema version ${result.version}`,
        );
      } finally {
        await store.close();
      }
      onExit(0);
    });

  program
    .command("export")
    .description("Write the whole ledger (jobs, attempts, events, dependencies, pauses, schedules) as NDJSON")
    .option("-o, --output <file>", "write to this file (created 0600) instead of stdout")
    .action(async (opts: { output?: string }) => {
      const { exportLedger } = await import("../store/transfer/transfer.js");
      await withLedgerRows(async (rows) => {
        if (opts.output === undefined) {
          await exportLedger(rows, writer(process.stdout));
          return;
        }
        const file = createWriteStream(opts.output, { flags: "wx", mode: 0o600 });
        await once(file, "open").catch((error: NodeJS.ErrnoException) => {
          throw new BatonError(
            "INVALID_INPUT",
            error.code === "EEXIST"
              ? `${opts.output} exists: choose a new file`
              : `cannot write ${opts.output}: ${error.message}`,
          );
        });
        const counts = await exportLedger(rows, writer(file));
        file.end();
        await once(file, "finish");
        io().err(`exported ${describeCounts(counts)} from ${rows.location} to ${opts.output}\n`);
      });
      onExit(0);
    });

  program
    .command("import")
    .description("Load an export into this ledger, in one transaction (an empty ledger, unless --force)")
    .argument("[file]", "the export (default: stdin)")
    .option(
      "--force",
      "import into a ledger that has rows: add the missing ones, keep existing ids as they are",
    )
    .option("--json", "print one JSON envelope")
    .action(async (file: string | undefined, opts: { force?: boolean; json?: boolean }) => {
      const input = file === undefined || file === "-" ? process.stdin : createReadStream(file);
      if (input !== process.stdin) {
        await once(input, "open").catch((error: Error) => {
          throw new BatonError("NOT_FOUND", `cannot read ${file}: ${error.message}`);
        });
      }
      const { importLedger } = await import("../store/transfer/transfer.js");
      await withLedgerRows(async (rows) => {
        const result = await importLedger(rows, input, { force: opts.force === true });
        printOk(
          modeFor(opts.json),
          { location: rows.location, ...result },
          () => `imported ${describeCounts(result.inserted)} into ${rows.kind} at ${rows.location}`,
        );
      });
      onExit(0);
    });
}
