/**
 * PostgreSQL for tests: one throwaway database per test file (`baton_test_<random>`), created from
 * BATON_TEST_DATABASE_URL and dropped afterwards; each store inside it gets its own schema.
 *
 * Without BATON_TEST_DATABASE_URL the PostgreSQL suites are skipped, and say so.
 *
 * @example
 * const pg = pgTestDatabase();
 * describe.skipIf(!pg.enabled)("…", () => {
 *   beforeAll(() => pg.setup());
 *   afterAll(() => pg.teardown());
 *   it("…", async () => { const store = pg.store(); … });
 * });
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import type { Clock } from "../../src/core/clock.js";
import { PostgresStore } from "../../src/store/postgres/postgres-store.js";

export const PG_URL = process.env.BATON_TEST_DATABASE_URL ?? "";
export const PG_ENABLED = PG_URL !== "";

/** Print once per file why its PostgreSQL suite does not run. */
export function warnIfPgSkipped(suite: string): void {
  if (!PG_ENABLED) {
    console.warn(`PostgreSQL suite skipped (${suite}): BATON_TEST_DATABASE_URL is not set`);
  }
}

/** `url` with its database replaced by `database`. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

export interface PgTestDatabase {
  readonly name: string;
  /** Connection string of the throwaway database (valid after setup). */
  readonly url: string;
  setup(): Promise<void>;
  teardown(): Promise<void>;
  /** A new store on a fresh schema of the throwaway database (closed by teardown). */
  store(options?: { clock?: Clock; schema?: string; poolSize?: number }): PostgresStore;
  /** A fresh schema name, unique within this database. */
  freshSchema(): string;
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export function pgTestDatabase(): PgTestDatabase {
  const name = `baton_test_${randomBytes(6).toString("hex")}`;
  const stores: PostgresStore[] = [];
  let schemas = 0;
  const db: PgTestDatabase = {
    name,
    url: PG_ENABLED ? withDatabase(PG_URL, name) : "",
    async setup() {
      await admin((client) => client.query(`CREATE DATABASE ${name}`));
    },
    async teardown() {
      while (stores.length > 0) await stores.pop()!.close();
      await admin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
    freshSchema() {
      schemas++;
      return `s${schemas}`;
    },
    store(options = {}) {
      const store = new PostgresStore({
        connectionString: db.url,
        schema: options.schema ?? db.freshSchema(),
        poolSize: options.poolSize ?? 4,
        ...(options.clock === undefined ? {} : { clock: options.clock }),
      });
      stores.push(store);
      return store;
    },
  };
  return db;
}

/** Poll the async `condition` until it holds; throw after `timeoutMs`. */
export async function eventually(
  what: string,
  condition: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Wait until a wake-up reaches a listener: enqueue a `wake` job through `engine` (another
 * connection's commit) every 250 ms until `wakes()` grows past its value now.
 */
export async function expectWakeUp(
  what: string,
  engine: { enqueue(spec: { type: string }): Promise<unknown> },
  wakes: () => number,
  timeoutMs: number,
): Promise<void> {
  const before = wakes();
  await eventually(
    what,
    async () => {
      await engine.enqueue({ type: "wake" });
      await new Promise((resolve) => setTimeout(resolve, 250));
      return wakes() > before;
    },
    timeoutMs,
  );
}
