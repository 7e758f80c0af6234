/**
 * The LISTEN side of PostgreSQL wake-ups: one dedicated connection per store (not pooled) that
 * LISTENs on the ledger's channel, reconnects by itself, and pings to notice a half-open network.
 */
import type { PoolConfig } from "pg";
import { Client } from "pg";
import type { Timer } from "../../core/timer.js";
import { after, every } from "../../core/timer.js";

/** One registered wake-up listener and the client that LISTENs for it. */
export class WakeListener {
  private client: Client | undefined;
  private stopped = false;
  private reconnectTimer: Timer | undefined;
  private pingTimer: Timer | undefined;
  private failures = 0;
  private connectedOnce = false;

  constructor(
    private readonly config: PoolConfig,
    private readonly channel: string,
    private readonly emit: () => void,
    private readonly pingMs: number,
  ) {
    this.connect();
  }

  private connect(): void {
    if (this.stopped) return;
    const client = new Client(this.config);
    this.client = client;
    let dead = false;
    const lost = () => {
      if (dead) return;
      dead = true;
      this.pingTimer?.cancel();
      client.removeAllListeners("notification");
      client.end().catch(() => undefined);
      this.scheduleReconnect();
    };
    client.on("error", lost);
    client.on("end", lost);
    client.on("notification", (message) => {
      if (message.channel === this.channel) this.emit();
    });
    client
      .connect()
      .then(() => client.query(`LISTEN ${JSON.stringify(this.channel)}`))
      .then(() => {
        if (dead || this.stopped) {
          client.end().catch(() => undefined);
          return;
        }
        this.failures = 0;
        // Notifications sent while no one was listening are gone: wake once so the consumer looks.
        if (this.connectedOnce) this.emit();
        this.connectedOnce = true;
        // A half-open connection delivers nothing and reports nothing: ping it. A ping still
        // unanswered when the next is due means the connection is gone (and a second query on a
        // busy client is what pg deprecates): reconnect rather than queue another.
        let pinging = false;
        this.pingTimer = every(
          this.pingMs,
          () => {
            if (pinging) {
              lost();
              return;
            }
            pinging = true;
            client.query("SELECT 1").then(() => {
              pinging = false;
            }, lost);
          },
          { unref: true },
        );
      })
      .catch(lost);
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    this.failures++;
    const delay = Math.min(5000, 100 * 2 ** Math.min(this.failures - 1, 6));
    this.reconnectTimer = after(delay, () => this.connect(), { unref: true });
  }

  async close(): Promise<void> {
    this.stopped = true;
    this.reconnectTimer?.cancel();
    this.pingTimer?.cancel();
    const client = this.client;
    this.client = undefined;
    if (client !== undefined) {
      client.removeAllListeners("end");
      client.removeAllListeners("notification");
      client.on("error", () => undefined);
      await client.end().catch(() => undefined);
    }
  }
}
