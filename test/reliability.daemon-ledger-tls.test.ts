/**
 * D127 (issue 17): a call's TLS demand is part of the ledger it names. A daemon whose connection
 * is plain text never serves a call that asked for TLS (`sslmode=require`, `PGSSLMODE`): the call
 * runs direct and gets the truth (this test server has no TLS: STORE_UNAVAILABLE saying so, and no
 * driver warning on stderr; nor for `sslmode=%72equire`, read decoded as pg reads it). A URL the
 * store refuses (`sslmode=bogus`, a TLS parameter given twice) gets the same refusal with and
 * without a daemon. `daemon status`/`stop` find the daemon under any spelling of its key.
 */
import { createRequire } from "node:module";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { driverUrl, tlsDemand } from "../src/core/database-url.js";
import { ledgerKey } from "../src/ops/ipc.js";
import { ROOT } from "./helpers/cli.js";
import { PG_ENABLED, pgTestDatabase, warnIfPgSkipped } from "./helpers/pg.js";
import { cli, cliJson, newHome, stopDaemon } from "./helpers/supervisor.js";
import type { Home } from "./helpers/supervisor.js";

const BASE = "postgres://u@127.0.0.1:5432/db";
const key = (url: string, env: Record<string, string> = {}): string =>
  ledgerKey({ BATON_DATABASE_URL: url, ...env });

describe("D127 the ledger key holds the TLS demand", () => {
  it("a URL that demands TLS names another daemon than a plain one; one demand, one key", () => {
    const plain = key(BASE);
    for (const same of [`${BASE}?sslmode=disable`, `${BASE}?ssl=0`, `${BASE}?application_name=x`])
      expect(key(same), same).toBe(plain);
    // What node-postgres 8 does with each: allow/prefer/require/verify-ca/verify-full/ssl=true
    // all verify the certificate fully; no-verify does not.
    const full = key(`${BASE}?sslmode=verify-full`);
    expect(full).not.toBe(plain);
    for (const same of ["allow", "prefer", "require", "verify-ca"])
      expect(key(`${BASE}?sslmode=${same}`), same).toBe(full);
    expect(key(`${BASE}?ssl=true`)).toBe(full);
    expect(key(BASE, { PGSSLMODE: "require" })).toBe(full);
    expect(key(`${BASE}?sslmode=disable`, { PGSSLMODE: "require" })).toBe(plain);
    const unverified = key(`${BASE}?sslmode=no-verify`);
    expect(new Set([plain, full, unverified]).size).toBe(3);
    expect(key(BASE, { PGSSLMODE: "no-verify" })).toBe(unverified);
    // libpq's meanings on request: require without a CA pinned checks nothing.
    expect(key(`${BASE}?sslmode=require&uselibpqcompat=true`)).toBe(unverified);
    expect(key(`${BASE}?sslmode=verify-full&sslrootcert=/etc/ca.pem`)).not.toBe(full);
  });

  it("a URL the store refuses never names a running daemon's key", () => {
    for (const refused of [`${BASE}?sslmode=bogus`, "mysql://u@127.0.0.1:5432/db"]) {
      const k = key(refused);
      for (const served of [BASE, `${BASE}?sslmode=require`, `${BASE}?sslmode=no-verify`])
        expect(k, refused).not.toBe(key(served));
    }
    expect(tlsDemand(`${BASE}?sslmode=bogus`)).toBeUndefined();
    // A repeated TLS parameter is refused by the store: its key is no daemon's either.
    for (const repeated of [
      `${BASE}?sslmode=disable&sslmode=require`,
      `${BASE}?sslrootcert=a&sslrootcert=b`,
      // And a repeated connection parameter: the key read the first host, pg reaches the last.
      `${BASE}?host=127.0.0.1&host=10.9.9.9`,
      `${BASE}?port=5432&port=6543`,
    ]) {
      expect(tlsDemand(repeated), repeated).toBeUndefined();
      expect(key(repeated), repeated).not.toBe(key(BASE));
    }
  });

  it("bin/baton.js computes the same keys (dist/ledger-key.cjs), PGSSLMODE included", () => {
    const bin = createRequire(import.meta.url)(join(ROOT, "dist", "ledger-key.cjs")) as {
      ledgerKey: (env: NodeJS.ProcessEnv) => string;
    };
    for (const url of [BASE, `${BASE}?sslmode=require`, `${BASE}?sslmode=bogus`, "mysql://u@h/db"])
      for (const env of [{}, { PGSSLMODE: "require" }]) {
        const full = { BATON_DATABASE_URL: url, ...env };
        expect(bin.ledgerKey(full), `${url} ${JSON.stringify(env)}`).toBe(ledgerKey(full));
      }
  });

  it("the driver gets verify-full for the modes it treats as verify-full (no warning of its own)", () => {
    expect(driverUrl(`${BASE}?sslmode=require&x=1`)).toBe(`${BASE}?sslmode=verify-full&x=1`);
    expect(driverUrl(`${BASE}?a=1&sslmode=prefer`)).toBe(`${BASE}?a=1&sslmode=verify-full`);
    // pg decodes the query: %72equire is require.
    expect(driverUrl(`${BASE}?sslmode=%72equire`)).toBe(`${BASE}?sslmode=verify-full`);
    for (const kept of [
      BASE,
      `${BASE}?sslmode=no-verify`,
      `${BASE}?sslmode=disable`,
      `${BASE}?sslmode=require&uselibpqcompat=true`,
      `${BASE}?sslmode=require&uselibpqcompat=%74rue`,
    ])
      expect(driverUrl(kept)).toBe(kept);
  });
});

warnIfPgSkipped("D127 TLS demand and the daemon");
const db = pgTestDatabase();

/** The test database's URL (plain text: the test server has no TLS) with `query`. */
const spelled = (query = ""): string => `${db.url}${query}`;

function homeWithDaemon(): Home {
  const home = newHome({ BATON_DATABASE_URL: spelled(), BATON_DATABASE_SCHEMA: db.freshSchema() });
  expect(cliJson(home, ["daemon", "start"]).running).toBe(true);
  return home;
}

/** Jobs in the daemon's ledger, read through the daemon's own spelling. */
const total = (home: Home): number => cliJson(home, ["list"]).total as number;

describe.skipIf(!PG_ENABLED)("D127 a plain-text daemon and calls that demand TLS", () => {
  beforeAll(() => db.setup());
  afterAll(() => db.teardown());

  it("sslmode=require (or PGSSLMODE=require) is not served by it: STORE_UNAVAILABLE saying the server has no TLS", () => {
    const home = homeWithDaemon();
    try {
      const demands: Record<string, string>[] = [
        { BATON_DATABASE_URL: spelled("?sslmode=require") },
        { BATON_DATABASE_URL: spelled("?sslmode=verify-full") },
        { PGSSLMODE: "require" },
      ];
      for (const env of demands) {
        for (const argv of [
          ["enqueue", "--json", "--name", "tls-only", "--", "true"],
          ["list", "--json"],
        ]) {
          const call = cli(home, argv, { env });
          const what = `${JSON.stringify(env)} ${argv[0]}: ${call.stdout}${call.stderr}`;
          expect(call.code, what).toBe(5);
          const error = JSON.parse(call.stdout).error;
          expect(error.code, what).toBe("STORE_UNAVAILABLE");
          expect(error.message, what).toContain("does not support TLS");
          // Nothing on stderr but baton's own line: no driver SECURITY WARNING.
          expect(call.stderr, what).not.toContain("SECURITY WARNING");
          expect(call.stderr, what).not.toContain("(node:");
        }
      }
      // Nothing was written over the plain connection.
      expect(total(home)).toBe(0);
    } finally {
      stopDaemon(home);
    }
  });

  it("without a daemon the same call gets the same answer", () => {
    const home = newHome({
      BATON_DATABASE_URL: spelled("?sslmode=require"),
      BATON_DATABASE_SCHEMA: "direct",
    });
    const call = cli(home, ["list", "--json"], { env: { BATON_DIRECT: "1" } });
    expect(call.code, call.stdout + call.stderr).toBe(5);
    expect(JSON.parse(call.stdout).error.code).toBe("STORE_UNAVAILABLE");
    expect(call.stderr).not.toContain("SECURITY WARNING");
  });

  it("sslmode=bogus, or a TLS parameter given twice, gets the same INVALID_INPUT with and without a running daemon", () => {
    const home = homeWithDaemon();
    try {
      // A repeated parameter: pg reads the last sslmode (require: TLS); the key once read the
      // first (disable: this daemon's plain connection).
      const refusals: [string, Record<string, string>][] = [
        ["?sslmode=bogus", { field: "sslmode", value: "bogus" }],
        ["?sslmode=disable&sslmode=require", { field: "sslmode" }],
        ["?ssl=0&sslmode=disable&ssl=true", { field: "ssl" }],
        ["?host=127.0.0.1&host=127.0.0.2", { field: "host" }],
      ];
      for (const [query, details] of refusals) {
        const answers = [];
        for (const direct of ["1", ""]) {
          const call = cli(home, ["enqueue", "--json", "--", "true"], {
            env: { BATON_DATABASE_URL: spelled(query), BATON_DIRECT: direct },
          });
          const what = `${query} direct=${direct}: ${call.stdout}${call.stderr}`;
          expect(call.code, what).toBe(2);
          const error = JSON.parse(call.stdout).error;
          expect(error.code, what).toBe("INVALID_INPUT");
          expect(error.details, what).toMatchObject(details);
          answers.push(call.stdout);
        }
        expect(answers[1], query).toBe(answers[0]);
      }
      expect(total(home)).toBe(0);
    } finally {
      stopDaemon(home);
    }
  });

  it("a percent-encoded sslmode is read decoded: sslmode=%72equire demands TLS, and pg prints nothing", () => {
    const home = homeWithDaemon();
    try {
      for (const direct of ["1", ""]) {
        const call = cli(home, ["list", "--json"], {
          env: { BATON_DATABASE_URL: spelled("?sslmode=%72equire"), BATON_DIRECT: direct },
        });
        const what = `direct=${direct}: ${call.stdout}${call.stderr}`;
        expect(call.code, what).toBe(5);
        expect(JSON.parse(call.stdout).error.code, what).toBe("STORE_UNAVAILABLE");
        expect(call.stderr, what).not.toContain("SECURITY WARNING");
        expect(call.stderr, what).not.toContain("(node:");
      }
    } finally {
      stopDaemon(home);
    }
  });

  it("daemon status and stop find the daemon under every spelling of its key, and only those", () => {
    const home = homeWithDaemon();
    try {
      const pid = cliJson(home, ["daemon", "status"]).pid as number;
      const withPassword = new URL(db.url);
      withPassword.password = "secret";
      const spellings: { env?: Record<string, string>; flag?: string }[] = [
        { env: { BATON_DATABASE_URL: withPassword.toString() } },
        { env: { BATON_DATABASE_URL: spelled("?sslmode=disable&application_name=x") } },
        { env: { BATON_DATABASE_URL: ` ${db.url.replace("postgres://", "postgresql://")} ` } },
        { flag: withPassword.toString() },
      ];
      for (const { env, flag } of spellings) {
        const argv = ["daemon", "status", ...(flag === undefined ? [] : ["--database-url", flag])];
        const status = cliJson(home, argv, { env: env ?? {} });
        expect(status, JSON.stringify({ env, flag })).toMatchObject({ running: true, pid });
      }
      // A TLS demand is another key: that daemon does not serve it (exit 3, not running).
      const tls = cli(home, ["daemon", "status", "--json"], {
        env: { BATON_DATABASE_URL: spelled("?sslmode=require") },
      });
      expect(tls.code).toBe(3);
      const stopped = cliJson(home, ["daemon", "stop"], {
        env: { BATON_DATABASE_URL: withPassword.toString() },
      });
      expect(stopped.stopped).toBe(true);
      expect(cli(home, ["daemon", "status"]).code).toBe(3);
    } finally {
      stopDaemon(home);
    }
  });
});
