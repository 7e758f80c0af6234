import Database from "better-sqlite3";

/** Entries in an index's leaf pages of a SQLite ledger file, read from SQLite's dbstat table. */
export function indexEntries(path: string, index: string): number {
  const conn = new Database(path, { readonly: true });
  try {
    const row = conn
      .prepare("SELECT coalesce(sum(ncell), 0) AS n FROM dbstat WHERE name = ? AND pagetype = 'leaf'")
      .get(index) as { n: number };
    return row.n;
  } finally {
    conn.close();
  }
}
