import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../src/core/clock.js";
import { BatonError } from "../src/core/errors.js";
import { getOperation } from "../src/ops/catalogue.js";
import { invoke } from "../src/ops/invoke.js";
import type { LedgerKind } from "./helpers/ledgers.js";
import { testLedgers } from "./helpers/ledgers.js";

const ledgers = testLedgers("agent registry");

async function setup(kind: LedgerKind) {
  const clock = new ManualClock(Date.UTC(2026, 10, 24, 12));
  const { engine, store } = await ledgers.open(kind, { clock });
  const ctx = { engine, cwd: "/", actor: "test", location: store.location };
  const call = (name: string, input: unknown) => invoke(getOperation(name)!, input, ctx) as Promise<any>;
  return { clock, store, call };
}

async function code(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "resolved";
  } catch (error) {
    return error instanceof BatonError ? error.code : String(error);
  }
}

describe.each(ledgers.kinds)("agent registry (%s)", (kind) => {
  beforeAll(() => ledgers.setup());
  afterAll(() => ledgers.teardown());

  it("registers, lists, heartbeats, refuses a live name and reaps a silent agent", async () => {
    const { clock, store, call } = await setup(kind);
    const a = await call("register_agent", { name: "reviewer", meta: { model: "x" }, ttlSeconds: 60 });
    expect(a.token).toEqual(expect.any(String));
    await call("register_agent", { name: "writer" });
    expect(await code(call("register_agent", { name: "reviewer" }))).toBe("NAME_TAKEN");

    let listed = await call("list_agents", {});
    expect(listed.agents.map((x: { name: string }) => x.name)).toEqual(["reviewer", "writer"]);
    expect(listed.agents[0].meta).toEqual({ model: "x" });

    clock.advance(50_000);
    await call("agent_heartbeat", { name: "reviewer", token: a.token });
    clock.advance(50_000); // reviewer renewed 50 s ago (ttl 60 s); writer silent for 100 s (ttl 120 s)
    listed = await call("list_agents", {});
    expect(listed.agents.map((x: { name: string }) => x.name)).toEqual(["reviewer", "writer"]);
    expect(listed.agents[0].lastSeen).toBe(new Date(Date.UTC(2026, 10, 24, 12) + 50_000).toISOString());

    clock.advance(30_000); // reviewer: 80 s since its heartbeat > 60 s; writer: 130 s > 120 s
    listed = await call("list_agents", {});
    expect(listed.agents).toEqual([]);
    expect(await code(call("agent_heartbeat", { name: "reviewer", token: a.token }))).toBe("LEASE_LOST");

    // The name is free again; the old token does not unregister the new holder.
    const b = await call("register_agent", { name: "reviewer" });
    expect((await call("unregister_agent", { name: "reviewer", token: a.token })).removed).toBe(false);
    expect((await call("unregister_agent", { name: "reviewer", token: b.token })).removed).toBe(true);
    expect((await call("list_agents", {})).agents).toEqual([]);
    await store.close();
  });

  it("rejects bad names with a typed error", async () => {
    const { store, call } = await setup(kind);
    expect(await code(call("register_agent", { name: "" }))).toBe("INVALID_INPUT");
    expect(await code(call("register_agent", { name: "a\u0000b" }))).toBe("INVALID_INPUT");
    await store.close();
  });
});
