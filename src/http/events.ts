/**
 * The live event stream (Server-Sent Events) of the dashboard and API.
 *
 * The ledger's event table is the one source: every state change of every process (CLI calls, MCP
 * servers, the daemon, other hosts on PostgreSQL) appends an event there with an increasing id. One
 * poller per server reads what is new and fans it out; events of this process's own engine make it
 * poll at once instead of at the next tick. The SSE `id:` is the ledger event id, so a client that
 * reconnects with `Last-Event-ID` gets exactly what it missed (from the ledger, not a memory buffer).
 */
import type { ServerResponse } from "node:http";
import type { JobEvent } from "../core/job.js";
import type { Engine } from "../engine/engine.js";
import { eventView } from "../ops/views.js";
import type { Timer } from "../core/timer.js";
import { every } from "../core/timer.js";

/** Rows per query while catching up. */
const BATCH = 500;
/** Comment lines keep idle connections (and proxies) from timing out. */
const KEEPALIVE_MS = 15_000;

interface Client {
  res: ServerResponse;
  /** The newest event id this client has been sent. */
  last: number;
  /** While it catches up from the ledger, live events wait here. */
  pending: JobEvent[] | undefined;
}

export interface EventHubOptions {
  /** How often to look for events written by other processes, ms (default 1000). */
  pollMs?: number;
  maxClients?: number;
  onError?: (error: Error) => void;
}

/** Formats one SSE frame. `data` never holds a raw newline (JSON escapes them). */
export function sseFrame(event: JobEvent): string {
  return `id: ${event.id}\nevent: ledger\ndata: ${JSON.stringify(eventView(event))}\n\n`;
}

export class EventHub {
  private readonly engine: Engine;
  private readonly clients = new Set<Client>();
  private readonly pollMs: number;
  readonly maxClients: number;
  private readonly onError: (error: Error) => void;
  private cursor = 0;
  private started: Promise<void> | undefined;
  private timer: Timer | undefined;
  private keepalive: Timer | undefined;
  private polling: Promise<void> | undefined;
  private again = false;
  private closed = false;
  private readonly unsubscribe: (() => void)[] = [];

  constructor(engine: Engine, options: EventHubOptions = {}) {
    this.engine = engine;
    this.pollMs = options.pollMs ?? 1000;
    this.maxClients = options.maxClients ?? 100;
    this.onError = options.onError ?? (() => undefined);
  }

  get size(): number {
    return this.clients.size;
  }

  /** The newest event id in the ledger (0 when there is none). */
  async newestId(): Promise<number> {
    const [newest] = await this.engine.events({ limit: 1, order: "desc" });
    return newest?.id ?? 0;
  }

  private start(): Promise<void> {
    this.started ??= (async () => {
      this.cursor = await this.newestId();
      const poke = () => this.poll();
      this.unsubscribe.push(this.engine.on("enqueued", poke), this.engine.on("changed", poke));
      this.timer = every(this.pollMs, poke, { unref: true });
      this.keepalive = every(
        KEEPALIVE_MS,
        () => {
          for (const c of this.clients) c.res.write(": keepalive\n\n");
        },
        { unref: true },
      );
    })();
    return this.started;
  }

  /** Read new events once (coalesced: a poke during a poll makes one more poll after it). */
  poll(): void {
    if (this.closed) return;
    if (this.polling !== undefined) {
      this.again = true;
      return;
    }
    this.polling = this.readNew()
      .catch((error: unknown) => this.onError(error instanceof Error ? error : new Error(String(error))))
      .finally(() => {
        this.polling = undefined;
        if (this.again && !this.closed) {
          this.again = false;
          this.poll();
        }
      });
  }

  private async readNew(): Promise<void> {
    for (;;) {
      const events = await this.engine.events({ afterId: this.cursor, limit: BATCH, order: "asc" });
      if (events.length === 0) return;
      this.cursor = events[events.length - 1]!.id;
      if (this.clients.size > 0) for (const c of this.clients) this.deliver(c, events);
      if (events.length < BATCH) return;
    }
  }

  private deliver(client: Client, events: readonly JobEvent[]): void {
    if (client.pending !== undefined) {
      client.pending.push(...events);
      return;
    }
    let text = "";
    for (const e of events) {
      if (e.id <= client.last) continue;
      text += sseFrame(e);
      client.last = e.id;
    }
    if (text !== "") client.res.write(text);
  }

  /**
   * Stream to `res` every event after `lastEventId` (what the client saw, or the newest id when
   * it connected). The response headers must already be written.
   */
  async attach(res: ServerResponse, lastEventId: number): Promise<void> {
    await this.start();
    const client: Client = { res, last: lastEventId, pending: [] };
    this.clients.add(client);
    res.once("close", () => this.clients.delete(client));
    res.write(`retry: 2000\n: connected\n\n`);
    try {
      // Catch up from the ledger; live events that arrive meanwhile wait in `pending`.
      for (;;) {
        const events = await this.engine.events({ afterId: client.last, limit: BATCH, order: "asc" });
        let text = "";
        for (const e of events) {
          text += sseFrame(e);
          client.last = e.id;
        }
        if (text !== "") res.write(text);
        if (events.length < BATCH) break;
      }
    } finally {
      const pending = client.pending ?? [];
      client.pending = undefined;
      this.deliver(client, pending);
    }
  }

  close(): void {
    this.closed = true;
    this.timer?.cancel();
    this.keepalive?.cancel();
    for (const off of this.unsubscribe.splice(0)) off();
    for (const c of this.clients) c.res.end();
    this.clients.clear();
  }
}
