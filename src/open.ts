/**
 * Composition: turn options (or the environment) into a store and an engine. The only module
 * outside `store/` and `daemon/` that knows which store implementations exist.
 */
import { join } from "node:path";
import type { Clock } from "./core/clock.js";
import { batonHome, ensurePrivateDir } from "./core/paths.js";
import { InvalidInputError } from "./core/errors.js";
import { durabilitySetting, NUMERIC_SETTINGS, numericSetting } from "./core/settings.js";
import { Engine } from "./engine/engine.js";
import type { PostgresStore } from "./store/postgres/postgres-store.js";
import type { Durability, FaultHook } from "./store/sqlite/sqlite-store.js";
import { SqliteStore } from "./store/sqlite/sqlite-store.js";
import type { Store } from "./store/types.js";

export interface OpenOptions {
  /**
   * A PostgreSQL connection string (`postgres://user:password@host:5432/db`). Default:
   * `BATON_DATABASE_URL`. When set, the ledger lives in PostgreSQL and the SQLite options are
   * ignored; when neither is set, SQLite.
   */
  databaseUrl?: string;
  /** The PostgreSQL schema of the ledger (default: `BATON_DATABASE_SCHEMA`, else `baton`). */
  databaseSchema?: string;
  /** PostgreSQL connections in the pool (default: `BATON_DATABASE_POOL_SIZE`, else 10). */
  poolSize?: number;
  /** Data directory (default: `BATON_HOME`, else `~/.baton`). The SQLite file is `<home>/baton.db`. */
  home?: string;
  /** Use this SQLite file instead of `<home>/baton.db` (and SQLite even when `BATON_DATABASE_URL` is set). */
  databasePath?: string;
  /** SQLite durability: `full` (default, power-loss safe) or `normal` (faster). */
  durability?: Durability;
  /** Largest payload/result/evidence in bytes (default 1 MiB). */
  maxPayloadBytes?: number;
  /** Default lease length for claims, ms (default 30 s). */
  defaultLeaseMs?: number;
  /** Recorded as the actor of events (default "library"). */
  actor?: string;
  clock?: Clock;
  /** Apply migrations on open (default true). */
  migrate?: boolean;
  /** Fault-injection seam for tests (SQLite). */
  faultHook?: FaultHook;
  busyTimeoutMs?: number;
}

export interface Opened {
  store: Store;
  engine: Engine;
  home: string;
}

/** The PostgreSQL connection string the options or the environment name, or undefined (SQLite). */
export function databaseUrlFrom(options: OpenOptions): string | undefined {
  // An explicit SQLite file wins over the environment's URL (an explicit URL wins over both).
  const url =
    options.databaseUrl ?? (options.databasePath === undefined ? process.env.BATON_DATABASE_URL : undefined);
  return url === undefined || url.trim() === "" ? undefined : url.trim();
}

/** The `poolSize` option: a whole number from 1 to 1000, like `BATON_DATABASE_POOL_SIZE`. */
function poolSizeOption(value: number): number {
  const { min, max } = NUMERIC_SETTINGS.BATON_DATABASE_POOL_SIZE;
  if (!Number.isInteger(value) || value < min || value > max)
    throw new InvalidInputError(`poolSize must be a whole number from ${min} to ${max}, not ${value}`, {
      field: "poolSize",
      value,
    });
  return value;
}

/** Loaded only when a PostgreSQL ledger is asked for: the driver costs every SQLite process memory. */
async function openPostgres(url: string, options: OpenOptions): Promise<PostgresStore> {
  const { PostgresStore, redactDatabaseUrl, validateSchemaName } =
    await import("./store/postgres/postgres-store.js");
  if (!/^postgres(ql)?:\/\//i.test(url) || !URL.canParse(url)) {
    throw new InvalidInputError(
      `BATON_DATABASE_URL must be a valid postgres:// or postgresql:// URL, not '${redactDatabaseUrl(url)}'`,
      { field: "BATON_DATABASE_URL", value: redactDatabaseUrl(url) },
    );
  }
  const poolSize =
    options.poolSize === undefined
      ? numericSetting("BATON_DATABASE_POOL_SIZE")
      : poolSizeOption(options.poolSize);
  const schema = options.databaseSchema ?? process.env.BATON_DATABASE_SCHEMA;
  if (options.databaseSchema === undefined && schema !== undefined && schema !== "")
    validateSchemaName(schema, "BATON_DATABASE_SCHEMA");
  return new PostgresStore({
    connectionString: url,
    ...(schema === undefined || schema === "" ? {} : { schema }),
    ...(poolSize === undefined ? {} : { poolSize }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });
}

/**
 * Open the store named by the options and environment (PostgreSQL when a database URL is given,
 * else the SQLite file under `home`), migrate it, and build an engine over it.
 */
export async function openEngine(options: OpenOptions = {}): Promise<Opened> {
  const home = options.home ?? batonHome();
  const url = databaseUrlFrom(options);
  const store: Store = url === undefined ? openSqlite(home, options) : await openPostgres(url, options);
  try {
    if (options.migrate !== false) await store.migrate();
  } catch (error) {
    await store.close();
    throw error;
  }
  const engine = new Engine(store, {
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.maxPayloadBytes === undefined ? {} : { maxPayloadBytes: options.maxPayloadBytes }),
    ...(options.defaultLeaseMs === undefined ? {} : { defaultLeaseMs: options.defaultLeaseMs }),
    ...(options.actor === undefined ? {} : { actor: options.actor }),
  });
  return { store, engine, home };
}

function openSqlite(home: string, options: OpenOptions): SqliteStore {
  // baton's own data directory is kept 0700; the folder of an explicit databasePath is not
  // baton's, and SqliteStore only creates it when missing.
  if (options.databasePath === undefined) ensurePrivateDir(home);
  const durability = options.durability ?? durabilitySetting() ?? "full";
  return new SqliteStore({
    path: options.databasePath ?? join(home, "baton.db"),
    durability,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.faultHook === undefined ? {} : { faultHook: options.faultHook }),
    ...(options.busyTimeoutMs === undefined ? {} : { busyTimeoutMs: options.busyTimeoutMs }),
  });
}
