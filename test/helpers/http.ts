import { request as httpRequest } from "node:http";
import type { Opened } from "../../src/open.js";
import { openEngine } from "../../src/open.js";
import { LocalCommandHost } from "../../src/ops/local-host.js";
import type { HttpServerOptions, HttpServing } from "../../src/http/server.js";
import { startHttpServer } from "../../src/http/server.js";
import { tempDir } from "./tmp.js";

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The parsed JSON body (undefined when it is not JSON). */
  body: any;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

/** One HTTP request with full control of the headers (fetch() would refuse to set Host). */
export function request(url: string, options: RequestOptions = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: options.method ?? "GET", headers: options.headers ?? {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {
            body = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

/** POST JSON to an operation. */
export function callOp(base: string, name: string, input: unknown, headers: Record<string, string> = {}) {
  return request(`${base}/api/ops/${name}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(input),
  });
}

export interface TestServer {
  base: string;
  home: string;
  opened: Opened;
  serving: HttpServing;
  logs: string[];
  close(): Promise<void>;
}

/** A real server on 127.0.0.1:0 over a temp SQLite file, with a short poll interval. */
export async function startTestServer(
  options: Partial<Omit<HttpServerOptions, "context">> & { home?: string } = {},
): Promise<TestServer> {
  const home = options.home ?? tempDir("baton-http-");
  const opened = await openEngine({ home, actor: "http", durability: "normal" });
  const commands = new LocalCommandHost(home);
  const logs: string[] = [];
  const serving = await startHttpServer({
    project: home,
    port: 0,
    pollMs: 100,
    log: (line) => logs.push(line),
    ...options,
    context: {
      engine: opened.engine,
      cwd: home,
      actor: "http",
      location: opened.store.location,
      env: process.env,
      commands,
    },
  });
  return {
    base: serving.url,
    home,
    opened,
    serving,
    logs,
    async close() {
      await serving.close();
      commands.close();
      await opened.store.close();
    },
  };
}

/** Read an SSE stream until `until(frames)` holds (or the timeout passes), then close it. */
export function readStream(
  url: string,
  headers: Record<string, string>,
  until: (frames: { id: number; data: any }[]) => boolean,
  timeoutMs = 30_000,
): Promise<{ id: number; data: any }[]> {
  return new Promise((resolve, reject) => {
    const frames: { id: number; data: any }[] = [];
    let buffer = "";
    const req = httpRequest(url, { headers }, (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`stream answered ${res.statusCode}`));
        res.resume();
        return;
      }
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const id = /^id: (\d+)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (id !== undefined && data !== undefined) frames.push({ id: Number(id), data: JSON.parse(data) });
        }
        if (until(frames)) {
          clearTimeout(timer);
          req.destroy();
          resolve(frames);
        }
      });
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(
        new Error(
          `stream: condition not met in ${timeoutMs} ms; got ${JSON.stringify(frames).slice(0, 500)}`,
        ),
      );
    }, timeoutMs);
    req.on("error", (e) => {
      if (!req.destroyed) reject(e);
    });
    req.end();
  });
}

/** Poll `check` until it returns a value (not undefined), or fail after `timeoutMs`. */
export async function until<T>(
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
