/**
 * The HTTP server every surface shares (daemon, `baton serve`, `baton mcp --http`) against slow and
 * idle clients and wrong methods and content types: a client that trickles its body without the
 * token gets its 401 and is disconnected within seconds (it used to stay connected 70 s); 405
 * names the allowed methods; a body that is not JSON is 415.
 */
import { connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { LINGER_MS } from "../src/http/server.js";
import type { TestServer } from "./helpers/http.js";
import { callOp, request, startTestServer } from "./helpers/http.js";

const TOKEN = "limits-token-0123456789abcdef";
let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe("HTTP limits", () => {
  it("a client trickling its body without the token gets 401 and is disconnected promptly", async () => {
    server = await startTestServer({ token: TOKEN });
    const port = server.serving.port;
    const started = Date.now();
    const outcome = await new Promise<{ text: string; closedAfterMs: number }>((resolve) => {
      const socket = connect(port, "127.0.0.1");
      let text = "";
      socket.setEncoding("latin1");
      socket.on("data", (d: string) => (text += d));
      socket.on("error", () => undefined);
      const trickle = setInterval(() => {
        if (!socket.destroyed) socket.write("x");
      }, 100);
      socket.on("close", () => {
        clearInterval(trickle);
        resolve({ text, closedAfterMs: Date.now() - started });
      });
      socket.write(
        `POST /api/ops/pause HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n{`,
      );
    });
    expect(outcome.text).toMatch(/^HTTP\/1\.1 401/);
    expect(outcome.text.toLowerCase()).toContain('www-authenticate: bearer realm="baton"');
    expect(outcome.closedAfterMs).toBeLessThan(LINGER_MS * 2 + 2000);
    // Nothing was paused.
    expect(await server.opened.engine.pauses()).toEqual([]);
  });

  it("a well-behaved client without the token reads its 401 (no reset), and the connection closes", async () => {
    server = await startTestServer({ token: TOKEN });
    const answer = await callOp(server.base, "pause", {});
    expect(answer.status).toBe(401);
    expect(answer.headers["www-authenticate"]).toBe('Bearer realm="baton"');
    expect(answer.headers.connection).toBe("close");
  });

  it("405 carries Allow; a body that is not JSON is 415 UNSUPPORTED_MEDIA_TYPE", async () => {
    server = await startTestServer({ token: TOKEN });
    const auth = { authorization: `Bearer ${TOKEN}` };
    const get = await request(`${server.base}/api/ops/pause`, { headers: auth });
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe("POST");
    const del = await request(`${server.base}/api/jobs`, { method: "DELETE", headers: auth });
    expect(del.status).toBe(405);
    expect(del.headers.allow).toBe("GET, HEAD");
    const form = await request(`${server.base}/api/ops/pause`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/x-www-form-urlencoded" },
      body: "a=1",
    });
    expect(form.status).toBe(415);
    expect(form.body.error.code).toBe("UNSUPPORTED_MEDIA_TYPE");
    expect(await server.opened.engine.pauses()).toEqual([]);
  });

  it("bounds slow headers, whole requests and connections", async () => {
    server = await startTestServer({ token: TOKEN, maxConnections: 3 });
    const port = server.serving.port;
    // A fourth connection is closed at once while three are held open.
    const held = [0, 1, 2].map(() => connect(port, "127.0.0.1"));
    await Promise.all(held.map((s) => new Promise((r) => s.once("connect", r))));
    const fourth = await new Promise<string>((resolve) => {
      const s = connect(port, "127.0.0.1");
      let text = "";
      s.on("data", (d) => (text += d.toString()));
      s.on("error", () => resolve("error"));
      s.on("close", () => resolve(text === "" ? "closed" : text));
      s.write(`GET /api/jobs HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
      setTimeout(() => resolve("still open"), 3000);
    });
    expect(["closed", "error"]).toContain(fourth);
    for (const s of held) s.destroy();
  });
});
