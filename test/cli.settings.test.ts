/**
 * The settings in the environment (BATON_LOG_CAP_BYTES, BATON_KILL_GRACE_MS, BATON_MAX_RUNNING,
 * BATON_DATABASE_POOL_SIZE, BATON_DURABILITY, …): a value that is not allowed is refused with the
 * variable's name and value (in details.field and details.value too), before anything is queued,
 * whether the call runs in its own process or is served by a running daemon. `50MB` used to be read as NaN, which meant no log cap at all.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { envelope } from "./helpers/cli.js";
import { cli, cliJson, jobRows, newHome } from "./helpers/supervisor.js";

const BAD: readonly [string, string][] = [
  ["BATON_LOG_CAP_BYTES", "50MB"],
  ["BATON_LOG_CAP_BYTES", "100"],
  ["BATON_KILL_GRACE_MS", "-1"],
  ["BATON_KILL_GRACE_MS", "5s"],
  ["BATON_SHUTDOWN_GRACE_MS", "1e3"],
  ["BATON_COMMAND_LEASE_MS", "10"],
  ["BATON_MAX_RUNNING", "0"],
  ["BATON_MAX_RUNNING_PER_PROJECT", "two"],
  ["BATON_DATABASE_POOL_SIZE", "0"],
  ["BATON_DATABASE_POOL_SIZE", "1e1"],
  ["BATON_DURABILITY", "bogus"],
  ["BATON_DURABILITY", "FULL"],
];

describe("settings in the environment", () => {
  it("a bad value is INVALID_INPUT naming the variable, and nothing is queued (own process and daemon-served)", () => {
    const home = newHome();
    for (const served of [false, true]) {
      if (served) expect(cli(home, ["daemon", "start"]).code).toBe(0);
      for (const [name, value] of BAD) {
        const result = cli(home, ["run", "--json", "--", "true"], { env: { [name]: value } });
        expect(result.code, `${name}=${value}: ${result.stdout}${result.stderr}`).toBe(2);
        const error = envelope(result).error as { code: string; message: string; details?: unknown };
        expect(error.code).toBe("INVALID_INPUT");
        expect(error.message).toContain(name);
        expect(error.message).toContain(`'${value}'`);
        // Every settings refusal says which variable and value, in details too.
        expect(error.details, `${name}=${value}`).toMatchObject({ field: name, value });
        if (name === "BATON_DURABILITY") expect(error.message).toContain("one of full, normal");
      }
      // Refused before the ledger is opened: in its own process there is not even a baton.db yet.
      expect(existsSync(join(home.dir, "baton.db"))).toBe(served);
      if (served) expect(jobRows(home)).toEqual([]);
    }
    // Help and the version are still given; a good value is taken.
    expect(cli(home, ["--version"], { env: { BATON_MAX_RUNNING: "0" } }).code).toBe(0);
    expect(cli(home, ["run", "--help"], { env: { BATON_MAX_RUNNING: "0" } }).code).toBe(0);
    const { id } = cliJson(home, ["run", "--", "true"], { env: { BATON_LOG_CAP_BYTES: "8192" } });
    expect(cliJson(home, ["wait", id]).state).toBe("succeeded");
    expect(cli(home, ["daemon", "stop"]).code).toBe(0);
  });

  it("a daemon started with a bad value refuses to start and says why", () => {
    const home = newHome({ BATON_LOG_CAP_BYTES: "lots" });
    const result = cli(home, ["daemon", "start", "--json"]);
    expect(result.code).toBe(2);
    expect(envelope(result).error!.message).toContain("BATON_LOG_CAP_BYTES");
    expect(cli(home, ["daemon", "status"], { env: { BATON_LOG_CAP_BYTES: "" } }).code).not.toBe(0);
  });
});
