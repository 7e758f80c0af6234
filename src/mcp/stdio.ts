/**
 * The stdio wire: newline-delimited JSON-RPC on stdin/stdout, hardened for whatever a confused or
 * hostile client writes.
 *
 * The SDK's own stdio transport skips a line that is not JSON without answering, reports a line that
 * is JSON but not JSON-RPC only to `onerror`, and closes the connection when one line exceeds its
 * buffer. Here every bad line gets a JSON-RPC error (`-32700` parse error, `-32600` invalid request),
 * an oversized line is drained and answered without being buffered, and nothing but protocol frames
 * is ever written to stdout.
 */
import type { Readable, Writable } from "node:stream";
import type { JSONRPCMessage, Transport } from "@modelcontextprotocol/server";
import { parseJSONRPCMessage } from "@modelcontextprotocol/server";

/** The largest line read; larger ones are answered with an error and dropped (not buffered). */
export const DEFAULT_MAX_LINE_BYTES = 32 * 1024 * 1024;

type Id = string | number | null;

function idOf(value: unknown): Id {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return null;
  const id = (value as { id?: unknown }).id;
  return typeof id === "string" || (typeof id === "number" && Number.isFinite(id)) ? id : null;
}

function firstLine(text: string, max = 200): string {
  const line = text.split("\n")[0] ?? "";
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

export interface LineTransportOptions {
  maxLineBytes?: number;
  /** Called once, after the transport closed (stdin ended or close() was called). */
  onClosed?: () => void;
}

/** A {@link Transport} over a pair of streams, one JSON-RPC message per line. */
export class LineTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  private readonly maxLineBytes: number;
  private readonly onClosed: (() => void) | undefined;
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Bytes of the current line thrown away because it is too long (0: not overflowing). */
  private dropped = 0;
  private started = false;
  private closed = false;

  constructor(
    private readonly input: Readable,
    private readonly output: Writable,
    options: LineTransportOptions = {},
  ) {
    this.maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    this.onClosed = options.onClosed;
  }

  async start(): Promise<void> {
    if (this.started) throw new Error("LineTransport already started");
    this.started = true;
    this.input.on("data", this.onData);
    this.input.on("end", this.onEnd);
    this.input.on("close", this.onEnd);
    this.input.on("error", this.onInputError);
    this.output.on("error", this.onOutputError);
  }

  private readonly onData = (chunk: Buffer | string): void => {
    let data = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
    for (;;) {
      const newline = data.indexOf(10);
      if (newline === -1) {
        this.accumulate(data);
        return;
      }
      this.accumulate(data.subarray(0, newline));
      this.endLine();
      data = data.subarray(newline + 1);
      if (this.closed) return;
    }
  };

  private accumulate(part: Buffer): void {
    if (part.length === 0) return;
    if (this.dropped > 0 || this.buffered + part.length > this.maxLineBytes) {
      this.dropped += this.buffered + part.length;
      this.chunks = [];
      this.buffered = 0;
      return;
    }
    this.chunks.push(part);
    this.buffered += part.length;
  }

  private endLine(): void {
    if (this.dropped > 0) {
      const size = this.dropped;
      this.dropped = 0;
      this.reply(
        null,
        -32600,
        `Invalid Request: message of ${size} bytes exceeds the ${this.maxLineBytes}-byte limit`,
      );
      return;
    }
    const line = Buffer.concat(this.chunks, this.buffered).toString("utf8").replace(/\r$/, "");
    this.chunks = [];
    this.buffered = 0;
    if (line.trim() === "") return;
    this.handleLine(line);
  }

  private handleLine(line: string): void {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      this.reply(null, -32700, `Parse error: ${firstLine((error as Error).message)}`);
      return;
    }
    if (Array.isArray(value)) {
      this.reply(null, -32600, "Invalid Request: JSON-RPC batches are not supported by MCP");
      return;
    }
    let message: JSONRPCMessage;
    try {
      message = parseJSONRPCMessage(value);
    } catch {
      this.reply(
        idOf(value),
        -32600,
        "Invalid Request: not a JSON-RPC 2.0 request, notification or response",
      );
      return;
    }
    try {
      this.onmessage?.(message);
    } catch (error) {
      this.onerror?.(error instanceof Error ? error : new Error(String(error)));
    }
  }

  private reply(id: Id, code: number, message: string): void {
    this.write(`${JSON.stringify({ jsonrpc: "2.0", id, error: { code, message } })}\n`).catch(
      (error: unknown) => this.onerror?.(error instanceof Error ? error : new Error(String(error))),
    );
  }

  private write(text: string): Promise<void> {
    if (this.closed) return Promise.reject(new Error("transport closed"));
    // The callback fires once the frame is handed to the pipe, so a slow reader applies backpressure.
    return new Promise((resolve, reject) => {
      this.output.write(text, (error) => (error === null || error === undefined ? resolve() : reject(error)));
    });
  }

  send(message: JSONRPCMessage): Promise<void> {
    return this.write(`${JSON.stringify(message)}\n`);
  }

  private readonly onEnd = (): void => {
    void this.close();
  };

  private readonly onInputError = (error: Error): void => {
    this.onerror?.(error);
  };

  private readonly onOutputError = (error: Error): void => {
    // stdout gone (the client hung up): nothing can be answered any more.
    if (this.closed) return;
    this.onerror?.(error);
    void this.close();
  };

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.input.off("data", this.onData);
    this.input.off("end", this.onEnd);
    this.input.off("close", this.onEnd);
    this.input.off("error", this.onInputError);
    this.input.pause();
    this.chunks = [];
    this.onclose?.();
    this.onClosed?.();
  }
}
