/**
 * PostgreSQL connections: the pool (per-connection setup, timeouts), the transaction runner with
 * its bounded retries, reads, single statements, and the small helpers every query uses.
 */
import { createHash } from "node:crypto";
import type { ClientBase, CustomTypesConfig, PoolClient, PoolConfig, QueryResultRow } from "pg";
import { Pool, types as pgTypes } from "pg";
import { BatonError, InvalidInputError } from "../../core/errors.js";
import { classify, isConnectionError, translate } from "./errors.js";
import { sleep } from "../../core/timer.js";
import { driverUrl, repeatedParameter, SSL_MODES } from "../../core/database-url.js";

/** Bounded retries of a whole transaction, per kind of failure. */
export const RETRY_LIMITS = { contention: 30, connection: 6, stale_plan: 2 } as const;

const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * The schema name, checked: it is spliced into SQL (quoted), so only plain identifiers pass.
 * `field` names where it came from in the refusal's details (`BATON_DATABASE_SCHEMA` for the
 * environment's).
 */
export function validateSchemaName(schema: string, field = "schema"): string {
  if (!SCHEMA_NAME.test(schema)) {
    throw new InvalidInputError(
      `invalid PostgreSQL schema name '${schema.slice(0, 80)}'${field === "schema" ? "" : ` in ${field}`}: ` +
        "use letters, digits and _ (not first), at most 63 characters",
      { field, value: schema.slice(0, 80) },
    );
  }
  return schema;
}

/** A double-quoted identifier (the name is validated first, so it holds no quote). */
export function quoteIdent(name: string): string {
  return `"${validateSchemaName(name)}"`;
}

/** Query parameters whose value is a secret (or names one): shown as `***`. */
const SECRET_PARAMETER = /^(password|sslpassword|sslkey)$/i;

/**
 * A connection string fit to show: the password (in the userinfo or a `password=` parameter) is
 * replaced by `***`. Every parameter is kept as given, in its place and spelling, repeats too: an
 * error naming a repeated parameter (checkSslMode) shows the URL that repeats it.
 */
export function redactDatabaseUrl(connectionString: string): string {
  try {
    const url = new URL(connectionString);
    if (url.password !== "") url.password = "***";
    if (url.search.length > 1) {
      // Part by part, not through searchParams: its serializer keeps one of a repeated key (set)
      // and re-encodes the others (`/` as %2F, a space as `+`, which pg reads as a plus).
      const parts = url.search.slice(1).split("&");
      const redacted = parts.map((part) => {
        const key = new URLSearchParams(part).keys().next().value;
        const eq = part.indexOf("=");
        return eq >= 0 && key !== undefined && SECRET_PARAMETER.test(key) ? `${part.slice(0, eq)}=***` : part;
      });
      if (redacted.some((part, i) => part !== parts[i])) url.search = `?${redacted.join("&")}`;
    }
    return url.toString();
  } catch {
    // Not a URL (a libpq key=value string, or a malformed URL): mask what looks like a secret.
    return connectionString
      .replace(/(password\s*=\s*)('[^']*'|\S+)/gi, "$1***")
      .replace(/(\/\/[^:/@\s]*:)[^@]*@/, "$1***@");
  }
}

/**
 * Refuse a connection string whose `sslmode` no client knows: node-postgres turns any sslmode on
 * into SSL, so `sslmode=bogus` reached the server and came back as an INTERNAL "The server does not
 * support SSL connections". INVALID_INPUT naming sslmode, the URL shown with its password masked.
 * Also one that repeats a TLS or connection parameter (D127): the driver takes the last, a reader of the first
 * would take another demand (the ledger key refuses it too, so the answer is the same with a daemon).
 */
export function checkSslMode(connectionString: string): void {
  let mode: string | null | undefined;
  try {
    const query = new URL(connectionString).searchParams;
    const repeated = repeatedParameter(query);
    if (repeated !== undefined) {
      throw new InvalidInputError(
        `${repeated} is given ${query.getAll(repeated).length} times in the database URL ` +
          `${redactDatabaseUrl(connectionString)}: give it once (node-postgres would use the last)`,
        { field: repeated },
      );
    }
    mode = query.get("sslmode");
  } catch (error) {
    if (error instanceof InvalidInputError) throw error;
    mode = /(?:^|\s)sslmode\s*=\s*'?([^'\s]*)/.exec(connectionString)?.[1];
  }
  if (mode === null || mode === undefined || SSL_MODES.includes(mode)) return;
  throw new InvalidInputError(
    `sslmode=${JSON.stringify(mode.slice(0, 40))} in the database URL ${redactDatabaseUrl(connectionString)} ` +
      `is not an SSL mode: use one of ${SSL_MODES.join(", ")}`,
    { field: "sslmode", value: mode.slice(0, 40) },
  );
}

/** BIGINT (ms times, counts) as JS numbers: every value baton stores fits in 2^53. Per pool, not global. */
export const TYPES: CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === pgTypes.builtins.INT8
      ? (value: string) => Number(value)
      : pgTypes.getTypeParser(oid, format ?? "text")) as CustomTypesConfig["getTypeParser"],
};

export { sleep };

/** A short stable name per SQL text, so every connection prepares each statement once. */
const statementNames = new Map<string, string>();
function statementName(text: string): string {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `baton_${createHash("sha1").update(text).digest("hex").slice(0, 16)}`;
    statementNames.set(text, name);
  }
  return name;
}

export type Queryable = Pick<ClientBase, "query">;

/**
 * A statement prepared once per connection under a name derived from its text. Connections force
 * generic plans (see the setup in {@link PgConnection}), so it is also planned once: the writes
 * and claims that go through here look rows up by key or by the claim indexes, where the plan does
 * not depend on the values.
 */
export async function run<R extends QueryResultRow>(db: Queryable, text: string, values: unknown[] = []) {
  return db.query<R>({ name: statementName(text), text, values });
}

/**
 * A statement planned for its values each time (an unnamed statement is a one-shot plan, which
 * plan_cache_mode does not touch): for reads whose filters and ranges decide the best index.
 */
function runPlanned<R extends QueryResultRow>(db: Queryable, text: string, values: unknown[]) {
  return db.query<R>({ text, values });
}

export interface ConnectionOptions {
  connectionString: string;
  /** The schema every connection puts first on its search_path. */
  schema: string;
  poolSize: number;
  statementTimeoutMs: number;
  connectTimeoutMs: number;
}

/**
 * The pool of one store and the ways it runs SQL: a transaction (BEGIN … COMMIT), a read, or one
 * statement (an implicit transaction of its own: one round trip).
 */
export class PgConnection {
  readonly pool: Pool;
  /** What a dedicated (LISTEN) connection needs: the pool's settings without the pool. */
  readonly clientConfig: PoolConfig;
  closed = false;

  constructor(
    options: ConnectionOptions,
    /** The connection string with its password redacted, for messages. */
    readonly location: string,
    private readonly random: () => number,
  ) {
    const { statementTimeoutMs } = options;
    if (!Number.isInteger(statementTimeoutMs) || statementTimeoutMs < 0) {
      throw new InvalidInputError(
        `statementTimeoutMs must be a non-negative integer, not ${statementTimeoutMs}`,
      );
    }
    const idleInTransactionMs = statementTimeoutMs === 0 ? 0 : Math.max(60_000, 2 * statementTimeoutMs);
    const setup =
      `SET search_path TO ${quoteIdent(options.schema)}; ` +
      `SET statement_timeout = ${statementTimeoutMs}; ` +
      `SET idle_in_transaction_session_timeout = ${idleInTransactionMs}; ` +
      // Prepared statements keep one generic plan. With PostgreSQL's default (auto), a statement
      // whose filters read `$n IS NULL OR …` gets a custom plan at every execution: the one-statement
      // claim spent 0.6 ms planning for 0.4 ms executing (D28).
      "SET plan_cache_mode = force_generic_plan";
    this.clientConfig = {
      connectionString: driverUrl(options.connectionString),
      application_name: "baton",
      connectionTimeoutMillis: options.connectTimeoutMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      // A half-open connection (a black-holed network) answers nothing and reports nothing: give up
      // on a query a little after the server would have cancelled it, and retry on a new connection.
      ...(statementTimeoutMs === 0 ? {} : { query_timeout: statementTimeoutMs + 5000 }),
      types: TYPES,
    };
    this.pool = new Pool({
      ...this.clientConfig,
      max: options.poolSize,
      idleTimeoutMillis: 30_000,
      // Per connection, before its first use: the schema and the timeouts. pg-pool awaits the
      // promise (pg-pool/index.js, `_promiseTry(onConnect)`); @types/pg declares it void.
      // eslint-disable-next-line @typescript-eslint/no-misused-promises
      onConnect: (client: ClientBase) => {
        // pg-pool listens for a client's 'error' only while it is idle; one that dies while checked
        // out (pg_terminate_backend, a server restart) would otherwise crash the process. Its next
        // query fails as a connection error and the transaction is retried on a fresh connection.
        client.on("error", () => undefined);
        return client.query(setup).then(() => undefined);
      },
    });
    // An idle connection that dies (server restart, network) is dropped by the pool; without a
    // listener the 'error' event would crash the process.
    this.pool.on("error", () => undefined);
  }

  assertOpen(): void {
    if (this.closed) throw new BatonError("STORE_UNAVAILABLE", `the store at ${this.location} is closed`);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.pool.end();
  }

  /**
   * Run `fn` in BEGIN … COMMIT on one pooled connection, re-running the whole transaction on
   * contention and on connection failures before COMMIT (bounded). A connection lost during
   * COMMIT leaves the outcome unknown: that is STORE_UNAVAILABLE, not a retry.
   */
  async transaction<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    this.assertOpen();
    const counts = { contention: 0, connection: 0, stale_plan: 0 };
    for (;;) {
      let client: PoolClient | undefined;
      let committing = false;
      try {
        client = await this.pool.connect();
        await client.query("BEGIN");
        const result = await fn(client);
        committing = true;
        await client.query("COMMIT");
        client.release();
        return result;
      } catch (error) {
        if (client !== undefined) await this.discard(client, error);
        const kind = classify(error);
        if (kind === "fatal") throw translate(error, this.location);
        if (committing && kind === "connection") {
          throw new BatonError(
            "STORE_UNAVAILABLE",
            `the connection to ${this.location} broke during COMMIT: the change may or may not have been saved`,
            { cause: error },
          );
        }
        counts[kind]++;
        if (counts[kind] > RETRY_LIMITS[kind]) throw translate(error, this.location);
        await sleep(this.retryDelay(kind, counts[kind]));
      }
    }
  }

  retryDelay(kind: "contention" | "connection" | "stale_plan", attempt: number): number {
    if (kind === "connection") return Math.min(2000, 50 * 2 ** attempt);
    if (kind === "stale_plan") return 0;
    return Math.min(50, 2 * attempt) * (0.5 + this.random());
  }

  /** Roll back and give the connection back; a broken one is destroyed, not reused. */
  private async discard(client: PoolClient, error: unknown): Promise<void> {
    const broken = isConnectionError(error) || classify(error) === "stale_plan";
    if (!broken) {
      try {
        await client.query("ROLLBACK");
        client.release();
        return;
      } catch {
        // fall through: the connection is unusable
      }
    }
    client.release(true);
  }

  /**
   * A read outside any transaction, planned for its values; retried on a fresh connection when the
   * connection fails.
   */
  async read<R extends QueryResultRow>(text: string, values: unknown[] = []) {
    this.assertOpen();
    const counts = { contention: 0, connection: 0, stale_plan: 0 };
    for (;;) {
      try {
        return await runPlanned<R>(this.pool, text, values);
      } catch (error) {
        const kind = classify(error);
        if (kind === "fatal" || kind === "contention") throw translate(error, this.location);
        counts[kind]++;
        if (counts[kind] > RETRY_LIMITS[kind]) throw translate(error, this.location);
        await sleep(this.retryDelay(kind, counts[kind]));
      }
    }
  }

  /**
   * One statement on a pooled connection, as its own implicit transaction: one round trip. Not
   * retried (the caller knows whether running it again is safe); the raw driver error is thrown,
   * and a connection that broke or holds a stale plan is destroyed, not reused.
   */
  async statement<R extends QueryResultRow>(text: string, values: unknown[]) {
    this.assertOpen();
    const client = await this.pool.connect();
    try {
      const result = await run<R>(client, text, values);
      client.release();
      return result;
    } catch (error) {
      const kind = classify(error);
      client.release(kind === "connection" || kind === "stale_plan" ? true : undefined);
      throw error;
    }
  }
}
