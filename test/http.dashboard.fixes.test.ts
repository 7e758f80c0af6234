/**
 * Dashboard defects found by a demanding user (issue dash3), each a test that failed before its
 * fix, in one headless Chromium and one server for the file.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestServer } from "./helpers/http.js";
import { request, startTestServer } from "./helpers/http.js";
import { writeRunOutput } from "./helpers/run-output.js";

const TOKEN = "dashboard-fixes-token-7c1e9a03";
const AUTH = { authorization: `Bearer ${TOKEN}` };
const WAIT = { timeout: 30_000 };

let browser: Browser;
let server: TestServer;
let home: string;
let page: Page;
const errors: string[] = [];

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), "baton-fixes-"));
  mkdirSync(join(home, ".git"));
  server = await startTestServer({ token: TOKEN, home });
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
  });
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  page = await context.newPage();
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${server.base}/?token=${TOKEN}`);
  await page.locator("#live.on").waitFor(WAIT);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  rmSync(home, { recursive: true, force: true });
});

/** A finished command job whose only attempt wrote `log`. */
async function commandWithLog(log: string): Promise<string> {
  const engine = server.opened.engine;
  const id = (
    await engine.enqueue({ type: "command", name: "big", maxAttempts: 1, payload: { argv: ["x"] } })
  )[0]!.job.id;
  const [claimed] = await engine.claim({ types: ["command"], owner: "test", limit: 1 });
  writeRunOutput(server.home, id, 1, log);
  await engine.complete(id, { token: claimed!.token });
  return id;
}

describe("dashboard: what it shows is the whole story", () => {
  it("a 5 MB log: Download streams every byte; the page says how much is not shown and loads earlier", async () => {
    // Numbered lines, so a byte missing anywhere shows.
    const lines: string[] = [];
    for (let i = 0; lines.length === 0 || lines.join("").length < 5 * 1024 * 1024; i++) {
      const batch = Array.from(
        { length: 1000 },
        (_, k) => `line ${String(i * 1000 + k).padStart(8, "0")} ${"x".repeat(40)}\n`,
      );
      lines.push(batch.join(""));
    }
    const log = lines.join("");
    const id = await commandWithLog(log);

    const got = await request(`${server.base}/api/jobs/${id}/log/download`, { headers: AUTH });
    expect(got.status).toBe(200);
    expect(got.headers["content-disposition"]).toBe(`attachment; filename="${id}-output.log"`);
    expect(got.text.length).toBe(log.length);
    expect(got.text === log).toBe(true);
    // An attempt the job does not have is NOT_FOUND, for the log and its download alike.
    for (const route of ["log", "log/download"]) {
      const missing = await request(`${server.base}/api/jobs/${id}/${route}?attempt=99`, { headers: AUTH });
      expect(missing.status).toBe(404);
      expect(missing.body.error.details).toEqual({ id, attempt: 99 });
    }
    // Token-authenticated like the rest of the API.
    expect((await request(`${server.base}/api/jobs/${id}/log/download`)).status).toBe(401);

    await page.goto(`${server.base}/#/jobs/${id}`);
    const note = page.locator("#log-hidden");
    await note.waitFor(WAIT);
    // The first window is the last 64 KiB from its first line start.
    const hidden = log.indexOf("\n", log.length - 64 * 1024 - 1) + 1;
    expect(hidden).toBeGreaterThan(log.length - 64 * 1024);
    expect(await note.textContent()).toContain(`${hidden.toLocaleString("en-US")} earlier bytes not shown`);
    await page.getByRole("button", { name: "Load earlier" }).click();
    await note
      .filter({ hasText: `${(hidden - 256 * 1024).toLocaleString("en-US")} earlier bytes` })
      .waitFor(WAIT);
    // The page's Download is the server's whole file, not the text on screen.
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("link", { name: "Download" }).click(),
    ]);
    const saved = await download.path();
    const { statSync } = await import("node:fs");
    expect(statSync(saved).size).toBe(log.length);
    expect(errors).toEqual([]);
  }, 120_000);

  it("the paused banner lists every pause, each with its own Resume, and never says null", async () => {
    const engine = server.opened.engine;
    await engine.pause("all", "*", "test");
    await engine.pause("type", "deploy", "test");
    await engine.pause("workflow", "release:v2", "test");
    await page.goto(`${server.base}/#/`);
    const banner = page.locator("#banner-paused");
    await banner.locator("li").nth(2).waitFor(WAIT);
    const text = await banner.innerText();
    expect(text).not.toMatch(/\bnull\b/);
    expect(text).toContain("The queue is paused");
    for (const name of ["Resume the whole queue", "Resume type deploy", "Resume workflow release:v2"])
      expect(await banner.getByRole("button", { name }).count()).toBe(1);
    await banner.getByRole("button", { name: "Resume workflow release:v2" }).click();
    await banner.locator("li").nth(1).waitFor(WAIT);
    await expect.poll(async () => banner.locator("li").count(), WAIT).toBe(2);
    expect((await engine.pauses()).map((p) => `${p.scope}:${p.target}`).sort()).toEqual([
      "all:*",
      "type:deploy",
    ]);
    await banner.getByRole("button", { name: "Resume the whole queue" }).click();
    await expect.poll(async () => banner.locator("li").count(), WAIT).toBe(1);
    expect(await banner.innerText()).not.toMatch(/\bnull\b/);
    await banner.getByRole("button", { name: "Resume type deploy" }).click();
    await banner.waitFor({ state: "hidden", ...WAIT });
    expect(await engine.pauses()).toEqual([]);
    expect(errors).toEqual([]);
  });

  it("the jobs list's 'total' and the job page's durations are the same defined measures (issue 20)", async () => {
    // Waits over a second in the queue, then runs for a few ms: the list said "took 1.2 s" and the
    // job page "ran 14 ms" for the same job, with nothing to tell the two apart.
    const engine = server.opened.engine;
    const id = (
      await engine.enqueue({ type: "command", name: "quick", maxAttempts: 1, payload: { argv: ["x"] } })
    )[0]!.job.id;
    await new Promise((r) => setTimeout(r, 1200));
    const [claimed] = await engine.claim({ types: ["command"], owner: "test", limit: 1 });
    expect(claimed?.job.id).toBe(id);
    await engine.complete(id, { token: claimed!.token });

    await page.goto(`${server.base}/#/jobs`);
    const row = page.locator(`tr[data-id="${id}"]`);
    await row.waitFor(WAIT);
    const headers = await page.locator("#jobs thead th").allInnerTexts();
    expect(headers).toContain("total");
    expect(headers).not.toContain("took");
    const listTotal = (await row.locator("td.total").innerText()).trim();
    expect(listTotal).toMatch(/^1\.\d s$/);

    await page.goto(`${server.base}/#/jobs/${id}`);
    await page.locator("#fields").waitFor(WAIT);
    const fields = await page.locator("#fields").evaluate((dl) => {
      const out: Record<string, string> = {};
      for (const dt of dl.querySelectorAll("dt"))
        out[dt.textContent ?? ""] = dt.nextElementSibling?.textContent ?? "";
      return out;
    });
    // The same number as the list, saying what it measures; the time inside attempts apart.
    expect(fields.total).toBe(`${listTotal}, enqueued to finished`);
    expect(fields.waited).toMatch(/^1\.\d s before attempt 1 started$/);
    expect(fields.ran).toMatch(/^\d+ ms in 1 attempt$/);
    const attemptRan = await page.locator('#attempts tr[data-attempt="1"] td').nth(3).innerText();
    expect(fields.ran).toBe(`${attemptRan} in 1 attempt`);
    expect(await page.locator("#attempts thead th").allInnerTexts()).toContain("ran");
    expect(await page.locator("main").innerText()).not.toMatch(/\btook\b/);
    expect(errors).toEqual([]);
  });
});
