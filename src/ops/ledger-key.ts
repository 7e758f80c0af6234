/**
 * Which ledger a daemon serves, as a short key for its file names (D49, D121, D127). Its own module
 * with no imports but node:crypto and core/database-url.ts (itself import-free): the build also
 * emits it as `dist/ledger-key.cjs`, which bin/baton.js loads on every call, so the thin client and
 * the CLI compute the key with one implementation.
 */
import { createHash } from "node:crypto";
import { tlsDemand } from "../core/database-url.js";

/**
 * The parts of a PostgreSQL URL that choose the database, as written (D121): user, host, port and
 * database name, with the `host`, `port` and `user` query parameters taking precedence as they do
 * for the driver. The password and every other option are left out: they change how a connection
 * is made, not which ledger it reaches (how it is protected is the key's other part, D127). A host name is compared without case (DNS names
 * are), but never resolved: `localhost` and `127.0.0.1` stay two spellings, since only the network
 * knows whether they meet. A string that is not a URL is its own identity.
 *
 * @example ledgerIdentity("postgres://u:secret@DB:5432/app?sslmode=require") // '["u","db","5432","app"]'
 */
export function ledgerIdentity(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url;
  }
  const query = parsed.searchParams;
  const user = query.get("user") || decoded(parsed.username);
  const rawHost = query.get("host") || decoded(parsed.hostname.replace(/^\[(.+)\]$/, "$1"));
  // A socket directory is a path, where case matters.
  const host = rawHost.startsWith("/") ? rawHost : rawHost.toLowerCase();
  const port = query.get("port") || parsed.port;
  const database = decoded(parsed.pathname.replace(/^\//, ""));
  return JSON.stringify([user, host, port, database]);
}

function decoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * `""` for the SQLite file of the home (no `BATON_DATABASE_URL`), else the first 12 hex digits of
 * SHA-256 of the URL's {@link ledgerIdentity}, the schema and, when the connection uses TLS, how
 * ({@link tlsDemand}, D127): two spellings of one database and schema (with or without the
 * password, `sslmode=disable` or none) name one daemon, but a call that demands TLS never names the
 * daemon of a plain-text connection (nor one that verifies less), so it is not served over it. A
 * URL the store refuses (another scheme, an unknown `sslmode`) is a key of its own, which no daemon
 * can have: such a call is never forwarded, and gets the refusal it gets without a daemon.
 *
 * @example ledgerKey({ BATON_DATABASE_URL: "postgres://u@db/app" }) === ledgerKey({ BATON_DATABASE_URL: "postgres://u:pw@db/app?sslmode=disable" })
 * @example ledgerKey({ BATON_DATABASE_URL: "postgres://u@db/app" }) !== ledgerKey({ BATON_DATABASE_URL: "postgres://u@db/app?sslmode=require" })
 */
export function ledgerKey(env: NodeJS.ProcessEnv): string {
  const url = env.BATON_DATABASE_URL?.trim();
  if (url === undefined || url === "") return "";
  const schema =
    env.BATON_DATABASE_SCHEMA === undefined || env.BATON_DATABASE_SCHEMA === ""
      ? "baton"
      : env.BATON_DATABASE_SCHEMA;
  const tls = tlsDemand(url, env);
  const refused = tls === undefined || !/^postgres(ql)?:\/\//i.test(url);
  // A plain connection keeps the key it had before D127 (no suffix): running daemons keep theirs.
  const identity = refused ? `refused:${url}` : ledgerIdentity(url) + (tls === "none" ? "" : `#tls=${tls}`);
  return createHash("sha256").update(`${identity}#${schema}`).digest("hex").slice(0, 12);
}
