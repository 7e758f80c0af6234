/**
 * D121 (issue 17): two spellings of one PostgreSQL ledger. A call whose URL differs from the
 * daemon's only in what does not choose the database (the password, `sslmode=disable`; a TLS
 * demand is another key since D127) is served by that
 * daemon; one that differs in what cannot be judged safely (`localhost` for `127.0.0.1`) fails at
 * once with DAEMON_CONFLICT naming the daemon that holds the ledger, instead of waiting 30-60 s for
 * a daemon that exits as soon as it finds the lock taken.
 */
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ledgerKey } from "../src/ops/ipc.js";
import { ROOT } from "./helpers/cli.js";
import { PG_ENABLED, pgTestDatabase, warnIfPgSkipped } from "./helpers/pg.js";
import { cli, cliJson, newHome, stopDaemon } from "./helpers/supervisor.js";
import type { Home } from "./helpers/supervisor.js";

const key = (url: string, schema?: string): string =>
  ledgerKey({ BATON_DATABASE_URL: url, ...(schema === undefined ? {} : { BATON_DATABASE_SCHEMA: schema }) });

describe("D121 the ledger key names the database and schema, not the spelling", () => {
  it("ignores the password and connection options; keeps user, host, port, database and schema", () => {
    const base = "postgres://u:secret@127.0.0.1:5432/db";
    for (const same of [
      "postgres://u@127.0.0.1:5432/db",
      "postgres://u:other@127.0.0.1:5432/db",
      "postgresql://u:secret@127.0.0.1:5432/db",
      "postgres://u@127.0.0.1:5432/db?sslmode=disable&application_name=x&connect_timeout=5",
      " postgres://u:secret@127.0.0.1:5432/db ",
      "postgres://u@127.0.0.1:5432/db?password=p",
      "postgres://x@127.0.0.1:5432/db?user=u",
    ])
      expect(key(same), same).toBe(key(base));
    expect(key("postgres://u@DB.example.org/db")).toBe(key("postgres://u@db.example.org/db"));
    for (const other of [
      "postgres://u@localhost:5432/db",
      "postgres://u@127.0.0.1/db",
      "postgres://u@127.0.0.1:5433/db",
      "postgres://v@127.0.0.1:5432/db",
      "postgres://127.0.0.1:5432/db",
      "postgres://u@127.0.0.1:5432/db2",
      "postgres://u@127.0.0.1:5432/Db",
      "postgres://u@127.0.0.1:5432/db?host=/var/run/postgresql",
      "postgres://u@127.0.0.1:5432/db?port=6432",
      // A TLS demand is part of the key (D127): such a call is never served over a plain connection.
      "postgres://u:secret@127.0.0.1:5432/db?sslmode=require",
    ])
      expect(key(other), other).not.toBe(key(base));
    expect(key(base, "other")).not.toBe(key(base));
    expect(key(base, "")).toBe(key(base, "baton"));
    expect(key("")).toBe("");
    expect(key("   ")).toBe("");
  });

  it("bin/baton.js computes it with the same code (dist/ledger-key.cjs) on every spelling", () => {
    const bin = createRequire(import.meta.url)(join(ROOT, "dist", "ledger-key.cjs")) as {
      ledgerKey: (env: NodeJS.ProcessEnv) => string;
    };
    const urls = [
      "",
      "postgres://u:secret@127.0.0.1:5432/db",
      "postgres://u@localhost/db?sslmode=require",
      "postgresql://%75ser:p%40ss@[::1]:5432/d%20b",
      "postgres://u@h/db?host=/tmp/Sock&port=7",
      "postgres://h/db?user=a",
      "not a url",
    ];
    for (const url of urls)
      for (const schema of [undefined, "", "s1"]) {
        const env = {
          BATON_DATABASE_URL: url,
          ...(schema === undefined ? {} : { BATON_DATABASE_SCHEMA: schema }),
        };
        expect(bin.ledgerKey(env), `${url}#${schema}`).toBe(ledgerKey(env));
      }
  });
});

warnIfPgSkipped("D121 two spellings of one ledger");
const db = pgTestDatabase();

/** `db.url` with a password and 127.0.0.1 / localhost as its host. */
function spelled(host: string, password?: string): string {
  const url = new URL(db.url);
  url.hostname = host;
  url.password = password ?? "";
  return url.toString();
}

/** The daemon files of a home: one set per ledger that has a daemon. */
function daemonJsons(home: string): string[] {
  return readdirSync(home).filter((name) => /^daemon.*\.json$/.test(name));
}

/** A home whose daemon runs for `postgres://…:secret@127.0.0.1/…` on a fresh schema. */
function homeWithDaemon(): Home {
  const home = newHome({
    BATON_DATABASE_URL: spelled("127.0.0.1", "secret"),
    BATON_DATABASE_SCHEMA: db.freshSchema(),
  });
  expect(cliJson(home, ["daemon", "start"]).running).toBe(true);
  return home;
}

describe.skipIf(!PG_ENABLED)("D121 a daemon and a call with another spelling of its PostgreSQL URL", () => {
  beforeAll(() => db.setup());
  afterAll(() => db.teardown());

  it("a call without the password (and with sslmode) is served by the running daemon", () => {
    const home = homeWithDaemon();
    try {
      const before = Date.now();
      const ran = cliJson(home, ["run", "--wait", "--", "sh", "-c", "echo served"], {
        env: { BATON_DATABASE_URL: `${spelled("127.0.0.1")}?sslmode=disable` },
      });
      expect(ran.state).toBe("succeeded");
      expect(Date.now() - before).toBeLessThan(15_000);
      expect(daemonJsons(home.dir)).toHaveLength(1);
      expect(readFileSync(join(home.dir, "daemon.log"), "utf8")).not.toContain("another daemon holds");
    } finally {
      stopDaemon(home);
    }
  });

  it("localhost for 127.0.0.1: the call fails fast with DAEMON_CONFLICT naming the holder", () => {
    const home = homeWithDaemon();
    try {
      const holder = cliJson(home, ["daemon", "status"]).pid as number;
      const before = Date.now();
      const call = cli(home, ["run", "--json", "--", "true"], {
        env: { BATON_DATABASE_URL: spelled("localhost") },
      });
      const elapsed = Date.now() - before;
      expect(call.code, call.stdout + call.stderr).toBe(4);
      const error = JSON.parse(call.stdout).error;
      expect(error.code).toBe("DAEMON_CONFLICT");
      expect(error.message).toContain(`pid ${holder}`);
      expect(error.message).toContain("another spelling");
      expect(error.message).toContain(`kill ${holder}`);
      // The holder's URL is shown without its password.
      expect(error.message).toContain("127.0.0.1");
      expect(error.message).not.toContain("secret");
      expect(error.details).toMatchObject({ pid: holder, home: home.dir });
      // Before: 30 s of waiting, then STORE_UNAVAILABLE. Now: the refused daemon's boot and exit.
      expect(elapsed).toBeLessThan(15_000);
      // A second call fails the same way, without a daemon to wait for.
      const again = cli(home, ["run", "--json", "--", "true"], {
        env: { BATON_DATABASE_URL: spelled("localhost") },
      });
      expect(JSON.parse(again.stdout).error.code).toBe("DAEMON_CONFLICT");
      // The refused start leaves no `daemon-<key>.starting` behind in the home.
      expect(readdirSync(home.dir).filter((name) => name.endsWith(".starting"))).toEqual([]);
    } finally {
      stopDaemon(home);
    }
  });
});
