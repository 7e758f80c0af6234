/**
 * PostgreSQL errors → baton's typed errors, and which of them are worth retrying.
 *
 * Two sources: the server (a `DatabaseError` with a five-character SQLSTATE in `code`) and the
 * network (a Node `Error` with an errno-style `code`, or one of pg's own messages when a socket
 * closes under it). Everything not recognised here passes through unchanged.
 */
import { BatonError } from "../../core/errors.js";

/** How a failed transaction may be treated. */
export type PgTransience =
  /** Lost a race with another transaction (serialization failure, deadlock, a unique index that
   * guards a race): the whole transaction may simply be run again. */
  | "contention"
  /** The connection broke or could not be made: safe to retry on a fresh connection, unless the
   * failure hit a COMMIT whose outcome is then unknown. */
  | "connection"
  /** A prepared plan went stale after a migration on another connection: retry on a new one. */
  | "stale_plan"
  | "fatal";

/** Unique indexes whose violation only means "another transaction got there first". */
const RACE_CONSTRAINTS = new Set(["jobs_idempotency", "jobs_resource"]);

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "EAI_AGAIN",
]);

/** pg's own messages when a connection dies or times out client-side. */
const NETWORK_MESSAGES = [
  /Connection terminated/i,
  /connection timeout/i,
  /timeout exceeded when trying to connect/i,
  /not queryable/i,
  /Query read timeout/i,
  /Client was closed and is not queryable/i,
  /server closed the connection unexpectedly/i,
];

/** The SQLSTATE of a server error, or undefined for anything else. */
export function sqlState(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null || !("code" in error)) return undefined;
  const code = error.code;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

function errnoCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null || !("code" in error)) return undefined;
  const code = error.code;
  return typeof code === "string" ? code : undefined;
}

/** True when the error says the connection (not the statement) is the problem. */
export function isConnectionError(error: unknown): boolean {
  if (error instanceof BatonError) return false;
  const state = sqlState(error);
  if (state !== undefined) {
    // 08: connection exception; 57P01-03: admin/crash shutdown, cannot connect now; 53300: too many connections.
    return (
      state.startsWith("08") ||
      state === "57P01" ||
      state === "57P02" ||
      state === "57P03" ||
      state === "53300"
    );
  }
  const code = errnoCode(error);
  if (code !== undefined && NETWORK_CODES.has(code)) return true;
  const message = error instanceof Error ? error.message : "";
  if (NETWORK_MESSAGES.some((pattern) => pattern.test(message))) return true;
  const cause = error instanceof Error ? error.cause : undefined;
  return cause !== undefined && cause !== error && isConnectionError(cause);
}

/** Which errors may succeed when the whole transaction is tried again. */
export function classify(error: unknown): PgTransience {
  if (error instanceof BatonError) return "fatal";
  if (isConnectionError(error)) return "connection";
  const state = sqlState(error);
  if (state === "40001" || state === "40P01") return "contention";
  if (state === "23505") {
    const constraint = (error as { constraint?: unknown }).constraint;
    if (typeof constraint === "string" && RACE_CONSTRAINTS.has(constraint)) return "contention";
  }
  if (state === "0A000" && /cached plan must not change result type/i.test((error as Error).message)) {
    return "stale_plan";
  }
  return "fatal";
}

/** Translate a pg or network error into baton's typed errors; anything else is passed through. */
export function translate(error: unknown, location: string): unknown {
  if (error instanceof BatonError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (isConnectionError(error)) {
    return new BatonError("STORE_UNAVAILABLE", `cannot reach the database at ${location}: ${message}`, {
      cause: error,
    });
  }
  // pg's answer when the server refuses TLS (SSLRequest answered 'N'): a server that will not do
  // what the URL demands is unavailable to this caller, not an internal error (D127).
  if (/^The server does not support SSL connections$/.test(message)) {
    return new BatonError(
      "STORE_UNAVAILABLE",
      `the PostgreSQL server at ${location} does not support TLS (SSL) connections, which this URL demands ` +
        "(its sslmode, ssl or sslrootcert, or PGSSLMODE): turn TLS on in the server, or use sslmode=disable " +
        "where a plain-text connection is acceptable",
      { cause: error },
    );
  }
  const state = sqlState(error);
  if (state === undefined) return error;
  switch (state) {
    case "55P03": // lock_not_available (lock_timeout)
    case "57014": // query_canceled (statement_timeout)
    case "40001": // serialization_failure, after the retries
    case "40P01": // deadlock_detected, after the retries
      return new BatonError("STORE_BUSY", `the database at ${location} stayed busy: ${message}`, {
        cause: error,
      });
    case "53100": // disk_full
      return new BatonError("STORAGE_FULL", `the disk of the database at ${location} is full: ${message}`, {
        cause: error,
      });
    case "53200": // out_of_memory
    case "58030": // io_error
    case "XX001": // data_corrupted
    case "XX002": // index_corrupted
      return new BatonError("STORE_IO", `the database at ${location} failed: ${message}`, { cause: error });
    case "22021": // character_not_in_repertoire: a NUL byte in a text value
    case "22P05": // untranslatable_character
    case "22P02": // invalid_text_representation
    case "22001": // string_data_right_truncation
      return new BatonError("INVALID_INPUT", `the database refused a value: ${message}`, { cause: error });
    case "54000": // program_limit_exceeded (a row or index entry too large)
      return new BatonError("PAYLOAD_TOO_LARGE", `a value is too large for the database: ${message}`, {
        cause: error,
      });
    case "3D000": // invalid_catalog_name: the database does not exist
    case "28000": // invalid_authorization_specification
    case "28P01": // invalid_password
      return new BatonError("STORE_UNAVAILABLE", `cannot open the database at ${location}: ${message}`, {
        cause: error,
      });
    case "42P01": // undefined_table
    case "3F000": // invalid_schema_name
      return new BatonError(
        "STORE_UNAVAILABLE",
        `the ledger schema at ${location} is missing or not migrated (run \`baton migrate\`): ${message}`,
        { cause: error },
      );
    default:
      return error;
  }
}
