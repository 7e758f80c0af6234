/**
 * The HTTP API's security rules over a real server: bind policy and token, DNS rebinding and
 * CSRF, malformed requests, and the token never echoed (the HTTP part of R-28).
 */
import { basename } from "node:path";
import { connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { openEngine } from "../src/open.js";
import { startHttpServer } from "../src/http/server.js";
import { tempDir } from "./helpers/tmp.js";
import type { Answer, TestServer } from "./helpers/http.js";
import { callOp, request, startTestServer } from "./helpers/http.js";

const TOKEN = "canary-token-7f3a9c1e5b2d4f60";

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** Send raw bytes and return the status code of the answer (0 when the server just closed). */
function raw(port: number, bytes: string | Buffer): Promise<number> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let text = "";
    socket.setEncoding("latin1");
    socket.on("data", (d: string) => (text += d));
    socket.on("error", () => undefined);
    socket.on("close", () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0)));
    socket.write(bytes);
    setTimeout(() => socket.end(), 200);
  });
}

describe("R-24 bind policy and token", () => {
  it("R-24 binds 127.0.0.1 by default", async () => {
    server = await startTestServer();
    expect(server.serving.host).toBe("127.0.0.1");
    expect(server.serving.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it("R-24 refuses a non-loopback bind without a token", async () => {
    const opened = await openEngine({ home: tempDir(), durability: "normal" });
    try {
      await expect(
        startHttpServer({
          context: { engine: opened.engine, cwd: "/", actor: "http", location: "" },
          project: "/",
          host: "0.0.0.0",
          port: 0,
        }),
      ).rejects.toMatchObject({ code: "USAGE" });
    } finally {
      await opened.store.close();
    }
  });

  it("R-24 with a token (also on a non-loopback bind) every route answers 401 without it", async () => {
    server = await startTestServer({ token: TOKEN, host: "0.0.0.0" });
    const base = `http://127.0.0.1:${server.serving.port}`;
    const routes: [string, string][] = [
      ["GET", "/"],
      ["GET", "/app.js"],
      ["GET", "/favicon.svg"],
      ["GET", "/api/ops"],
      ["POST", "/api/ops/health"],
      ["POST", "/api/ops/enqueue_task"],
      ["GET", "/api/jobs"],
      ["GET", "/api/jobs/x"],
      ["GET", "/api/jobs/x/log"],
      ["GET", "/api/events"],
      ["GET", "/api/stats"],
      ["GET", "/api/stream"],
      ["GET", "/no/such/route"],
    ];
    for (const [method, path] of routes) {
      const variants: Record<string, string>[] = [
        {},
        { authorization: "Bearer wrong-token-0000000000" },
        { cookie: "baton_session_1=x" },
      ];
      for (const headers of variants) {
        const answer = await request(`${base}${path}`, { method, headers });
        expect({ path, status: answer.status, code: answer.body?.error?.code }).toEqual({
          path,
          status: 401,
          code: "UNAUTHORIZED",
        });
      }
    }
    // The API does not take the token from the URL (it would land in histories and logs).
    expect((await request(`${base}/api/jobs?token=${TOKEN}`)).status).toBe(401);
    const ok = await request(`${base}/api/jobs`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(ok.status).toBe(200);
  });

  it("R-24 the dashboard URL's ?token= becomes an HttpOnly cookie, then the URL loses it", async () => {
    server = await startTestServer({ token: TOKEN });
    const first = await request(`${server.base}/?token=${TOKEN}`);
    expect(first.status).toBe(303);
    // The page without the token; the session's key only in the fragment, which the page keeps (D109).
    const key = /^\/#baton-session=([\w-]{43})$/.exec(String(first.headers.location))?.[1];
    expect(key).toBeDefined();
    const cookie = String(first.headers["set-cookie"]).split(";")[0]!;
    expect(String(first.headers["set-cookie"])).toMatch(/HttpOnly; SameSite=Strict/);
    const page = await request(`${server.base}/`, { headers: { cookie } });
    expect(page.status).toBe(200);
    const api = await request(`${server.base}/api/stats`, { headers: { cookie, "x-baton-session": key! } });
    expect(api.status).toBe(200);
    expect((await request(`${server.base}/api/stats`, { headers: { cookie } })).status).toBe(403);
    expect((await request(`${server.base}/?token=wrong-${TOKEN}`)).status).toBe(401);
  });
});

describe("pages without a valid token or session", () => {
  it("reveal nothing about the ledger: no project name in the 401 page (issue 20, tester L1)", async () => {
    server = await startTestServer({ token: TOKEN });
    const project = basename(server.home);
    const html = { accept: "text/html" };
    const cookie = { ...html, cookie: `baton_session_${new URL(server.base).port}=stale` };
    for (const [path, headers] of [
      ["/", html],
      ["/no-such-page", html],
      [`/?token=wrong-${TOKEN}`, html],
      ["/", cookie],
    ] as const) {
      const answer = await request(`${server.base}${path}`, { headers });
      expect(answer.status, path).toBe(401);
      expect(answer.headers["content-type"]).toMatch(/^text\/html/);
      expect(answer.text, path).not.toContain(project);
      expect(/<title>([^<]*)<\/title>/.exec(answer.text)?.[1], path).toMatch(/ · baton$/);
    }
  });
});

describe("R-25 DNS rebinding and CSRF", () => {
  it("R-25 a foreign Host gets 403; loopback names pass", async () => {
    server = await startTestServer();
    for (const host of [
      "evil.example",
      "evil.example:80",
      "127.0.0.1.evil.example",
      "a b",
      "user@127.0.0.1",
    ]) {
      const answer = await request(`${server.base}/api/stats`, { headers: { host } });
      expect({ host, status: answer.status }).toEqual({ host, status: 403 });
      expect(answer.body.error.code).toBe("FORBIDDEN");
    }
    for (const host of [`localhost:${server.serving.port}`, `127.0.0.1:${server.serving.port}`, "[::1]"]) {
      expect((await request(`${server.base}/api/stats`, { headers: { host } })).status).toBe(200);
    }
  });

  it("R-25 a mutating request with a foreign or null Origin gets 403, and nothing changes", async () => {
    server = await startTestServer();
    const own = `http://127.0.0.1:${server.serving.port}`;
    for (const origin of [
      "http://evil.example",
      "null",
      `http://localhost:1`,
      `https://127.0.0.1:${server.serving.port}`,
    ]) {
      const answer = await callOp(server.base, "enqueue_task", { payload: 1 }, { origin });
      expect({ origin, status: answer.status, code: answer.body.error.code }).toEqual({
        origin,
        status: 403,
        code: "FORBIDDEN",
      });
    }
    expect((await request(`${server.base}/api/jobs`)).body.data.total).toBe(0);
    const same = await callOp(server.base, "enqueue_task", { payload: 1 }, { origin: own });
    expect(same.status).toBe(200);
  });

  it("R-25 no response carries Access-Control-Allow-Origin, preflights included", async () => {
    server = await startTestServer();
    const answers: Answer[] = [
      await request(`${server.base}/api/ops/health`, {
        method: "OPTIONS",
        headers: { origin: "http://evil.example", "access-control-request-method": "POST" },
      }),
      await request(`${server.base}/api/ops/health`, { method: "OPTIONS" }),
      await callOp(server.base, "health", {}),
      await request(`${server.base}/`),
      await request(`${server.base}/api/jobs`, { headers: { origin: "http://evil.example" } }),
    ];
    for (const answer of answers) {
      expect(answer.headers["access-control-allow-origin"]).toBeUndefined();
      expect(answer.status).toBeLessThan(500);
    }
  });
});

describe("R-23 malformed requests", () => {
  it("R-23 500 malformed HTTP requests all get a 4xx, none a 5xx, and the server keeps answering", async () => {
    server = await startTestServer({ maxBodyBytes: 256 * 1024 });
    const base = server.base;
    const port = server.serving.port;
    let seed = 23;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const ops = [
      "enqueue_task",
      "complete_task",
      "list_tasks",
      "check_task",
      "health",
      "archive",
      "pause",
      "nope",
      "",
    ];
    const bodies = [
      "{",
      "[]",
      "null",
      "42",
      '"str"',
      '{"id":123}',
      '{"id":"' + "x".repeat(5000) + '"}',
      '{"tasks":"not-a-list"}',
      '{"limit":-1}',
      "\u0000\u0001",
      "{}".repeat(1000),
      '{"__proto__":{"polluted":1}}',
      JSON.stringify({ payload: "😀".repeat(10), bogus: true }),
      "[".repeat(5000),
      "x".repeat(300 * 1024),
    ];
    const paths = [
      "/api/jobs/%00",
      "/api/jobs/../../etc/passwd",
      "/api/jobs/%2e%2e%2f%2e%2e",
      "/api/jobs?limit=99999",
      "/api/jobs?state=",
      "/api/jobs?state=running,bogus",
      "/api/jobs?cursor=" + "z".repeat(100),
      "/api/events?after=abc",
      "/api/events?limit=1e9",
      "/api/stats?x=1",
      "/api/jobs/x/log?offset=-5",
      "/api/jobs/x/log?max=999999999",
      "/%ff%fe",
      "/api/",
      "/api/ops/",
      "//api//jobs",
      "/api/jobs/a/b/c/d",
    ];
    const statuses: number[] = [];
    for (let i = 0; i < 500; i++) {
      const kind = i % 5;
      let status: number;
      if (kind === 0 || kind === 1) {
        const answer = await request(`${base}/api/ops/${pick(ops)}`, {
          method: "POST",
          headers: {
            "content-type": pick(["application/json", "text/plain", "application/json; charset=utf-8"]),
          },
          body: pick(bodies),
        });
        status = answer.status;
      } else if (kind === 2) {
        status = (
          await request(`${base}${pick(paths)}`, { method: pick(["GET", "POST", "PUT", "DELETE", "PATCH"]) })
        ).status;
      } else if (kind === 3) {
        status = await raw(
          port,
          pick([
            "GARBAGE\r\n\r\n",
            "GET /api/jobs HTTP/9.9\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -1\r\n\r\n",
            "POST /api/ops/health HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            `GET /${"a".repeat(20_000)} HTTP/1.1\r\nHost: 127.0.0.1\r\nX: ${"b".repeat(20_000)}\r\n\r\n`,
            "\u0000\u0001\u0002\r\n\r\n",
          ]),
        );
        // A connection the server drops without answering counts as refused, not as a crash.
        if (status === 0) status = 400;
      } else {
        status = (
          await request(`${base}/api/ops/enqueue_task`, {
            method: "POST",
            headers: { "content-type": "application/json", "content-length": "99999999" },
            body: "{}",
          }).catch(() => ({ status: 413 }))
        ).status;
      }
      statuses.push(status);
    }
    const bad = statuses.filter((s) => s < 400 || s >= 500);
    expect(bad, `non-4xx answers: ${bad.join(",")}`).toEqual([]);
    expect(statuses).toHaveLength(500);
    expect((await callOp(base, "health", {})).status).toBe(200);
    expect(server.logs.filter((l) => /INTERNAL|Error/.test(l))).toEqual([]);
  });
});

describe("R-28 (HTTP part) the token is never echoed", () => {
  it("R-28 the dashboard token appears in no response body, header or server log line", async () => {
    server = await startTestServer({ token: TOKEN });
    const auth = { authorization: `Bearer ${TOKEN}` };
    const answers = [
      await request(`${server.base}/`, { headers: auth }),
      await request(`${server.base}/app.js`, { headers: auth }),
      await request(`${server.base}/api/stats`, { headers: auth }),
      await request(`${server.base}/api/ops`, { headers: auth }),
      await callOp(server.base, "health", {}, auth),
      await callOp(server.base, "enqueue_task", { payload: 1, bogus: TOKEN }, auth),
      await request(`${server.base}/api/jobs/${TOKEN}`, { headers: auth }),
      await request(`${server.base}/api/stats`, { headers: { authorization: `Bearer ${TOKEN}x` } }),
    ];
    for (const answer of answers) {
      expect(answer.text.includes(TOKEN) && !answer.text.includes(`${TOKEN}'`)).toBe(false);
      expect(JSON.stringify(answer.headers)).not.toContain(TOKEN);
    }
    expect(server.logs.join("\n")).not.toContain(TOKEN);
  });
});
