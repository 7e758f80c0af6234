import { BatonError } from "../../core/errors.js";

/** The SQLite result-code family of an error thrown by better-sqlite3 (or by the fault seam). */
export function sqliteCode(error: unknown): string | undefined {
  if (typeof error === "object" && error !== null && "code" in error) {
    const code = error.code;
    if (typeof code === "string" && code.startsWith("SQLITE_")) return code;
  }
  return undefined;
}

export type Transience = "busy" | "io" | "full" | "fatal";

/** Which errors may succeed when the whole transaction is tried again. */
export function classify(error: unknown): Transience {
  const code = sqliteCode(error);
  if (code === undefined) return "fatal";
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) return "busy";
  if (code.startsWith("SQLITE_FULL")) return "full";
  if (code.startsWith("SQLITE_IOERR")) return code === "SQLITE_IOERR_NOMEM" ? "fatal" : "io";
  return "fatal";
}

/** Translate a SQLite error into baton's typed errors; anything else is passed through. */
export function translate(error: unknown, location: string): Error {
  if (error instanceof BatonError) return error;
  const code = sqliteCode(error);
  if (code === undefined) return error instanceof Error ? error : new Error(String(error));
  const message = (error as Error).message;
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) {
    return new BatonError("STORE_BUSY", `the database at ${location} stayed locked: ${message}`, {
      cause: error,
    });
  }
  if (code.startsWith("SQLITE_FULL")) {
    return new BatonError("STORAGE_FULL", `the disk holding ${location} is full: ${message}`, {
      cause: error,
    });
  }
  if (
    code.startsWith("SQLITE_IOERR") ||
    code.startsWith("SQLITE_CANTOPEN") ||
    code.startsWith("SQLITE_READONLY")
  ) {
    return new BatonError("STORE_IO", `cannot read or write ${location}: ${message}`, { cause: error });
  }
  if (code.startsWith("SQLITE_CORRUPT") || code.startsWith("SQLITE_NOTADB")) {
    return new BatonError("STORE_CORRUPT", `${location} is damaged: ${message}`, { cause: error });
  }
  if (code.startsWith("SQLITE_TOOBIG")) {
    return new BatonError("PAYLOAD_TOO_LARGE", `a value is too large for the database: ${message}`, {
      cause: error,
    });
  }
  return error instanceof Error ? error : new Error(message);
}

/** An error shaped like better-sqlite3's, for the fault-injection seam. */
export class InjectedSqliteError extends Error {
  readonly code: string;
  constructor(code: string) {
    super(`injected fault ${code}`);
    this.code = code;
  }
}
