/**
 * Issue 20, stranger finding 1: an open dashboard tab after `baton daemon restart` showed stale
 * data, "Something went wrong UNAUTHORIZED" and "reconnecting…" for good (the session lived in the
 * old daemon's memory), and after `baton token rotate` a reload showed raw JSON. Now (D116) a
 * session survives a restart with the same token, so the page comes back by itself; a rotation
 * ends it, and the page, a reload and the old link all say so in words, with `baton dashboard`.
 *
 * The real daemon serving the dashboard (`baton dashboard`), the real CLI, headless Chromium.
 */
import type { Browser, Page } from "playwright-core";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { axe } from "./helpers/axe.js";
import { request } from "./helpers/http.js";
import { cliJson, daemonPid, newHome } from "./helpers/supervisor.js";

const WAIT = { timeout: 30_000 };

let browser: Browser;
beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
  });
}, 60_000);
afterAll(async () => {
  await browser?.close();
});

interface Link {
  url: string;
  base: string;
  port: number;
}

/** Open the link `baton dashboard` printed, at `route`, and wait until the stream is live. */
async function openLink(link: Link, errors: string[]): Promise<Page> {
  const page = await (await browser.newContext({ viewport: { width: 1440, height: 900 } })).newPage();
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(link.url);
  await page.locator("#live.on").waitFor(WAIT);
  return page;
}

/** axe-core's violations in both themes (the dashboard follows the system's). */
async function axeBothThemes(page: Page): Promise<string[]> {
  const found: string[] = [];
  for (const colorScheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme });
    found.push(...(await axe(page)).map((v) => `${colorScheme}: ${v}`));
  }
  return found;
}

/** Record every text the live indicator shows from now on (to see that the stream really broke). */
async function watchLive(page: Page): Promise<void> {
  // A string, not a function: the test runner would rewrite a function's body.
  await page.evaluate(`(() => {
    const live = document.getElementById("live");
    window.liveSeen = [];
    new MutationObserver(() => window.liveSeen.push(live.textContent)).observe(live, {
      childList: true, characterData: true, subtree: true,
    });
  })()`);
}

describe("an open dashboard across a daemon restart and a token rotation (D116)", () => {
  it("after `baton daemon restart` the page comes back by itself: live again, no banner, data made after the restart", async () => {
    const home = newHome();
    const link = cliJson(home, ["dashboard", "--no-open"]) as Link;
    const errors: string[] = [];
    const page = await openLink(link, errors);
    await page.evaluate(`location.hash = "#/jobs"`);
    await page.locator('main[data-loaded="#/jobs"]').waitFor(WAIT);
    await watchLive(page);

    const before = daemonPid(home);
    cliJson(home, ["daemon", "restart"]);
    expect(daemonPid(home)).not.toBe(before);
    const job = cliJson(home, ["run", "--wait", "--", "true"]) as { id: string };
    expect(typeof job.id).toBe("string");

    // The new job (made by the new daemon) shows up without a reload.
    await page.locator("#results").getByText(job.id.slice(-6)).first().waitFor(WAIT);
    await page.locator("#live.on").waitFor(WAIT);
    const seen = await page.evaluate<string[]>("window.liveSeen");
    expect(seen).toContain("reconnecting…");
    expect(seen.at(-1)).toBe("live");
    expect(await page.locator("#banner-down").isHidden()).toBe(true);
    const text = await page.locator("main").innerText();
    expect(text).not.toMatch(/Something went wrong|UNAUTHORIZED|Not connected/);
    // The page's own API calls work (the session and its key are good on the new daemon).
    expect(
      await page.evaluate(
        `import("/lib.js").then((lib) => lib.api("/api/stats")).then(() => "ok", (e) => e.code)`,
      ),
    ).toBe("ok");
    // And so does a reload.
    await page.reload();
    await page.locator("#live.on").waitFor(WAIT);
    expect(errors).toEqual([]);
  }, 180_000);

  it("after `baton token rotate` the page says the session ended and how to get a link; reload and the old link are pages, not JSON", async () => {
    const home = newHome();
    const link = cliJson(home, ["dashboard", "--no-open"]) as Link;
    const errors: string[] = [];
    const page = await openLink(link, errors);
    await page.locator('main[data-loaded="#/"]').waitFor(WAIT);
    const cookie = (await page.context().cookies(link.base)).find(
      (c) => c.name === `baton_session_${link.port}`,
    );
    expect(cookie).toBeDefined();

    cliJson(home, ["token", "rotate"]);
    // The server cuts the stream within about a second; the page finds its session ended.
    await page.locator("#session-ended").waitFor(WAIT);
    const ended = await page.locator("main").innerText();
    expect(ended).toContain("Dashboard session ended");
    expect(ended).toContain("baton dashboard");
    expect(ended).not.toMatch(/Something went wrong|UNAUTHORIZED/);
    expect(await page.locator("#live").innerText()).toBe("session ended");
    expect(await page.locator("#banner-down").isHidden()).toBe(true);
    expect(await axeBothThemes(page)).toEqual([]);

    // A reload is a browser navigation: an HTML page saying the same, with the 401 status.
    const reload = await page.reload();
    expect(reload?.status()).toBe(401);
    expect(reload?.headers()["content-type"]).toMatch(/^text\/html/);
    expect(await page.locator("h1").innerText()).toBe("Dashboard session ended");
    const body = await page.locator("body").innerText();
    expect(body).toContain("baton dashboard");
    expect(body.trim().startsWith("{")).toBe(false);
    expect(await page.title()).toBe("Dashboard session ended · baton"); // no project: not signed in
    expect(await axeBothThemes(page)).toEqual([]);

    // The old link (its token was rotated away): a page saying the link no longer works.
    const old = await page.goto(link.url);
    expect(old?.status()).toBe(401);
    expect(await page.locator("h1").innerText()).toBe("This link no longer works");
    expect(await page.locator("body").innerText()).toContain("baton dashboard");

    // API clients keep the JSON error (decided by Accept), with WWW-Authenticate.
    for (const accept of [undefined, "application/json"]) {
      const api = await request(`${link.base}api/stats`, {
        headers: { cookie: `${cookie!.name}=${cookie!.value}`, ...(accept ? { accept } : {}) },
      });
      expect(api.status).toBe(401);
      expect(api.headers["content-type"]).toMatch(/^application\/json/);
      expect(api.headers["www-authenticate"]).toBe('Bearer realm="baton"');
      expect(api.body.error.code).toBe("UNAUTHORIZED");
      expect(api.body.error.message).toMatch(/session has ended.*baton dashboard/);
    }

    // The new link works in the same browser.
    const fresh = cliJson(home, ["dashboard", "--no-open"]) as Link;
    expect(fresh.url).not.toBe(link.url);
    await page.goto(fresh.url);
    await page.locator("#live.on").waitFor(WAIT);
    expect(errors).toEqual([]);
  }, 180_000);
});
