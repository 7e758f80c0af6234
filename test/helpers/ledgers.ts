/**
 * Engine-level suites that are not about one store run once per store: SQLite always, PostgreSQL
 * when BATON_TEST_DATABASE_URL is set (a throwaway database per file, a fresh schema per ledger).
 *
 * @example
 * const ledgers = testLedgers();
 * describe.each(ledgers.kinds)("… (%s)", (kind) => {
 *   beforeAll(() => ledgers.setup());
 *   afterAll(() => ledgers.teardown());
 *   it("…", async () => { const { engine, store } = await ledgers.open(kind, { clock }); … });
 * });
 */
import { join } from "node:path";
import type { Clock } from "../../src/core/clock.js";
import type { Opened } from "../../src/open.js";
import { openEngine } from "../../src/open.js";
import { PG_ENABLED, pgTestDatabase, warnIfPgSkipped } from "./pg.js";
import { tempDir } from "./tmp.js";

export type LedgerKind = "sqlite" | "postgres";

export interface TestLedgers {
  readonly kinds: LedgerKind[];
  /** Create the PostgreSQL database (a no-op without it). */
  setup(): Promise<void>;
  teardown(): Promise<void>;
  /** A fresh, migrated, empty ledger of `kind` and an engine over it. */
  open(kind: LedgerKind, options?: { clock?: Clock; actor?: string }): Promise<Opened>;
}

export function testLedgers(suite: string): TestLedgers {
  warnIfPgSkipped(suite);
  const db = pgTestDatabase();
  let created = false;
  return {
    kinds: PG_ENABLED ? ["sqlite", "postgres"] : ["sqlite"],
    async setup() {
      if (PG_ENABLED && !created) {
        await db.setup();
        created = true;
      }
    },
    async teardown() {
      if (created) {
        created = false;
        await db.teardown();
      }
    },
    open(kind, options = {}) {
      const common = {
        ...(options.clock === undefined ? {} : { clock: options.clock }),
        actor: options.actor ?? "test",
      };
      return kind === "sqlite"
        ? openEngine({ ...common, databasePath: join(tempDir(), "baton.db"), durability: "normal" })
        : openEngine({ ...common, databaseUrl: db.url, databaseSchema: db.freshSchema(), poolSize: 2 });
    },
  };
}
