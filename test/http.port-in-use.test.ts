/**
 * Stranger finding (issue 16): `baton serve`, `baton mcp --http` and `baton dashboard` on a port
 * another process holds. `serve` and `mcp --http` answered INTERNAL ("listen EADDRINUSE", exit 1),
 * the dashboard USAGE; all three now say PORT_IN_USE (exit 4), naming the address, the port and
 * `--port`. A real listener holds the port; nothing of baton is left listening.
 */
import { createServer } from "node:net";
import type { Server } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { cli, newHome } from "./helpers/supervisor.js";

let holder: Server | undefined;
afterEach(async () => {
  const held = holder;
  holder = undefined;
  if (held !== undefined) await new Promise((resolve) => held.close(resolve));
});

/** A real listener on 127.0.0.1 holding a free port: the port. */
async function holdPort(): Promise<number> {
  const server = createServer();
  holder = server;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as { port: number }).port;
}

describe("a port another process holds is PORT_IN_USE on every server", () => {
  it("baton serve and baton mcp --http exit 4 with PORT_IN_USE naming the port and --port", async () => {
    const home = newHome();
    const port = await holdPort();
    for (const args of [
      ["serve", "--port", String(port)],
      ["mcp", "--http", "--port", String(port)],
    ]) {
      const refused = cli(home, args);
      expect(refused.code, args.join(" ")).toBe(4);
      expect(refused.stderr, args.join(" ")).toContain(
        `cannot listen on 127.0.0.1:${port}: port ${port} is in use by another process; pick another with --port`,
      );
      expect(refused.stderr, args.join(" ")).toContain("(PORT_IN_USE)");
      expect(refused.stderr, args.join(" ")).not.toContain("INTERNAL");
    }
  });

  it("baton dashboard --port: the same code through the daemon, in the JSON envelope", async () => {
    const home = newHome();
    const port = await holdPort();
    const refused = cli(home, ["dashboard", "--no-open", "--port", String(port), "--json"]);
    expect(refused.code).toBe(4);
    const error = (
      JSON.parse(refused.stdout) as { error: { code: string; message: string; details: unknown } }
    ).error;
    expect(error.code).toBe("PORT_IN_USE");
    expect(error.message).toContain(`port ${port} is in use`);
    expect(error.details).toEqual({ host: "127.0.0.1", port });
    expect(cli(home, ["daemon", "stop"]).code).toBe(0);
  });

  it("baton serve --host with an address this machine does not have: INVALID_INPUT naming --host", () => {
    const home = newHome();
    const refused = cli(home, ["serve", "--host", "192.0.2.1", "--port", "0"]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("--host 192.0.2.1: not an address of this machine");
    expect(refused.stderr).toContain("(INVALID_INPUT)");
  });
});
