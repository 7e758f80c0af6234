/**
 * Daemons sharing one ledger: who a daemon is (host name, home), which command jobs it may claim
 * (its host's and its pools'), and the registry of live daemons (`baton status` lists them).
 *
 * A registration is a named lock `host:<host>:<home hash>` whose owner is JSON metadata, replaced
 * on every heartbeat; a daemon that stops heartbeating disappears when the lock expires (listLocks
 * reaps it), in the style of the agent registry (src/ops/registry.ts). Its running commands are
 * recovered by lease expiry, like any silent owner's (docs/decisions.md D20).
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { InvalidInputError } from "../core/errors.js";
import { batonHome } from "../core/paths.js";
import type { LockInfo, Store } from "../store/types.js";
import { hostName, ownerGone } from "./process.js";

declare const BATON_VERSION: string | undefined;

const REGISTRY_PREFIX = "host:";
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** A short stable id of a BATON_HOME (several homes on one host may share a ledger). */
export function homeId(home: string): string {
  return createHash("sha256").update(home).digest("hex").slice(0, 12);
}

/** The single-instance lock of the daemon of one home on one host. */
export function daemonLockName(host: string, home: string): string {
  return `daemon:${host}:${homeId(home)}`;
}

/** A pool name (letters, digits, `.`, `_`, `-`; ≤ 100 characters), or INVALID_INPUT. */
export function checkPoolName(name: string, where = "pool"): string {
  if (!NAME.test(name)) {
    throw new InvalidInputError(
      `${where} '${name}' is not a valid pool name (letters, digits, '.', '_', '-'; at most 100 characters)`,
    );
  }
  return name;
}

/** The pools a daemon serves: BATON_POOLS=a,b (blanks ignored). */
export function poolsFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  const names = (env.BATON_POOLS ?? "")
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p !== "");
  return [...new Set(names.map((p) => checkPoolName(p, "BATON_POOLS entry")))];
}

/**
 * Where a host-bound job runs: one host and one BATON_HOME on it (`<host>:<home id>`, as in the
 * registry), because the job's environment file and logs are in that home.
 */
export function placeOf(host: string, home: string): string {
  return `${host}:${homeId(home)}`;
}

/**
 * The place of a caller: its host name and the BATON_HOME whose daemon runs its jobs (a front-end
 * passes its command host's home; default: the environment's).
 */
export function herePlace(env: NodeJS.ProcessEnv = process.env, home = batonHome(env)): string {
  return placeOf(hostName(env), home);
}

/** The affinity a command job records: its pool when it names one, else the submitting host and home. */
export function jobAffinity(
  pool: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  home = batonHome(env),
): string {
  return pool === undefined ? `host:${herePlace(env, home)}` : `pool:${checkPoolName(pool)}`;
}

/**
 * The other place a job is bound to, when its payload names `host:…` and that is not this host and
 * home ("alpha", or "alpha (home 0123456789ab)" when only the home differs); undefined for jobs
 * bound here, sent to a pool, or without affinity.
 */
export function boundElsewhere(
  payload: unknown,
  env: NodeJS.ProcessEnv = process.env,
  home = batonHome(env),
): string | undefined {
  const affinity = (payload as { affinity?: unknown } | null)?.affinity;
  if (typeof affinity !== "string" || !affinity.startsWith("host:")) return undefined;
  const bound = affinity.slice("host:".length);
  const host = hostName(env);
  const withHome = /^(.*):([0-9a-f]{12})$/.exec(bound);
  if (withHome === null) return bound === host ? undefined : bound; // recorded before homes were
  const [, boundHost, boundHome] = withHome;
  if (boundHost !== host) return boundHost;
  return boundHome === homeId(home) ? undefined : `${boundHost} (home ${boundHome})`;
}

/**
 * The affinities a daemon claims: its own host and home's, its pools', and `host:<host>` alone,
 * which jobs recorded before affinities named the home carry.
 */
export function servedAffinities(host: string, home: string, pools: readonly string[]): string[] {
  return [`host:${placeOf(host, home)}`, `host:${host}`, ...pools.map((p) => `pool:${p}`)];
}

export interface HostMeta {
  host: string;
  home: string;
  pid: number;
  owner: string;
  started: string;
  version: string;
  pools: string[];
  running: number;
}

interface Registration {
  meta: HostMeta;
  ttlMs: number;
}

export const hostSchema = z.object({
  host: z.string(),
  home: z.string(),
  pid: z.number(),
  started: z.string(),
  version: z.string(),
  pools: z.array(z.string()),
  running: z.number(),
  lastSeen: z.string(),
  expiresAt: z.string(),
  gone: z
    .boolean()
    .optional()
    .describe(
      "True when the daemon is on this machine and its process is gone (the row expires at expiresAt).",
    ),
});
export type HostView = z.infer<typeof hostSchema>;

function decode(lock: LockInfo): HostView | undefined {
  try {
    const reg = JSON.parse(lock.owner) as Registration;
    const m = reg.meta;
    return {
      host: m.host,
      home: m.home,
      pid: m.pid,
      started: m.started,
      version: m.version,
      pools: m.pools,
      running: m.running,
      lastSeen: new Date(lock.expiresAt - reg.ttlMs).toISOString(),
      expiresAt: new Date(lock.expiresAt).toISOString(),
      ...(typeof m.owner === "string" && ownerGone(m.owner) ? { gone: true } : {}),
    };
  } catch {
    return undefined; // something else under the prefix
  }
}

/** Live daemons on this ledger (expired registrations are reaped on the way). */
export async function listHosts(store: Store): Promise<HostView[]> {
  const hosts: HostView[] = [];
  for (const lock of await store.listLocks(REGISTRY_PREFIX)) {
    const view = decode(lock);
    if (view !== undefined) hosts.push(view);
  }
  return hosts.sort((a, b) => a.host.localeCompare(b.host) || a.home.localeCompare(b.home));
}

/** A daemon's entry in the registry: register once, then heartbeat with fresh metadata. */
export class HostRegistration {
  private token: string | undefined;
  private readonly name: string;

  constructor(
    private readonly store: Store,
    private readonly base: Omit<HostMeta, "running" | "version">,
    private readonly ttlMs: number,
  ) {
    this.name = `${REGISTRY_PREFIX}${base.host}:${base.home}`;
  }

  /**
   * Write the registration with the current running count (one transaction). Our own entry is
   * replaced; one that expired meanwhile is taken again.
   */
  async heartbeat(running: number): Promise<void> {
    const meta: HostMeta = {
      ...this.base,
      version: typeof BATON_VERSION === "string" ? BATON_VERSION : "dev",
      running,
    };
    const owner: Registration = { meta, ttlMs: this.ttlMs };
    const mine = this.token;
    // The entry is this host and home's: a daemon that holds the home's single-instance lock is the
    // only one alive for it, so its first heartbeat takes over an entry a killed predecessor left
    // (which would otherwise be shown, with the dead pid, until it expired).
    const { acquired, lock } = await this.store.acquireLock(
      this.name,
      JSON.stringify(owner),
      this.ttlMs,
      (current) => mine === undefined || current.token === mine,
    );
    if (acquired) this.token = lock.token;
  }

  /** Remove the entry (a clean shutdown). */
  async remove(): Promise<void> {
    if (this.token !== undefined) await this.store.releaseLock(this.name, this.token);
  }
}
