/**
 * Every dashboard page in a real headless Chromium, at 1440×900 and 390×844, in light and dark:
 * axe-core finds 0 violations, the page never scrolls sideways, and the page shows no literal
 * "null"/"undefined". One browser and one server for the file; one page per theme and width,
 * reused. The README's screenshots (docs/images) are written here by `npm run screenshots` (a plain
 * test run writes them to a temp folder).
 *
 * Also the defects of issue 20, each a test that failed before its fix: bulk Cancel stopped after
 * the first job, "null" under Details and on an unknown workflow (with an active Archive button),
 * "last hour" counted state changes instead of jobs, and a daemon that stopped answering left
 * "Daemon: running" on screen and "undefined: Failed to fetch" on the jobs page.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { shortId as shortIdOf } from "../src/core/ids.js";
import { HostRegistration } from "../src/supervisor/hosts.js";
import { axe } from "./helpers/axe.js";
import type { TestServer } from "./helpers/http.js";
import { callOp, startTestServer } from "./helpers/http.js";
import { writeRunOutput } from "./helpers/run-output.js";
import { SCREENSHOTS } from "./helpers/screenshots.js";
import { stopDaemonsIn } from "./helpers/tmp.js";

const TOKEN = "dashboard-pages-token-5d2b8e41";
const AUTH = { authorization: `Bearer ${TOKEN}` };
const WAIT = { timeout: 30_000 };

type Theme = "light" | "dark";
const SIZES = { desktop: { width: 1440, height: 900 }, mobile: { width: 390, height: 844 } } as const;
type Size = keyof typeof SIZES;

let browser: Browser;
let server: TestServer;
let home: string;
const pages = new Map<string, { context: BrowserContext; page: Page; errors: string[]; dialogs: string[] }>();

/** The page for a theme and width, signed in once (the token is traded for a cookie). */
async function pageFor(
  theme: Theme,
  size: Size,
): Promise<{ page: Page; errors: string[]; dialogs: string[] }> {
  const key = `${theme}/${size}`;
  let entry = pages.get(key);
  if (entry === undefined) {
    const context = await browser.newContext({ viewport: SIZES[size], colorScheme: theme });
    const page = await context.newPage();
    const errors: string[] = [];
    const dialogs: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("dialog", (dialog) => {
      dialogs.push(dialog.message());
      void dialog.accept();
    });
    await page.goto(`${server.base}/?token=${TOKEN}`);
    expect(page.url()).not.toContain(TOKEN);
    await page.locator("#live.on").waitFor(WAIT);
    entry = { context, page, errors, dialogs };
    pages.set(key, entry);
  }
  return entry;
}

/**
 * Open a route and wait until its data is on screen: <main> says which route it finished rendering
 * (data-loaded, after every request of the view answered), then `ready` shows.
 */
async function go(page: Page, hash: string, ready: string): Promise<void> {
  // The same address again is no navigation at all (a fragment does not reload): reload it, or
  // the page from before would pass for the fresh one.
  if (page.url() === `${server.base}/${hash}`) await page.reload();
  else await page.goto(`${server.base}/${hash}`);
  await page
    .locator(`main[data-loaded="${hash}"]:not([aria-busy])`)
    .waitFor(WAIT)
    .catch(async (error: Error) => {
      const loaded = await page.locator("main").getAttribute("data-loaded");
      throw new Error(
        `${hash}: the page did not finish loading (data-loaded=${loaded}): ${error.message.split("\n")[0]}`,
      );
    });
  await page
    .locator(ready)
    .first()
    .waitFor(WAIT)
    .catch(async (error: Error) => {
      const shown = await page.locator("main").innerText();
      throw new Error(
        `${hash}: ${ready} did not show (${error.message.split("\n")[0]}); the page says: ${shown.slice(0, 600)}`,
      );
    });
}

const ids: Record<string, string> = {};

beforeAll(async () => {
  // Not tempDir(): that one is removed after each test, and this server serves the whole file.
  home = mkdtempSync(join(tmpdir(), "baton-pages-"));
  // The project root (findProject stops at a .git), so a stray .git above /tmp cannot move it.
  mkdirSync(join(home, ".git"));
  writeFileSync(
    join(home, "baton.yaml"),
    [
      "tasks:",
      "  nightly:",
      "    description: Clean the caches every night",
      "    command: [sh, -c, 'echo cleaning']",
      '    schedule: "0 3 * * *"',
      "  greet:",
      "    description: Say hello",
      '    command: [sh, -c, "echo hello"]',
      '    dry_run_command: [sh, -c, "echo would say hello"]',
      "    lock: true",
      "",
    ].join("\n"),
  );
  server = await startTestServer({ token: TOKEN, home });
  // Listing registers nothing since D108: the schedule is switched on as a user would.
  expect((await callOp(server.base, "enable_schedule", { task: "nightly" }, AUTH)).body.ok).toBe(true);
  const engine = server.opened.engine;
  const enqueue = async (spec: Record<string, unknown>) => (await engine.enqueue(spec))[0]!.job.id;

  // A workflow of three steps, the first done.
  const release = await callOp(
    server.base,
    "enqueue_task",
    {
      workflow: "release",
      tasks: ["build", "test", "publish"].map((name) => ({ name, payload: { step: name } })),
    },
    AUTH,
  );
  const steps = (release.body.data.jobs as { id: string }[]).map((j) => j.id);
  await engine.complete(steps[0]!, { evidence: "built" });
  // A job that waits for another.
  ids.first = await enqueue({ type: "lint", name: "lint a.ts", payload: { file: "a.ts" } });
  ids.waiting = await enqueue({ type: "lint", name: "lint b.ts", dependsOn: [ids.first], payload: {} });
  // A failed job.
  ids.failed = await enqueue({
    type: "deploy",
    name: "deploy web",
    maxAttempts: 1,
    payload: { env: "prod" },
  });
  await engine.fail(ids.failed, { error: "connection refused" });
  // A command with two attempts, each with its own log.
  ids.command = await enqueue({ type: "command", name: "make", maxAttempts: 1, payload: { argv: ["make"] } });
  for (const [n, line] of [
    [1, "first attempt output"],
    [2, "second attempt output"],
  ] as const) {
    const [claimed] = await engine.claim({ types: ["command"], owner: "test", limit: 1 });
    expect(claimed!.attempt).toBe(n);
    writeRunOutput(server.home, ids.command, n, `${line}\n`);
    await engine.fail(ids.command, { token: claimed!.token, error: `exit 2 (attempt ${n})`, exitCode: 2 });
    if (n === 1) await engine.retry(ids.command);
  }
  // An agent job with its answer.
  ids.agent = await enqueue({
    type: "agent:fake",
    payload: {
      argv: ["fake-agent"],
      cwd: home,
      agent: "fake",
      instructions: "Review the dashboard pages",
      meta: { pr: "42" },
    },
  });
  await engine.complete(ids.agent, { result: { summary: "All pages reviewed: two fixes." } });
  // A task run.
  ids.taskRun = await enqueue({ type: "task:greet", payload: { argv: ["sh", "-c", "echo hello"] } });
  await engine.complete(ids.taskRun, {});

  // A daemon heartbeating on the ledger, so the overview's Hosts section has its table (an hour's
  // registration: no daemon runs in this file).
  await new HostRegistration(
    server.opened.store,
    {
      host: "build-1",
      home: "h0",
      pid: 4242,
      owner: "test",
      started: new Date().toISOString(),
      pools: ["gpu"],
    },
    3_600_000,
  ).heartbeat(0);

  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
  });
}, 120_000);

afterAll(async () => {
  for (const { context } of pages.values()) await context.close();
  await browser?.close();
  await server?.close();
  stopDaemonsIn(home); // Run now on the Tasks page starts one
  rmSync(home, { recursive: true, force: true });
});

/** Every page: its address, what shows it is ready, and its screenshot's name. */
const PAGES: { name: string; hash: () => string; ready: string; image?: string }[] = [
  {
    name: "overview",
    hash: () => "#/",
    ready: '#hosts tr[data-host="build-1"]',
    image: "dashboard-overview",
  },
  { name: "jobs", hash: () => "#/jobs", ready: "#jobs tbody tr", image: "dashboard-jobs" },
  {
    name: "job (command)",
    hash: () => `#/jobs/${ids.command}`,
    ready: "#log-status",
    image: "dashboard-job",
  },
  { name: "job (waiting)", hash: () => `#/jobs/${ids.waiting}`, ready: "#why-waiting" },
  {
    name: "job (agent)",
    hash: () => `#/jobs/${ids.agent}`,
    ready: "#agent-panel",
    image: "dashboard-agent-job",
  },
  {
    name: "workflows",
    hash: () => "#/workflows",
    ready: "#workflows tbody tr",
    image: "dashboard-workflows",
  },
  {
    name: "workflow",
    hash: () => "#/workflow?name=release",
    ready: "#steps tbody tr",
    image: "dashboard-workflow",
  },
  { name: "unknown workflow", hash: () => "#/workflow?name=nope", ready: "#no-such-workflow" },
  {
    name: "tasks",
    hash: () => "#/tasks",
    ready: '[data-task="nightly"] .next-fire time',
    image: "dashboard-tasks",
  },
  { name: "agents", hash: () => "#/agents", ready: "#agent-jobs tbody tr", image: "dashboard-agents" },
];

describe("dashboard pages: both widths, both themes, axe-core", () => {
  for (const theme of ["light", "dark"] as const) {
    for (const size of ["desktop", "mobile"] as const) {
      it(`${theme} ${size}: 0 axe violations, no sideways scroll, no literal null on every page`, async () => {
        const { page, errors } = await pageFor(theme, size);
        const problems: string[] = [];
        for (const p of PAGES) {
          await go(page, p.hash(), p.ready);
          for (const v of await axe(page)) problems.push(`${p.name}: ${v}`);
          const width = await page.evaluate(
            () =>
              (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document
                .documentElement.scrollWidth,
          );
          if (width > SIZES[size].width) problems.push(`${p.name}: the page is ${width}px wide`);
          const text = (await page.locator("main").innerText()).split(/\s+/);
          for (const word of ["null", "undefined", "NaN", "[object"]) {
            if (text.some((w) => w.startsWith(word))) problems.push(`${p.name}: shows "${word}"`);
          }
          if (p.image !== undefined && theme === "dark" && size === "desktop")
            await page.screenshot({ path: join(SCREENSHOTS, `${p.image}.png`) });
          if (p.image !== undefined && theme === "light" && size === "desktop" && p.name === "overview")
            await page.screenshot({ path: join(SCREENSHOTS, "dashboard-overview-light.png") });
          if (size === "mobile" && theme === "dark" && (p.name === "jobs" || p.name === "job (command)"))
            await page.screenshot({ path: join(SCREENSHOTS, `${p.image}-mobile.png`), fullPage: false });
        }
        expect(problems).toEqual([]);
        expect(errors).toEqual([]);
      }, 180_000);
    }
  }
});

describe("dashboard defects (issue 20)", () => {
  it("bulk Cancel cancels every selected job, unticks them, and throws nothing", async () => {
    const { page, errors } = await pageFor("dark", "desktop");
    const engine = server.opened.engine;
    const targets = [];
    for (const name of ["bulk one", "bulk two", "bulk three"])
      targets.push((await engine.enqueue({ type: "bulk", name }))[0]!.job.id);
    await go(page, "#/jobs?type=bulk", `tr[data-id="${targets[2]}"]`);
    // Nothing selected: the bulk buttons are off.
    expect(await page.getByRole("button", { name: "Cancel selected" }).isDisabled()).toBe(true);
    for (const id of targets.slice(0, 2))
      await page.locator(`tr[data-id="${id}"] input[type=checkbox]`).check();
    await page.getByRole("button", { name: "Cancel selected" }).click();
    await page.locator(`tr[data-id="${targets[1]}"] [data-state="cancelled"]`).waitFor(WAIT);
    await page.locator(`tr[data-id="${targets[0]}"] [data-state="cancelled"]`).waitFor(WAIT);
    expect((await engine.get(targets[2]!)).state).toBe("queued");
    expect(await page.locator("#results input[type=checkbox]:checked").count()).toBe(0);
    expect(await page.locator("#toast").textContent()).toBe("Cancel selected: 2 cancelled");
    expect(errors).toEqual([]);
  });

  it("bulk Cancel says what happened to each job: cancelled, already finished, not found", async () => {
    const { page, errors, dialogs } = await pageFor("dark", "desktop");
    const engine = server.opened.engine;
    const live = [];
    for (const name of ["truth one", "truth two"])
      live.push((await engine.enqueue({ type: "truth", name }))[0]!.job.id);
    const done = [];
    for (const name of ["truth done", "truth failed"]) {
      const id = (await engine.enqueue({ type: "truth", name, maxAttempts: 1 }))[0]!.job.id;
      if (name === "truth done") await engine.complete(id, {});
      else await engine.fail(id, { error: "no" });
      done.push(id);
    }
    const gone = (await engine.enqueue({ type: "truth", name: "truth gone" }))[0]!.job.id;
    await go(page, "#/jobs?type=truth", `tr[data-id="${gone}"]`);
    for (const id of [...live, ...done, gone])
      await page.locator(`tr[data-id="${id}"] input[type=checkbox]`).check();
    // Removed after the page showed it: the stop finds no such job.
    await engine.delete([gone]);
    dialogs.length = 0;
    await page.getByRole("button", { name: "Cancel selected" }).click();
    await page
      .locator("#toast", { hasText: "Cancel selected: 2 cancelled, 2 already finished, 1 not found" })
      .waitFor(WAIT);
    expect(dialogs).toEqual(["Cancel (stop) 5 jobs?"]);
    expect((await engine.get(done[0]!)).state).toBe("succeeded");
    expect((await engine.get(done[1]!)).state).toBe("failed");
    // The API says so per job too: a finished job is left as it is and answered as such.
    const answer = await callOp(server.base, "stop_job", { id: done[0] }, AUTH);
    expect(answer.status).toBe(200);
    expect(answer.body.data).toMatchObject({ id: done[0], state: "succeeded", outcome: "already_finished" });
    const cancelled = await callOp(server.base, "stop_job", { id: live[0] }, AUTH);
    expect(cancelled.body.data).toMatchObject({ state: "cancelled", outcome: "already_finished" });
    const missing = await callOp(server.base, "stop_job", { id: gone }, AUTH);
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe("JOB_NOT_FOUND");
    expect(errors).toEqual([]);
  });

  it("bulk Archive says first how many live jobs it will cancel, and reports what it did", async () => {
    const { page, errors, dialogs } = await pageFor("dark", "desktop");
    const engine = server.opened.engine;
    const queued = (await engine.enqueue({ type: "shelve", name: "shelve queued" }))[0]!.job.id;
    const finished = (await engine.enqueue({ type: "shelve", name: "shelve done" }))[0]!.job.id;
    await engine.complete(finished, {});
    await go(page, "#/jobs?type=shelve", `tr[data-id="${finished}"]`);
    for (const id of [queued, finished])
      await page.locator(`tr[data-id="${id}"] input[type=checkbox]`).check();
    dialogs.length = 0;
    await page.getByRole("button", { name: "Archive selected" }).click();
    await page.locator("#toast", { hasText: "Archive selected: 2 archived" }).waitFor(WAIT);
    expect(dialogs).toEqual([
      "Archive 2 jobs? 1 of them is not finished (queued, waiting or running) and will be cancelled first: a running process is stopped.",
    ]);
    expect((await engine.get(queued)).state).toBe("cancelled");
    expect(errors).toEqual([]);
  });

  it("bulk Redrive counts each outcome apart: redriven, process jobs (use Retry), queued", async () => {
    const { page, errors } = await pageFor("dark", "desktop");
    const engine = server.opened.engine;
    const tags = ["mixbulk"];
    const failedTasks = [];
    for (const name of ["mix a", "mix b"]) {
      const id = (await engine.enqueue({ type: "mixtask", name, tags, maxAttempts: 1 }))[0]!.job.id;
      await engine.fail(id, { error: "no" });
      failedTasks.push(id);
    }
    const queued = (await engine.enqueue({ type: "mixtask", name: "mix queued", tags }))[0]!.job.id;
    const commands = [];
    for (const name of ["mix cmd 1", "mix cmd 2", "mix cmd 3"]) {
      const id = (
        await engine.enqueue({ type: "command", name, tags, maxAttempts: 1, payload: { argv: ["false"] } })
      )[0]!.job.id;
      const [claimed] = await engine.claim({ types: ["command"], owner: "test", limit: 1 });
      await engine.fail(claimed!.job.id, { token: claimed!.token, error: "exit 1", exitCode: 1 });
      commands.push(id);
    }
    const all = [...failedTasks, queued, ...commands];
    await go(page, "#/jobs?tag=mixbulk", `tr[data-id="${commands[2]}"]`);
    for (const id of all) await page.locator(`tr[data-id="${id}"] input[type=checkbox]`).check();
    await page.getByRole("button", { name: "Redrive selected" }).click();
    const toast = page.locator("#toast", { hasText: "Redrive selected:" });
    await toast.waitFor(WAIT);
    const text = await toast.textContent();
    expect(text).toBe("Redrive selected: 2 redriven, 1 is queued, 3 run a process (use Retry)");
    expect(text).not.toContain("failed");
    for (const id of failedTasks) expect((await engine.get(id)).state).toBe("queued");
    expect(errors).toEqual([]);
  });

  it("an unknown job says 'Job not found' (page and tab), and an unknown address is an HTML 404 for a browser", async () => {
    const { page, errors } = await pageFor("dark", "desktop");
    await go(page, "#/jobs/ZZZZZZ", "#job-not-found");
    expect(await page.locator("main h1").textContent()).toBe("Job not found");
    expect(await page.title()).toMatch(/^Job not found · baton/);
    expect(await page.locator("main").innerText()).not.toContain("Something went wrong");
    // A browser at an address the server has no page for gets a page, not raw JSON.
    const answer = await page.goto(`${server.base}/nosuchpage`);
    expect(answer!.status()).toBe(404);
    expect(answer!.headers()["content-type"]).toContain("text/html");
    expect(await page.title()).toMatch(/^Page not found/);
    expect(await page.locator("html").getAttribute("lang")).toBe("en");
    // A program (no text/html in Accept) and the API keep the JSON error.
    const json = await fetch(`${server.base}/nosuchpage`, { headers: AUTH });
    expect(json.status).toBe(404);
    expect(((await json.json()) as { error: { code: string } }).error.code).toBe("NOT_FOUND");
    const api = await fetch(`${server.base}/api/nosuch`, { headers: { ...AUTH, accept: "text/html" } });
    expect(api.headers.get("content-type")).toContain("application/json");
    expect(errors).toEqual([]);
  });

  it("a command job's page has no literal null under Details", async () => {
    const { page } = await pageFor("dark", "desktop");
    await go(page, `#/jobs/${ids.command}`, "#fields");
    const text = await page.locator("main").innerText();
    expect(text).not.toMatch(/\bnull\b/);
  });

  it("a job retried by hand says so under Details: no 'attempts 2 of 1', no wait counted up to the retry", async () => {
    const { page } = await pageFor("light", "desktop");
    await go(page, `#/jobs/${ids.command}`, "#fields");
    const fields = await page.locator("#fields").evaluate((dl) => {
      const out: Record<string, string> = {};
      for (const dt of dl.querySelectorAll("dt"))
        out[dt.textContent ?? ""] = dt.nextElementSibling?.textContent ?? "";
      return out;
    });
    expect(fields.attempts).toBe("2 (1 allowed; retried by hand)");
    // The wait is the first attempt's (never counted up to the retry), and says so.
    expect(fields.waited).toMatch(/ before attempt 1 started$/);
    expect(fields.ran).toMatch(/ in 2 attempts \(the last: .+\)$/);
  });

  it("an unknown workflow says so, without 'null' and with Archive disabled", async () => {
    const { page } = await pageFor("dark", "desktop");
    await go(page, "#/workflow?name=nope&x=1", "#no-such-workflow");
    expect(await page.locator("main").innerText()).not.toMatch(/\bnull\b/);
    expect(await page.locator("#archive-workflow").isDisabled()).toBe(true);
  });

  it("'last hour' counts jobs that finished, not state changes (archiving is no second success)", async () => {
    const { page } = await pageFor("dark", "desktop");
    const engine = server.opened.engine;
    const before = (await engine.countByState({ states: ["succeeded"], includeArchived: true })).reduce(
      (n, c) => n + c.count,
      0,
    );
    const extra = [];
    for (let i = 0; i < 2; i++) extra.push((await engine.enqueue({ type: "hour" }))[0]!.job.id);
    for (const id of extra) await engine.complete(id, {});
    await engine.archive(extra);
    await go(page, "#/", "#last-hour");
    await page.locator("#last-hour", { hasText: `${before + 2} succeeded` }).waitFor(WAIT);
    // The chart agrees with the sentence.
    const done = await page.locator("#throughput svg").getAttribute("data-done");
    expect(Number(done)).toBe(before + 2);
  });

  it("the chart counts cancelled jobs apart from failed ones, in their own colour, with a legend", async () => {
    const { page } = await pageFor("dark", "desktop");
    const engine = server.opened.engine;
    const count = async (state: "failed" | "timed_out" | "cancelled") =>
      (await engine.countByState({ states: [state], includeArchived: true })).reduce(
        (n, c) => n + c.count,
        0,
      );
    const give = [];
    for (let i = 0; i < 3; i++) give.push((await engine.enqueue({ type: "chart-cancel" }))[0]!.job.id);
    for (const id of give) await engine.cancel(id);
    const failed = (await count("failed")) + (await count("timed_out"));
    const cancelled = await count("cancelled");
    expect(cancelled).toBeGreaterThanOrEqual(3);
    await go(page, "#/", "#throughput svg");
    const chart = page.locator("#throughput svg");
    expect(Number(await chart.getAttribute("data-failed"))).toBe(failed);
    expect(Number(await chart.getAttribute("data-cancelled"))).toBe(cancelled);
    expect(await chart.getAttribute("aria-label")).toContain(`${failed} failed, ${cancelled} cancelled`);
    // Its own colour: the cancelled bars are not painted as failures.
    const fills = await page.evaluate(() => {
      const doc = (globalThis as unknown as { document: any }).document;
      const fill = (sel: string) =>
        (globalThis as any).getComputedStyle(doc.querySelector(sel)).fill as string;
      return { failed: fill("#throughput rect.failed"), cancelled: fill("#throughput rect.cancelled") };
    });
    expect(fills.cancelled).not.toBe(fills.failed);
    expect(await page.locator("#chart-legend li").allInnerTexts()).toEqual(["done", "failed", "cancelled"]);
    // The per-type sparkline too.
    const spark = page.locator('#by-type tr:has(a:text-is("chart-cancel")) svg');
    expect(await spark.getAttribute("data-cancelled")).toBe("3");
    expect(await spark.getAttribute("data-failed")).toBe("0");
  });

  it("why is it waiting: the dependency explain names, on the job page", async () => {
    const { page } = await pageFor("dark", "desktop");
    await go(page, `#/jobs/${ids.waiting}`, "#why-waiting");
    const explained = await callOp(server.base, "explain_task", { id: ids.waiting }, AUTH);
    const reasons = explained.body.data.reasons as string[];
    expect(reasons.length).toBeGreaterThan(0);
    for (const r of reasons) await page.locator("#why-waiting li", { hasText: r }).waitFor(WAIT);
  });

  it("per-attempt logs: the latest by default, an earlier one on request", async () => {
    const { page } = await pageFor("dark", "desktop");
    await go(page, `#/jobs/${ids.command}`, "#attempts");
    await page
      .locator("#log", { hasText: "second attempt output" })
      .waitFor(WAIT)
      .catch(async (error: Error) => {
        throw new Error(
          `${error.message.split("\n")[0]}: ${await page.locator("#log-status").textContent()}`,
        );
      });
    await page.getByRole("button", { name: "Show the log of attempt 1" }).click();
    await page.locator("#log", { hasText: "first attempt output" }).waitFor(WAIT);
    expect(await page.locator("#log").textContent()).not.toContain("second");
  });

  it("an agent job shows its instructions, metadata and answer; lists name agent jobs and task runs", async () => {
    const { page } = await pageFor("dark", "desktop");
    await go(page, `#/jobs/${ids.agent}`, "#agent-panel");
    expect(await page.locator("#agent-instructions").textContent()).toBe("Review the dashboard pages");
    expect(await page.locator("#agent-meta").innerText()).toMatch(/pr\s+42/);
    expect(await page.locator("#agent-answer").textContent()).toBe("All pages reviewed: two fixes.");
    await go(page, "#/jobs", `tr[data-id="${ids.agent}"]`);
    expect(await page.locator(`tr[data-id="${ids.agent}"] td.name`).textContent()).toBe("agent fake");
    expect(await page.locator(`tr[data-id="${ids.taskRun}"] td.name`).textContent()).toBe("greet");
    // Short ids with the whole id on hover, relative times with the exact time on hover.
    const link = page.locator(`tr[data-id="${ids.agent}"] td.id a`);
    // The CLI's short id (D59): the same characters `baton list` shows.
    expect(await link.textContent()).toBe(shortIdOf(ids.agent!));
    expect(await link.getAttribute("title")).toBe(ids.agent);
    expect(await page.locator(`tr[data-id="${ids.agent}"] time`).getAttribute("title")).toMatch(/UTC\)$/);
  });

  it("jobs list: page size, select the page and select all matching", async () => {
    const { page } = await pageFor("light", "desktop");
    const engine = server.opened.engine;
    await engine.enqueue(Array.from({ length: 30 }, (_, i) => ({ type: "many", name: `many ${i}` })));
    await go(page, "#/jobs?type=many&limit=25", "#jobs tbody tr");
    expect(await page.locator("#jobs tbody tr").count()).toBe(25);
    await page.locator("#select-page").check();
    await page.locator("#selected-count", { hasText: "25 selected" }).waitFor(WAIT);
    await page.locator("#select-all", { hasText: "Select all 30 matching" }).click();
    await page.locator("#selected-count", { hasText: "30 selected" }).waitFor(WAIT);
    await page.getByRole("button", { name: "Archive selected" }).click();
    await page.locator("#no-jobs").waitFor(WAIT);
    expect(await engine.count({ types: ["many"] })).toBe(0);
    // Archived jobs are one filter away.
    await go(page, "#/jobs?type=many&archived=true", "#jobs tbody tr");
    expect(await page.locator("#total").textContent()).toBe("30 jobs");
  });

  it("the archived filter offers Unarchive, which brings the jobs back to the list (axe-clean)", async () => {
    const { page, errors } = await pageFor("dark", "mobile");
    const engine = server.opened.engine;
    const back = [];
    for (const name of ["back one", "back two", "stays archived"])
      back.push((await engine.enqueue({ type: "back", name }))[0]!.job.id);
    await engine.archive(back);
    // Without archived jobs in the list there is nothing to unarchive.
    await go(page, "#/jobs?type=lint", "#jobs tbody tr");
    expect(await page.getByRole("button", { name: "Unarchive selected" }).count()).toBe(0);
    await go(page, "#/jobs?type=back&archived=true", `tr[data-id="${back[2]}"]`);
    expect(await page.locator(`tr[data-id="${back[0]}"] .archived-mark`).count()).toBe(1);
    expect(await axe(page)).toEqual([]);
    const unarchive = page.getByRole("button", { name: "Unarchive selected" });
    expect(await unarchive.isDisabled()).toBe(true);
    for (const id of back.slice(0, 2)) await page.locator(`tr[data-id="${id}"] input[type=checkbox]`).check();
    await unarchive.click();
    await page.locator("#toast", { hasText: "Unarchive selected: 2 unarchived" }).waitFor(WAIT);
    await page.locator(`tr[data-id="${back[0]}"] .archived-mark`).waitFor({ state: "detached", ...WAIT });
    expect(await page.locator(`tr[data-id="${back[2]}"] .archived-mark`).count()).toBe(1);
    expect((await engine.list({ types: ["back"] }, { limit: 10 })).map((j) => j.id).sort()).toEqual(
      back.slice(0, 2).sort(),
    );
    // The audit trail says who brought them back.
    const trail = await engine.events({ jobId: back[0]!, limit: 100 });
    expect(trail.at(-1)).toMatchObject({ kind: "unarchived", actor: "http" });
    expect(errors).toEqual([]);
  });

  it("job page: Archive once on a double-click, then an archived marker and Unarchive; no Redrive for a command", async () => {
    const { page, errors } = await pageFor("light", "desktop");
    const engine = server.opened.engine;
    const id = (await engine.enqueue({ type: "shelf", name: "shelf me", maxAttempts: 1 }))[0]!.job.id;
    await engine.fail(id, { error: "broken" });
    await go(page, `#/jobs/${id}`, "#fields");
    // A failed checkpoint can be redriven; a command is run again with Retry instead.
    expect(await page.getByRole("button", { name: "Redrive" }).count()).toBe(1);
    expect(await page.locator("#archived-mark").count()).toBe(0);
    const calls: string[] = [];
    const count = (r: { url(): string }) => {
      if (r.url().includes("/api/ops/archive")) calls.push(r.url());
    };
    page.on("request", count);
    await page.getByRole("button", { name: "Archive", exact: true }).dblclick();
    await page.locator("#archived-mark").waitFor(WAIT);
    await page.getByRole("button", { name: "Unarchive" }).waitFor(WAIT);
    page.off("request", count);
    expect(calls).toHaveLength(1);
    const trail = await engine.events({ jobId: id, limit: 100 });
    expect(trail.filter((e) => e.kind === "archived")).toHaveLength(1);
    expect(await page.getByRole("button", { name: "Archive", exact: true }).count()).toBe(0);
    await page.getByRole("button", { name: "Unarchive" }).click();
    await page.locator("#archived-mark").waitFor({ state: "detached", ...WAIT });
    expect((await engine.get(id)).archivedAt).toBeNull();

    await go(page, `#/jobs/${ids.command}`, "#fields");
    expect(await page.getByRole("button", { name: "Retry" }).count()).toBe(1);
    expect(await page.getByRole("button", { name: "Redrive" }).count()).toBe(0);
    expect(errors).toEqual([]);
  });

  it("an unknown route says so (not the overview); each page and job has its own title", async () => {
    const { page, errors } = await pageFor("dark", "mobile");
    await go(page, "#/nope/deeper", "#not-found");
    expect(await page.locator("main").innerText()).toContain("#/nope/deeper");
    expect(await page.locator("#counts").count()).toBe(0);
    expect(await page.locator('nav a[aria-current="page"]').count()).toBe(0);
    expect(await axe(page)).toEqual([]);
    const project = await page.locator("body").getAttribute("data-project");
    expect(await page.title()).toBe(`Page not found · baton · ${project}`);
    await go(page, "#/jobs", "#jobs tbody tr");
    expect(await page.title()).toBe(`Jobs · baton · ${project}`);
    await go(page, "#/tasks", "[data-task]");
    expect(await page.title()).toBe(`Tasks and schedules · baton · ${project}`);
    await go(page, `#/jobs/${ids.failed}`, "#fields");
    expect(await page.title()).toBe(`deploy web (${shortIdOf(ids.failed!)}) · baton · ${project}`);
    expect(errors).toEqual([]);
  });

  it("tasks: the schedule in words with its time zone and the next run", async () => {
    const { page } = await pageFor("dark", "desktop");
    await go(page, "#/tasks", '[data-task="nightly"] .next-fire time');
    const schedule = await page.locator('[data-task="nightly"] dd.schedule').textContent();
    expect(schedule).toMatch(/^every day at 03:00 0 3 \* \* \* \(.+\)$/);
    expect(await page.locator('[data-task="greet"] dd.schedule').textContent()).toBe("not scheduled");
  });

  it("tasks: a schedule switches off and on (kept in the ledger); dry and forced runs are marked", async () => {
    const { page, errors } = await pageFor("light", "mobile");
    const started: Record<string, string> = {};
    for (const [kind, input] of [
      ["dry", { dryRun: true }],
      ["forced", { force: true }],
    ] as const) {
      const answer = await callOp(server.base, "run_task", { task: "greet", ...input }, AUTH);
      expect(answer.status, answer.text).toBe(200);
      started[kind] = answer.body.data.id as string;
    }
    const runs = (await callOp(server.base, "task_runs", { task: "greet" }, AUTH)).body.data.runs as {
      id: string;
      dryRun?: boolean;
      forced?: boolean;
    }[];
    expect(runs.find((r) => r.id === started.dry)).toMatchObject({ dryRun: true });
    expect(runs.find((r) => r.id === started.dry)!.forced).toBe(false);
    expect(runs.find((r) => r.id === started.forced)).toMatchObject({ forced: true });
    expect(runs.find((r) => r.id === started.forced)!.dryRun).toBe(false);
    await go(page, "#/tasks", `[data-task="greet"] li[data-id="${started.forced}"]`);
    expect(await page.locator(`li[data-id="${started.dry}"] .dry-run`).textContent()).toBe("dry run");
    expect(await page.locator(`li[data-id="${started.forced}"] .forced`).textContent()).toBe("forced");
    expect(await page.locator(`li[data-id="${started.forced}"] .dry-run`).count()).toBe(0);
    expect(await page.locator(`li[data-id="${ids.taskRun}"] .kind`).count()).toBe(0);

    const enabled = async () =>
      (
        (await callOp(server.base, "list_schedules", {}, AUTH)).body.data.schedules as {
          task: string;
          enabled: boolean;
        }[]
      ).find((s) => s.task === "nightly")!.enabled;
    expect(await page.locator('[data-task="nightly"] .schedule-switch').textContent()).toBe("on");
    await page.getByRole("button", { name: "Switch schedule off: nightly" }).click();
    await page
      .locator('[data-task="nightly"] .schedule-switch', { hasText: "off: does not fire" })
      .waitFor(WAIT);
    expect(await page.locator('[data-task="nightly"] .next-fire').textContent()).toBe(
      "none while switched off",
    );
    expect(await enabled()).toBe(false);
    expect(await axe(page)).toEqual([]);
    await page.getByRole("button", { name: "Switch schedule on: nightly" }).click();
    await page.locator('[data-task="nightly"] .schedule-switch', { hasText: /^on$/ }).waitFor(WAIT);
    expect(await enabled()).toBe(true);
    // The greet task has no schedule: nothing to switch.
    expect(await page.locator('[data-task="greet"] .schedule-toggle').count()).toBe(0);
    expect(errors).toEqual([]);
  });

  it("a dashboard server that stops answering: a banner, no stale daemon line, no 'undefined: Failed to fetch'", async () => {
    const { page } = await pageFor("light", "mobile");
    await go(page, "#/", "#daemon-status");
    await server.serving.close();
    await page
      .locator("#banner-down", { hasText: "The dashboard server stopped or cannot be reached" })
      .waitFor(WAIT);
    // What the overview said about the daemon is gone with the rest of its stale data.
    await page.locator("#daemon-status").waitFor({ state: "detached", ...WAIT });
    await page.evaluate(() => {
      (globalThis as unknown as { location: { hash: string } }).location.hash = "#/jobs";
    });
    await page.locator("#unreachable").waitFor(WAIT);
    expect(await page.locator("body").innerText()).not.toMatch(/undefined|Failed to fetch/);
  });
});
