/** What may be shown of a ledger's database URL. */

/**
 * True when a database URL carries a password (in its user info or as a `password` parameter):
 * such a URL is never written to a file others may read, nor printed.
 *
 * @example urlHasSecret("postgres://app:s3cret@db/ledger") // true
 */
export function urlHasSecret(url: string): boolean {
  try {
    const parsed = new URL(url);
    return parsed.password !== "" || parsed.searchParams.has("password");
  } catch {
    // Not a URL we can read (a libpq key=value string…): treat it as secret.
    return true;
  }
}

/** The `sslmode` values libpq and node-postgres know. */
export const SSL_MODES = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full", "no-verify"];

/** What pg makes of `PGSSLMODE` when the URL says nothing about TLS (pg/lib/connection-parameters.js). */
const PGSSLMODE_DEMANDS = new Map([
  ["prefer", "full"],
  ["require", "full"],
  ["verify-ca", "full"],
  ["verify-full", "full"],
  ["no-verify", "unverified"],
]);

/**
 * The URL parameters node-postgres reads from the query, each decoded, the last of repeated ones
 * winning: those that decide how a connection is protected, and those that decide which database
 * it reaches (`?host=` and friends). A URL that repeats one is refused (INVALID_INPUT, D127), so no
 * reader of it (the ledger key reads the first, as `URLSearchParams.get` does; the store) can take
 * another value than the driver: `?host=a&host=b` named a's daemon while the driver reached b.
 */
export const SINGLE_PARAMETERS = [
  "sslmode",
  "ssl",
  "sslrootcert",
  "sslcert",
  "sslkey",
  "uselibpqcompat",
  "sslnegotiation",
  "host",
  "port",
  "user",
  "password",
  "database",
  "dbname",
];

/**
 * The first of {@link SINGLE_PARAMETERS} that `query` gives more than once, else `undefined`.
 *
 * @example repeatedParameter(new URL("postgres://db/app?sslmode=disable&sslmode=require").searchParams) // "sslmode"
 */
export function repeatedParameter(query: URLSearchParams): string | undefined {
  return SINGLE_PARAMETERS.find((name) => query.getAll(name).length > 1);
}

/** The modes node-postgres 8 treats as `verify-full` (and warns about, on stderr, when given). */
const VERIFY_FULL_ALIASES = new Set(["prefer", "require", "verify-ca"]);

/**
 * How a connection made with `url` is protected, as node-postgres 8 makes it (pg-connection-string
 * 2.x, then pg's `PGSSLMODE` when the URL says nothing about TLS): `"none"` (plain text),
 * `"unverified"` (TLS, any certificate), `"ca"` (TLS, a certificate of a trusted CA for any host
 * name) or `"full"` (TLS, the certificate checked and naming the host); the last two followed by
 * `@<sslrootcert>` when the URL pins its own CA. `undefined` for an `sslmode` no client knows.
 * pg (unlike libpq) never falls back: `allow` and `prefer` demand TLS as `require` does, and with
 * pg 8 those three and `verify-ca` all verify the certificate fully (`uselibpqcompat=true` gives
 * them libpq's weaker meanings).
 *
 * @example tlsDemand("postgres://db/app?sslmode=require") // "full"
 * @example tlsDemand("postgres://db/app", { PGSSLMODE: "no-verify" }) // "unverified"
 */
export function tlsDemand(url: string, env: NodeJS.ProcessEnv = {}): string | undefined {
  let query: URLSearchParams;
  try {
    query = new URL(url).searchParams;
  } catch {
    return "none"; // not a URL: refused before any connection is made
  }
  if (repeatedParameter(query) !== undefined) return undefined;
  const mode = query.get("sslmode");
  if (mode !== null && !SSL_MODES.includes(mode)) return undefined;
  const compat = query.get("uselibpqcompat") === "true";
  const rootcert = query.get("sslrootcert");
  const pinned = (level: string): string => (rootcert === null ? level : `${level}@${rootcert}`);
  if (mode === "disable") return "none";
  if (mode !== null || query.has("sslcert") || query.has("sslkey") || rootcert !== null) {
    if (!compat) return mode === "no-verify" ? "unverified" : pinned("full");
    if (mode === "prefer" || (mode === "require" && rootcert === null)) return "unverified";
    return mode === "require" || mode === "verify-ca" ? pinned("ca") : pinned("full");
  }
  const ssl = query.get("ssl");
  if (ssl !== null) return ssl === "0" ? "none" : ssl === "no-verify" ? "unverified" : "full";
  if (query.get("sslnegotiation") === "direct") return "full";
  // Unset, `disable`, or a value pg ignores: plain text.
  return PGSSLMODE_DEMANDS.get(env.PGSSLMODE ?? "") ?? "none";
}

/**
 * `url` as handed to node-postgres: an `sslmode` it treats as `verify-full` anyway (`prefer`,
 * `require`, `verify-ca`, without `uselibpqcompat=true`; each read decoded, as the driver reads
 * it: `%72equire` is `require`) is spelled `verify-full`, so the driver
 * connects exactly as it would and prints no "SECURITY WARNING" of its own on the caller's stderr
 * (the mode's meaning is in docs/postgres.md and {@link tlsDemand}).
 *
 * @example driverUrl("postgres://db/app?sslmode=require") // "postgres://db/app?sslmode=verify-full"
 */
export function driverUrl(url: string): string {
  try {
    if (new URL(url).searchParams.get("uselibpqcompat") === "true") return url;
  } catch {
    return url; // not a URL: refused before any connection is made
  }
  return url.replace(/([?&]sslmode=)([^&#]*)/g, (whole, key: string, mode: string) =>
    VERIFY_FULL_ALIASES.has(new URLSearchParams(`m=${mode}`).get("m") ?? "") ? `${key}verify-full` : whole,
  );
}
