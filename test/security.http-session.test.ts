/**
 * Issue 16, stranger findings 4 and 7.
 *
 * 4: the dashboard's cookie held the full token, and cookies are not port-isolated: a browser
 *    sends a 127.0.0.1 cookie to every port, so another local user's loopback server received the
 *    token itself. Now the cookie is a random session value held by the server that made it
 *    (D83): never the token, no good on another server, gone after `baton token rotate`.
 * 7: an event stream opened before `baton token rotate` stayed open. Now every connection the old
 *    tokens authorised is closed within about a second of the rotation (D84).
 *
 * Real servers on real sockets; the rotation is the real CLI on the same BATON_HOME.
 */
import type { IncomingMessage } from "node:http";
import { existsSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { chromium } from "playwright-core";
import { afterEach, describe, expect, it } from "vitest";
import { SESSION_HEADER, TOKEN_CHECK_MS } from "../src/http/server.js";
import { homeTokenSource, loadTokens } from "../src/http/tokens.js";
import { baton } from "./helpers/cli.js";
import type { TestServer } from "./helpers/http.js";
import { request, startTestServer } from "./helpers/http.js";
import { cliJson, newHome } from "./helpers/supervisor.js";
import { tempDir } from "./helpers/tmp.js";

const servers: TestServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function homeServer(home: string): Promise<TestServer> {
  const server = await startTestServer({ home, tokens: homeTokenSource(home) });
  servers.push(server);
  return server;
}

interface SignedIn {
  header: string;
  pair: string;
  value: string;
  /** The session's key, from the redirect's fragment (D109). */
  key: string;
  /** The headers the dashboard page sends with an API call: the cookie and the key. */
  page: Record<string, string>;
}

/** Open the page link with the token; answer the Set-Cookie header, the `name=value` pair and the key. */
async function signIn(base: string, token: string): Promise<SignedIn> {
  const answer = await request(`${base}/?token=${encodeURIComponent(token)}`);
  expect(answer.status).toBe(303);
  const header = String(answer.headers["set-cookie"]);
  const pair = header.split(";")[0]!;
  const key = /^\/#baton-session=([\w-]{43})$/.exec(String(answer.headers.location))?.[1];
  expect(key).toBeDefined();
  return {
    header,
    pair,
    value: pair.slice(pair.indexOf("=") + 1),
    key: key!,
    page: { cookie: pair, [SESSION_HEADER]: key! },
  };
}

function rotate(home: string): void {
  const result = baton(["token", "rotate", "--json"], { home });
  expect(result.code).toBe(0);
}

interface OpenStream {
  /** Resolves with the ms between `since()` and the stream's end. */
  closed: Promise<number>;
  since(): void;
}

/** Open an event stream and wait until it is connected. */
function openStream(url: string, headers: Record<string, string>): Promise<OpenStream> {
  return new Promise((resolve, reject) => {
    let mark = Date.now();
    let closedResolve: (ms: number) => void = () => undefined;
    const closed = new Promise<number>((r) => (closedResolve = r));
    const req = httpRequest(url, { headers }, (res: IncomingMessage) => {
      if (res.statusCode !== 200) {
        reject(new Error(`stream answered ${res.statusCode}`));
        res.resume();
        return;
      }
      let connected = false;
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        if (!connected && chunk.includes(": connected")) {
          connected = true;
          resolve({ closed, since: () => (mark = Date.now()) });
        }
      });
      const end = () => closedResolve(Date.now() - mark);
      res.on("end", end);
      res.on("close", end);
      res.on("error", end);
    });
    req.on("error", (error) => {
      closedResolve(Date.now() - mark);
      reject(error);
    });
    req.end();
  });
}

/** Headless Chromium with one page, and the page's script errors as they come. */
async function openBrowser() {
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
  });
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  return { browser, context, page, errors };
}

describe("D83 the dashboard cookie is a session of one server, never the token", () => {
  it("the cookie neither is nor contains the token, is HttpOnly and SameSite=Strict, and opens this server's dashboard and API", async () => {
    const home = tempDir("baton-session-");
    const server = await homeServer(home);
    const tokens = loadTokens(home);
    for (const token of [tokens.full, tokens.readOnly!]) {
      const cookie = await signIn(server.base, token);
      expect(cookie.header).toMatch(/HttpOnly/);
      expect(cookie.header).toMatch(/SameSite=Strict/);
      expect(cookie.pair.startsWith(`baton_session_${server.serving.port}=`)).toBe(true);
      expect(cookie.value.length).toBeGreaterThanOrEqual(40);
      for (const t of [tokens.full, tokens.readOnly!]) {
        expect(cookie.header).not.toContain(t);
        expect(decodeURIComponent(cookie.value)).not.toContain(t);
      }
      expect((await request(`${server.base}/`, { headers: { cookie: cookie.pair } })).status).toBe(200);
      expect((await request(`${server.base}/api/stats`, { headers: cookie.page })).status).toBe(200);
      // The session is not a token: it is no bearer, and it does not open MCP.
      expect(
        (await request(`${server.base}/api/stats`, { headers: { authorization: `Bearer ${cookie.value}` } }))
          .status,
      ).toBe(401);
      const mcp = await request(`${server.base}/api/stats`.replace("/api/stats", "/mcp"), {
        method: "POST",
        headers: {
          cookie: cookie.pair,
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
        },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} }),
      });
      expect(mcp.status).toBe(401);
    }
    // Each link gives a new session (a value seen once tells nothing about the next).
    expect((await signIn(server.base, tokens.full)).value).not.toBe(
      (await signIn(server.base, tokens.full)).value,
    );
  });

  it("a cookie from server A does not authorise server B, even with the same home's tokens", async () => {
    const home = tempDir("baton-session-");
    const a = await homeServer(home);
    const b = await homeServer(home);
    const { full } = loadTokens(home);
    const cookie = await signIn(a.base, full);
    expect((await request(`${a.base}/api/stats`, { headers: cookie.page })).status).toBe(200);
    // Replayed to B under A's name and under the name B gives its own cookie: refused.
    const own = await signIn(b.base, full);
    const bName = own.pair.slice(0, own.pair.indexOf("="));
    expect((await request(`${b.base}/api/stats`, { headers: own.page })).status).toBe(200);
    for (const pair of [cookie.pair, `${bName}=${cookie.value}`]) {
      const answer = await request(`${b.base}/api/stats`, {
        headers: { cookie: pair, [SESSION_HEADER]: cookie.key },
      });
      expect({ pair, status: answer.status }).toEqual({ pair, status: 401 });
    }
  });

  it("after `baton token rotate` the cookie stops working; a new link works", async () => {
    const home = tempDir("baton-session-");
    const server = await homeServer(home);
    const before = loadTokens(home);
    const full = await signIn(server.base, before.full);
    const viewer = await signIn(server.base, before.readOnly!);
    rotate(home);
    for (const cookie of [full, viewer]) {
      const stale = await request(`${server.base}/api/stats`, { headers: cookie.page });
      expect(stale.status).toBe(401);
      expect(stale.body.error.message).toMatch(/session has ended.*baton dashboard/);
      expect((await request(`${server.base}/`, { headers: { cookie: cookie.pair } })).status).toBe(401);
    }
    const after = loadTokens(home);
    const fresh = await signIn(server.base, after.full);
    expect((await request(`${server.base}/api/stats`, { headers: fresh.page })).status).toBe(200);
  });
});

describe("D84 a rotation closes what the old tokens opened", () => {
  it("event streams opened with the old bearer token or session cookie are closed within about a second", async () => {
    const home = tempDir("baton-rotate-");
    const server = await homeServer(home);
    const { full, readOnly } = loadTokens(home);
    const cookie = await signIn(server.base, full);
    const streams = await Promise.all([
      openStream(`${server.base}/api/stream`, { authorization: `Bearer ${full}` }),
      openStream(`${server.base}/api/stream`, { authorization: `Bearer ${readOnly!}` }),
      openStream(`${server.base}/api/stream`, { cookie: cookie.pair }),
    ]);
    for (const s of streams) s.since();
    rotate(home);
    const waited = await Promise.race([
      Promise.all(streams.map((s) => s.closed)),
      new Promise<"still open">((r) => setTimeout(() => r("still open"), 10_000)),
    ]);
    expect(waited).not.toBe("still open");
    // The rotation is noticed at the next look (every TOKEN_CHECK_MS), not at the stream's next event.
    for (const ms of waited as number[]) expect(ms).toBeLessThan(TOKEN_CHECK_MS * 3 + 2000);
    // A stream opened with the new token stays.
    const now = loadTokens(home);
    const kept = await openStream(`${server.base}/api/stream`, { authorization: `Bearer ${now.full}` });
    const stillOpen = await Promise.race([
      kept.closed.then(() => "closed"),
      new Promise<string>((r) => setTimeout(() => r("open"), TOKEN_CHECK_MS * 2 + 500)),
    ]);
    expect(stillOpen).toBe("open");
    expect(server.logs.some((l) => /tokens rotated: closed 3 connection/.test(l))).toBe(true);
  });

  it("the daemon's event stream is closed by `baton token rotate`", async () => {
    const home = newHome();
    const link = cliJson(home, ["dashboard", "--no-open"]) as { base: string };
    const token = cliJson(home, ["token", "show"]).token as string;
    const stream = await openStream(`${link.base}api/stream`, { authorization: `Bearer ${token}` });
    stream.since();
    cliJson(home, ["token", "rotate"]);
    const waited = await Promise.race([
      stream.closed,
      new Promise<"still open">((r) => setTimeout(() => r("still open"), 10_000)),
    ]);
    expect(waited).not.toBe("still open");
  });
});

describe("D109 the cookie alone changes nothing: operations want the page's session key", () => {
  it("a replayed cookie (red team: another port's page got it) cannot run_command; the key only comes with the token", async () => {
    const home = tempDir("baton-session-key-");
    const server = await homeServer(home);
    const { full } = loadTokens(home);
    const cookie = await signIn(server.base, full);
    const bearer = { authorization: `Bearer ${full}` };
    const canary = join(tempDir("baton-canary-"), "ran");
    const runArgs = JSON.stringify({ argv: ["sh", "-c", `id > '${canary}'`], cwd: "/tmp" });
    const json = { "content-type": "application/json" };
    // The attacker holds the cookie only: every operation, and the API's reads, are refused.
    for (const name of ["run_command", "enqueue_task", "pause"]) {
      const answer = await request(`${server.base}/api/ops/${name}`, {
        method: "POST",
        headers: { ...json, cookie: cookie.pair },
        body: name === "run_command" ? runArgs : "{}",
      });
      expect({ name, status: answer.status }).toEqual({ name, status: 403 });
      expect(answer.body.error.code).toBe("FORBIDDEN");
      expect(answer.body.error.message).toMatch(/x-baton-session.*baton dashboard/);
    }
    expect((await request(`${server.base}/api/stats`, { headers: { cookie: cookie.pair } })).status).toBe(
      403,
    );
    expect((await request(`${server.base}/api/jobs`, { headers: { cookie: cookie.pair } })).status).toBe(403);
    // A wrong key, another session's key, or the key without its cookie: refused as well.
    const other = await signIn(server.base, full);
    for (const headers of <Record<string, string>[]>[
      { cookie: cookie.pair, [SESSION_HEADER]: "x".repeat(43) },
      { cookie: cookie.pair, [SESSION_HEADER]: other.key },
      { [SESSION_HEADER]: cookie.key },
    ]) {
      const answer = await request(`${server.base}/api/ops/run_command`, {
        method: "POST",
        headers: { ...json, ...headers },
        body: runArgs,
      });
      expect([401, 403]).toContain(answer.status);
    }
    const jobs = await request(`${server.base}/api/jobs`, { headers: bearer });
    expect(jobs.body.data.total).toBe(0);
    expect(existsSync(canary)).toBe(false);
    // What a browser fetches without script still opens with the cookie alone, and never carries
    // the key (a stolen cookie must not fetch it).
    const page = await request(`${server.base}/`, { headers: { cookie: cookie.pair } });
    expect(page.status).toBe(200);
    expect(page.text).not.toContain(cookie.key);
    const script = await request(`${server.base}/lib.js`, { headers: { cookie: cookie.pair } });
    expect(script.status).toBe(200);
    expect(script.text).not.toContain(cookie.key);
    const download = await request(`${server.base}/api/jobs/job_missing/log/download`, {
      headers: { cookie: cookie.pair },
    });
    expect(download.body.error.code).toBe("JOB_NOT_FOUND"); // past the guard: the job does not exist
    const stream = await openStream(`${server.base}/api/stream`, { cookie: cookie.pair });
    expect(stream).toBeDefined();
    // The page's cookie and key together: the operations work.
    const enqueued = await request(`${server.base}/api/ops/enqueue_task`, {
      method: "POST",
      headers: { ...json, ...cookie.page },
      body: JSON.stringify({ payload: { file: "a.ts" } }),
    });
    expect(enqueued.status).toBe(200);
    expect((await request(`${server.base}/api/stats`, { headers: cookie.page })).status).toBe(200);
  });

  it("in Chromium: the dashboard keeps the key in localStorage; reload and a new tab work; the cookie replayed alone is refused", async () => {
    const home = tempDir("baton-session-browser-");
    const server = await homeServer(home);
    const { full } = loadTokens(home);
    const { browser, context, page, errors } = await openBrowser();
    try {
      await page.goto(`${server.base}/?token=${full}`);
      await page.locator("#live.on").waitFor({ timeout: 30_000 });
      // Neither the token nor the key stays in the address bar.
      expect(page.url()).toBe(`${server.base}/`);
      const key = await page.evaluate<string | null>('localStorage.getItem("baton-session")');
      expect(key).toMatch(/^[\w-]{43}$/);
      /** An operation the way the dashboard's buttons call it (lib.js's op()). */
      // A string, not a function: the test runner would rewrite a function's `import()`.
      const pauseFrom = (p: Page, name: string): Promise<string> =>
        p.evaluate(
          `import("/lib.js").then((lib) => lib.op(${JSON.stringify(name)}, {})).then(() => "ok", (e) => e.code)`,
        );
      expect(await pauseFrom(page, "pause")).toBe("ok");
      await page.reload();
      await page.locator("#live.on").waitFor({ timeout: 30_000 });
      expect(await pauseFrom(page, "unpause")).toBe("ok");
      const tab = await context.newPage();
      await tab.goto(`${server.base}/#/jobs`);
      await tab.locator("#live.on").waitFor({ timeout: 30_000 });
      expect(await pauseFrom(tab, "pause")).toBe("ok");
      // The same origin's fetch without the key (what the cookie alone gets): refused.
      const bare = await tab.evaluate(async () => {
        const res = await fetch("/api/ops/unpause", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: "{}",
        });
        return res.status;
      });
      expect(bare).toBe(403);
      // The browser's cookie, replayed by someone else (curl as another user): refused.
      const cookies = await context.cookies(server.base);
      const session = cookies.find((c) => c.name === `baton_session_${server.serving.port}`);
      expect(session).toBeDefined();
      const replay = await request(`${server.base}/api/ops/unpause`, {
        method: "POST",
        headers: { "content-type": "application/json", cookie: `${session!.name}=${session!.value}` },
        body: "{}",
      });
      expect(replay.status).toBe(403);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 120_000);
});

describe("a session its page stops renewing ends (stranger finding: a stolen cookie read the stream until rotation)", () => {
  const IDLE_MS = 3000;

  async function shortServer(home: string): Promise<TestServer> {
    const server = await startTestServer({ home, tokens: homeTokenSource(home), sessionIdleMs: IDLE_MS });
    servers.push(server);
    return server;
  }

  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it("the cookie alone (no key) is refused once the idle lifetime passed, and the stream it opened is closed", async () => {
    const home = tempDir("baton-idle-");
    const server = await shortServer(home);
    const signedIn = await signIn(server.base, loadTokens(home).full);
    const stolen = { cookie: signedIn.pair };
    const stream = await openStream(`${server.base}/api/stream`, stolen);
    stream.since();
    // Reading with the cookie alone does not keep the session alive.
    for (let i = 0; i < 3; i += 1) {
      await sleep(IDLE_MS / 4);
      const page = await request(`${server.base}/`, { headers: stolen });
      expect(page.status).toBe(200);
      expect(page.headers["set-cookie"]).toBeUndefined();
    }
    const closedAfter = await Promise.race([
      stream.closed,
      new Promise<"still open">((r) => setTimeout(() => r("still open"), IDLE_MS + 5000)),
    ]);
    expect(closedAfter).not.toBe("still open");
    expect(closedAfter as number).toBeLessThan(IDLE_MS + TOKEN_CHECK_MS * 3 + 1000);
    const refused = await request(`${server.base}/api/stream`, { headers: stolen });
    expect(refused.status).toBe(401);
    expect(refused.body.error.message).toContain("session has ended");
  });

  it("the page's keyed calls renew it: a renewed cookie outlives the first one, which a thief holding it loses", async () => {
    const home = tempDir("baton-renew-");
    const server = await shortServer(home);
    const signedIn = await signIn(server.base, loadTokens(home).full);
    let page = signedIn.page;
    const firstCookie = signedIn.pair;
    // The page calls with its key every so often, as the dashboard does; each renewal is a new cookie.
    const deadline = Date.now() + IDLE_MS * 2;
    let renewals = 0;
    while (Date.now() < deadline) {
      await sleep(IDLE_MS / 3);
      const answer = await request(`${server.base}/api/stats`, { headers: page });
      expect(answer.status).toBe(200);
      const renewed = answer.headers["set-cookie"];
      if (renewed !== undefined) {
        renewals += 1;
        expect(String(renewed)).toMatch(/HttpOnly; SameSite=Strict; Path=\//);
        page = { ...page, cookie: String(renewed).split(";")[0]! };
      }
    }
    expect(renewals).toBeGreaterThan(0);
    // Two idle lifetimes after sign-in the page still works; the cookie as first issued does not.
    expect((await request(`${server.base}/api/stats`, { headers: page })).status).toBe(200);
    expect(
      (await request(`${server.base}/api/stats`, { headers: { ...page, cookie: firstCookie } })).status,
    ).toBe(401);
    // The key is the session's, not the cookie's: it stays the same across renewals.
    expect(page[SESSION_HEADER]).toBe(signedIn.key);
  });

  it("in Chromium: an open dashboard renews its session by itself and keeps working past the idle lifetime", async () => {
    const home = tempDir("baton-renew-browser-");
    const server = await shortServer(home);
    const { browser, context, page, errors } = await openBrowser();
    try {
      await page.goto(`${server.base}/?token=${loadTokens(home).full}`);
      await page.locator("#live.on").waitFor({ timeout: 30_000 });
      const name = `baton_session_${server.serving.port}`;
      const first = (await context.cookies(server.base)).find((c) => c.name === name)!.value;
      // The page renews at the pace the server gives (/api/stats' sessionRenewMs: IDLE_MS / 8
      // here), with its key, whether or not anything happens on screen.
      let keyedCalls = 0;
      page.on("request", (r) => {
        if (r.url().endsWith("/api/stats") && r.headers()[SESSION_HEADER] !== undefined) keyedCalls += 1;
      });
      await sleep(IDLE_MS * 3);
      expect(keyedCalls).toBeGreaterThanOrEqual(12);
      // Still the page's session: its operations work and it never said the session ended.
      await page.locator("#live.on").waitFor({ timeout: 30_000 });
      expect(await page.locator("#session-ended").count()).toBe(0);
      const paused = await page.evaluate(
        `import("/lib.js").then((lib) => lib.op("pause", {})).then(() => "ok", (e) => e.code)`,
      );
      expect(paused).toBe("ok");
      const now = (await context.cookies(server.base)).find((c) => c.name === name)!.value;
      expect(now).not.toBe(first);
      // The cookie as the page first had it (what a thief would have kept) reads nothing now.
      expect(
        (await request(`${server.base}/api/stream`, { headers: { cookie: `${name}=${first}` } })).status,
      ).toBe(401);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 120_000);

  it("a cookie whose stamp was changed to look fresh is refused (the stamp is under the HMAC)", async () => {
    const home = tempDir("baton-stamp-");
    const server = await shortServer(home);
    const signedIn = await signIn(server.base, loadTokens(home).full);
    const [nonce, , mac] = signedIn.value.split(".");
    const forged = `${signedIn.pair.split("=")[0]}=${nonce}.${(Date.now() + 3_600_000).toString(36)}.${mac}`;
    expect((await request(`${server.base}/api/stream`, { headers: { cookie: forged } })).status).toBe(401);
  });
});
