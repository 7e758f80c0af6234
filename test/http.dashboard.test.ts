/**
 * The dashboard in a real headless Chromium (the Debian package, driven by playwright-core): it
 * loads with the token URL, shows a job enqueued by another process without a reload, filters,
 * opens a job, follows a live log with pause/resume, and retries a failed job.
 */
import { appendFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { chromium } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ensureAttemptDir, logPath } from "../src/supervisor/run-dir.js";
import { baton, envelope, ROOT } from "./helpers/cli.js";
import type { TestServer } from "./helpers/http.js";
import { callOp, startTestServer } from "./helpers/http.js";

const TOKEN = "dashboard-test-token-3c9e1f7a";
const IMAGES = join(ROOT, "docs", "images");
const WAIT = { timeout: 30_000 };

let browser: Browser;
let server: TestServer | undefined;
let page: Page | undefined;

beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-quic",
      "--no-first-run",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
});
afterAll(async () => {
  await browser?.close();
});
afterEach(async () => {
  await page?.close();
  page = undefined;
  await server?.close();
  server = undefined;
});

async function open(path = "/"): Promise<Page> {
  server = await startTestServer({ token: TOKEN });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: "dark" });
  page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${server.base}${path === "/" ? "/" : "/"}?token=${TOKEN}`);
  // The token was traded for a cookie and dropped from the address bar.
  expect(page.url()).not.toContain(TOKEN);
  if (path !== "/") await page.goto(`${server.base}/${path}`);
  await page.locator("#live.on").waitFor(WAIT);
  if (path.startsWith("#/jobs")) await page.locator("#filters").waitFor(WAIT);
  expect(errors).toEqual([]);
  return page;
}

function cli(args: string[]): any {
  const result = baton([...args, "--json"], { home: server!.home, env: { BATON_DIRECT: "1" } });
  expect(result.code, result.stderr).toBe(0);
  return envelope(result).data;
}

describe("dashboard in headless Chromium", () => {
  it("loads the overview with counts, titled after the project", async () => {
    const p = await open();
    await callOp(
      server!.base,
      "enqueue_task",
      { tasks: [{ payload: 1 }, { payload: 2 }] },
      {
        authorization: `Bearer ${TOKEN}`,
      },
    );
    await p.locator('[data-count="queued"] .n', { hasText: "2" }).waitFor(WAIT);
    expect(await p.title()).toMatch(/^baton · /);
    await p.screenshot({ path: join(IMAGES, "dashboard-overview.png") });
  });

  it("shows a job enqueued from the CLI live, follows it to succeeded, and filters by state", async () => {
    const p = await open("#/jobs");
    await p.locator("#no-jobs").waitFor(WAIT);
    const id = cli(["enqueue", "--workflow", "live", '{"file":"a.ts"}']).jobs[0].id as string;
    const row = p.locator(`tr[data-id="${id}"]`);
    await row.locator('[data-state="queued"]').waitFor(WAIT);
    cli(["complete", id, "--evidence", "done"]);
    await row.locator('[data-state="succeeded"]').waitFor(WAIT);

    const other = cli(["enqueue", '{"file":"b.ts"}']).jobs[0].id as string;
    await p.locator(`tr[data-id="${other}"]`).waitFor(WAIT);
    await p.locator("#filter-state").selectOption("succeeded");
    await p.waitForURL(/state=succeeded/, WAIT);
    await p.locator(`tr[data-id="${other}"]`).waitFor({ state: "detached", ...WAIT });
    await row.waitFor(WAIT);
    expect(await p.locator("#total").textContent()).toBe("1 job");

    await p.locator("#filter-state").selectOption("");
    await p.locator("#filter-q").fill("b.ts");
    await p.locator("#filter-q").press("Enter");
    await p.locator(`tr[data-id="${id}"]`).waitFor({ state: "detached", ...WAIT });
    await p.locator(`tr[data-id="${other}"]`).waitFor(WAIT);
    await p.screenshot({ path: join(IMAGES, "dashboard-jobs.png") });
  });

  it("opens a job and tails its log live, with pause and resume", async () => {
    const p = await open("#/jobs");
    const id = cli(["enqueue", "--type", "command", '{"command":"make"}']).jobs[0].id as string;
    const [claimed] = await server!.opened.engine.claim({ types: ["command"], owner: "test", limit: 1 });
    ensureAttemptDir(server!.home, id, claimed!.attempt);
    const file = logPath(server!.home, id, claimed!.attempt, "output");
    appendFileSync(file, "compiling 1/3\n");

    await p.locator(`tr[data-id="${id}"] a`).click();
    await p.locator("#log", { hasText: "compiling 1/3" }).waitFor(WAIT);
    await p.locator("#timeline li", { hasText: "claimed" }).first().waitFor(WAIT);
    const details = await p.locator("dl.fields").textContent();
    expect(details).toContain("command");
    expect(details).not.toContain("[object");
    appendFileSync(file, "compiling 2/3\n");
    await p.locator("#log", { hasText: "compiling 2/3" }).waitFor(WAIT);

    await p.locator("#log-pause").click();
    await p.locator("#log-status", { hasText: "paused" }).waitFor(WAIT);
    appendFileSync(file, "compiling 3/3\n");
    // Paused: two more poll periods pass and the new line stays hidden.
    await p.waitForTimeout(2500);
    expect(await p.locator("#log").textContent()).not.toContain("compiling 3/3");
    await p.locator("#log-pause").click();
    await p.locator("#log", { hasText: "compiling 3/3" }).waitFor(WAIT);
    await p.screenshot({ path: join(IMAGES, "dashboard-job.png") });
  });

  it("retries a failed job with a click, and the page follows its new state", async () => {
    const p = await open("#/jobs");
    const id = cli(["enqueue", "--max-attempts", "1", '{"step":"deploy"}']).jobs[0].id as string;
    cli(["fail", id, "exploded"]);
    await p.goto(`${server!.base}/#/jobs/${id}`);
    await p.locator("h1 [data-state='failed']").waitFor(WAIT);
    expect(await p.locator("#error").textContent()).toBe("exploded");
    await p.getByRole("button", { name: "Retry" }).click();
    await p.locator("h1 [data-state='queued']").waitFor(WAIT);
    await p.locator("#timeline li", { hasText: "retried" }).first().waitFor(WAIT);
  });
});
