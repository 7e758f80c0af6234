/** `baton/postgres`: the PostgreSQL store, for code that builds an Engine over it by hand. */
export { PostgresStore, redactDatabaseUrl } from "./store/postgres/postgres-store.js";
export type { PostgresStoreOptions } from "./store/postgres/postgres-store.js";
