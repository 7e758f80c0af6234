/**
 * The agent registry: agents working on one ledger say who they are and that they are alive.
 * A registration is a named lock (`agent:<name>`) renewed by heartbeats; an agent that stops
 * heartbeating is reaped when its registration expires, so `list_agents` shows only live ones.
 */
import { z } from "zod";
import { BatonError, LeaseLostError } from "../core/errors.js";
import { nameSchema } from "../core/job.js";
import type { LockInfo } from "../store/types.js";
import { defineOperation } from "./operation.js";

const PREFIX = "agent:";

interface Registration {
  meta: Record<string, string>;
  ttlMs: number;
  registeredAt: number;
}

function decode(lock: LockInfo): {
  name: string;
  meta: Record<string, string>;
  registeredAt: string;
  lastSeen: string;
  expiresAt: string;
} {
  let reg: Registration = { meta: {}, ttlMs: 0, registeredAt: lock.acquiredAt };
  try {
    reg = JSON.parse(lock.owner) as Registration;
  } catch {
    // a lock written by something else under the prefix: show what there is
  }
  return {
    name: lock.name.slice(PREFIX.length),
    meta: reg.meta,
    registeredAt: new Date(reg.registeredAt).toISOString(),
    lastSeen: new Date(lock.expiresAt - reg.ttlMs).toISOString(),
    expiresAt: new Date(lock.expiresAt).toISOString(),
  };
}

const agentSchema = z.object({
  name: z.string(),
  meta: z.record(z.string(), z.string()),
  registeredAt: z.string(),
  lastSeen: z.string(),
  expiresAt: z.string(),
});

const ttl = z
  .number()
  .int()
  .min(5)
  .max(86_400)
  .optional()
  .describe("Seconds without a heartbeat before it is reaped (default 120).");

export const registerAgent = defineOperation({
  name: "register_agent",
  title: "Register an agent",
  summary: "Announce an agent by name (with metadata) so others see it; keep it alive with agent_heartbeat.",
  input: z.object({
    name: nameSchema("agent name", 200),
    meta: z.record(z.string().max(100), z.string().max(1000)).optional(),
    ttlSeconds: ttl,
  }),
  output: z.object({ name: z.string(), token: z.string(), expiresAt: z.string() }),
  readOnly: false,
  destructive: false,
  idempotent: false,
  agent: "full",
  async run(input, ctx) {
    const ttlMs = (input.ttlSeconds ?? 120) * 1000;
    const owner: Registration = { meta: input.meta ?? {}, ttlMs, registeredAt: ctx.engine.clock.now() };
    const { acquired, lock } = await ctx.engine.store.acquireLock(
      PREFIX + input.name,
      JSON.stringify(owner),
      ttlMs,
    );
    if (!acquired) {
      throw new BatonError(
        "NAME_TAKEN",
        `agent '${input.name}' is registered and alive (until ${new Date(lock.expiresAt).toISOString()})`,
      );
    }
    return { name: input.name, token: lock.token, expiresAt: new Date(lock.expiresAt).toISOString() };
  },
});

export const agentHeartbeat = defineOperation({
  name: "agent_heartbeat",
  title: "Agent heartbeat",
  summary: "Keep an agent's registration alive. LEASE_LOST means it expired: register again.",
  input: z.object({ name: nameSchema("agent name", 200), token: z.string().min(1), ttlSeconds: ttl }),
  output: z.object({ name: z.string(), expiresAt: z.string() }),
  readOnly: false,
  destructive: false,
  idempotent: true,
  agent: "full",
  async run(input, ctx) {
    const current = await ctx.engine.store.getLock(PREFIX + input.name);
    let ttlMs = (input.ttlSeconds ?? 0) * 1000;
    if (ttlMs === 0 && current !== undefined) {
      try {
        ttlMs = (JSON.parse(current.owner) as Registration).ttlMs;
      } catch {
        ttlMs = 120_000;
      }
    }
    const renewed = await ctx.engine.store.renewLock(PREFIX + input.name, input.token, ttlMs || 120_000);
    if (!renewed)
      throw new LeaseLostError(input.name, "the agent's registration expired or belongs to another session");
    const lock = await ctx.engine.store.getLock(PREFIX + input.name);
    return { name: input.name, expiresAt: new Date(lock?.expiresAt ?? 0).toISOString() };
  },
});

export const unregisterAgent = defineOperation({
  name: "unregister_agent",
  title: "Unregister an agent",
  summary: "Remove an agent from the registry (it is also reaped when it stops heartbeating).",
  input: z.object({ name: nameSchema("agent name", 200), token: z.string().min(1) }),
  output: z.object({ name: z.string(), removed: z.boolean() }),
  readOnly: false,
  destructive: false,
  idempotent: true,
  agent: "full",
  async run(input, ctx) {
    return {
      name: input.name,
      removed: await ctx.engine.store.releaseLock(PREFIX + input.name, input.token),
    };
  },
});

export const listAgents = defineOperation({
  name: "list_agents",
  title: "List agents",
  summary: "Agents registered and alive, with their metadata and when they were last seen.",
  input: z.object({}),
  output: z.object({ agents: z.array(agentSchema) }),
  readOnly: true,
  destructive: false,
  idempotent: true,
  agent: "full",
  async run(_input, ctx) {
    return { agents: (await ctx.engine.store.listLocks(PREFIX)).map(decode) };
  },
});
