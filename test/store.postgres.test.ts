import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../src/core/clock.js";
import { BatonError } from "../src/core/errors.js";
import { Engine } from "../src/engine/engine.js";
import { PostgresStore, redactDatabaseUrl } from "../src/store/postgres/postgres-store.js";
import { latestMigration } from "../src/store/sql-files.js";
import { describeStoreConformance } from "./conformance/store-conformance.js";
import { PG_ENABLED, pgTestDatabase, warnIfPgSkipped } from "./helpers/pg.js";

warnIfPgSkipped("store conformance");
const db = pgTestDatabase();

async function rejection(promise: Promise<unknown>): Promise<BatonError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BatonError);
  return error as BatonError;
}

describe("PostgresStore without a server", () => {
  it("redacts passwords in connection strings", () => {
    expect(redactDatabaseUrl("postgres://baton:s3cret@db:5432/q")).toBe("postgres://baton:***@db:5432/q");
    expect(redactDatabaseUrl("postgres://db/q?password=s3cret&sslmode=require")).not.toContain("s3cret");
    expect(redactDatabaseUrl("host=db password=s3cret dbname=q")).toBe("host=db password=*** dbname=q");
  });

  it("redaction keeps every parameter as given (repeats, order, spelling): only the secrets are hidden", () => {
    // A repeated TLS parameter is refused (D127); the URL the refusal shows repeats it too.
    const twice = "postgres://u@db/q?sslkey=/a.key&sslkey=/b.key";
    expect(redactDatabaseUrl(twice)).toBe("postgres://u@db/q?sslkey=***&sslkey=***");
    expect(() => new PostgresStore({ connectionString: twice })).toThrow(
      /sslkey is given 2 times in the database URL postgres:\/\/u@db\/q\?sslkey=\*\*\*&sslkey=\*\*\*:/,
    );
    expect(redactDatabaseUrl("postgres://u@db/q?sslmode=require&password=a&sslmode=disable&password=b")).toBe(
      "postgres://u@db/q?sslmode=require&password=***&sslmode=disable&password=***",
    );
    // Not re-encoded: a path keeps its slashes and %20, a `+` stays a `+`; a spelled-out key is still hidden.
    expect(
      redactDatabaseUrl(
        "postgres://u:pw@db/q?Password=x&sslrootcert=/tmp/my%20ca.pem&application_name=a+b&pass%77ord=y&ssl",
      ),
    ).toBe(
      "postgres://u:***@db/q?Password=***&sslrootcert=/tmp/my%20ca.pem&application_name=a+b&pass%77ord=***&ssl",
    );
    // Nothing secret in the query: the URL as new URL() writes it.
    expect(redactDatabaseUrl("postgres://u:pw@db:5432/q?sslmode=verify-full&sslrootcert=/ca.pem")).toBe(
      "postgres://u:***@db:5432/q?sslmode=verify-full&sslrootcert=/ca.pem",
    );
  });

  it("an unreachable server is STORE_UNAVAILABLE and the password appears nowhere", async () => {
    const store = new PostgresStore({
      connectionString: "postgres://baton:s3cret@127.0.0.1:1/baton",
      connectTimeoutMs: 2000,
    });
    try {
      const error = await rejection(store.migrate());
      expect(error.code).toBe("STORE_UNAVAILABLE");
      expect(store.location).not.toContain("s3cret");
      expect(`${error.message} ${JSON.stringify(error.details ?? {})}`).not.toContain("s3cret");
    } finally {
      await store.close();
    }
  });

  it("refuses a schema name that is not a plain identifier", () => {
    expect(() => new PostgresStore({ connectionString: "postgres://x/y", schema: 'a"; DROP' })).toThrow(
      /invalid PostgreSQL schema name/,
    );
  });
});

describe.skipIf(!PG_ENABLED)("PostgresStore", () => {
  beforeAll(() => db.setup());
  afterAll(() => db.teardown());

  describeStoreConformance(
    "postgres",
    async () => {
      const clock = new ManualClock();
      const store = db.store({ clock });
      await store.migrate();
      return { store, clock, cleanup: () => store.close() };
    },
    (store) => ({ url: db.url, schema: (store as PostgresStore).schema }),
  );

  describe("PostgresStore specifics", () => {
    it("migrate is idempotent, also from a second store on the same schema", async () => {
      const schema = db.freshSchema();
      const store = db.store({ schema });
      const latest = latestMigration("postgres");
      expect(await store.schemaVersion()).toBe(0);
      expect(await store.migrate()).toEqual({
        applied: Array.from({ length: latest }, (_, i) => i + 1),
        version: latest,
      });
      expect(await store.migrate()).toEqual({ applied: [], version: latest });
      const engine = new Engine(store, { clock: new ManualClock() });
      const [outcome] = await engine.enqueue({ type: "t" });
      const other = db.store({ schema });
      expect(await other.migrate()).toEqual({ applied: [], version: latest });
      expect((await other.getJob(outcome!.job.id))?.id).toBe(outcome!.job.id);
    });

    it("a schema migrated by a newer baton is refused with SCHEMA_TOO_NEW", async () => {
      const schema = db.freshSchema();
      const store = db.store({ schema });
      await store.migrate();
      const latest = latestMigration("postgres");
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      await client.query(
        `INSERT INTO ${schema}.schema_migrations (version, name, applied_at) VALUES ($1, 'future', 0)`,
        [latest + 1],
      );
      await client.end();
      const error = await rejection(db.store({ schema }).migrate());
      expect(error.code).toBe("SCHEMA_TOO_NEW");
      expect(error.details).toMatchObject({ databaseVersion: latest + 1, codeVersion: latest });
    });

    it("an unmigrated schema is STORE_UNAVAILABLE naming `baton migrate`", async () => {
      const store = db.store();
      const error = await rejection(store.getJob("X"));
      expect(error.code).toBe("STORE_UNAVAILABLE");
      expect(error.message).toContain("baton migrate");
    });

    it("claims with an empty list of types and prefixes claim nothing (as on SQLite)", async () => {
      const store = db.store();
      await store.migrate();
      const engine = new Engine(store, { clock: new ManualClock() });
      await engine.enqueue([{ type: "task:a" }, { type: "b" }]);
      expect(await engine.claim({ owner: "w", types: [], typePrefixes: [], limit: 5 })).toEqual([]);
      const claimed = await engine.claim({ owner: "w", typePrefixes: ["task:"], limit: 5 });
      expect(claimed.map((c) => c.job.type)).toEqual(["task:a"]);
    });
  });
});
