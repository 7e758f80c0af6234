/**
 * The dashboard in a real headless Chromium (the Debian package, driven by playwright-core): it
 * loads with the token URL, shows a job enqueued by another process without a reload, filters,
 * opens a job, follows a live log with pause/resume, retries a failed job and runs one again with
 * an edited payload; the overview lists a running command and the daemon's host; on the workflow,
 * task and agent pages it skips a workflow task, resumes from a step, archives a workflow, runs a
 * configured task now (a real daemon runs it) and submits an agent job to the fixture agent.
 * The README's screenshots are written by test/http.dashboard.pages.test.ts (this file writes the
 * overview with a running command only).
 */
import { writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { chromium } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { baton, envelope } from "./helpers/cli.js";
import type { TestServer } from "./helpers/http.js";
import { callOp, startTestServer } from "./helpers/http.js";
import { writeRunOutput } from "./helpers/run-output.js";
import { SCREENSHOTS } from "./helpers/screenshots.js";
import { FIXTURES, newHome } from "./helpers/supervisor.js";

const TOKEN = "dashboard-test-token-3c9e1f7a";
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

/**
 * A server (over `home` when given: a newHome(), whose daemon the supervisor guard stops after the
 * test) and a page on `path`, signed in with the token URL.
 */
async function open(path = "/", home?: string): Promise<Page> {
  server = await startTestServer({ token: TOKEN, ...(home === undefined ? {} : { home }) });
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
  page.on("dialog", (dialog) => void dialog.accept());
  expect(errors).toEqual([]);
  return page;
}

/** A home whose baton.yaml has one task, `nightly`, on a schedule that is switched off. */
function nightlyHome(): string {
  const home = newHome().dir;
  writeFileSync(
    join(home, "baton.yaml"),
    ["tasks:", "  nightly:", "    command: [sh, -c, 'echo cleaning']", '    schedule: "0 3 * * *"', ""].join(
      "\n",
    ),
  );
  return home;
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
    // Each page has its own title, after the project: "Overview · baton · <project>".
    expect(await p.title()).toMatch(/^Overview · baton · ./);
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
    // The creation-time filter keeps both the state filter and the row created a moment ago.
    await p.locator("#filter-since").selectOption("1h");
    await p.waitForURL(/state=succeeded.*since=1h|since=1h.*state=succeeded/, WAIT);
    await row.waitFor(WAIT);
    expect(await p.locator("#total").textContent()).toBe("1 job");

    await p.locator("#filter-state").selectOption("");
    await p.locator("#filter-q").fill("b.ts");
    await p.locator("#filter-q").press("Enter");
    await p.locator(`tr[data-id="${id}"]`).waitFor({ state: "detached", ...WAIT });
    await p.locator(`tr[data-id="${other}"]`).waitFor(WAIT);
  });

  it("opens a job and tails its log live, with pause and resume", async () => {
    const p = await open("#/jobs");
    // A command job as the library makes one (the CLI's enqueue refuses executor types, D41).
    const [made] = await server!.opened.engine.enqueue({ type: "command", payload: { command: "make" } });
    const id = made!.job.id;
    const [claimed] = await server!.opened.engine.claim({ types: ["command"], owner: "test", limit: 1 });
    const write = (line: string) => writeRunOutput(server!.home, id, claimed!.attempt, `${line}\n`);
    write("compiling 1/3");

    await p.locator(`tr[data-id="${id}"] td.name a`).click();
    await p.locator("#log", { hasText: "compiling 1/3" }).waitFor(WAIT);
    await p.locator("#timeline li", { hasText: "claimed" }).first().waitFor(WAIT);
    const details = await p.locator("dl.fields").textContent();
    expect(details).toContain("command");
    expect(details).not.toContain("[object");
    write("compiling 2/3");
    await p.locator("#log", { hasText: "compiling 2/3" }).waitFor(WAIT);

    await p.locator("#log-pause").click();
    await p.locator("#log-status", { hasText: "paused" }).waitFor(WAIT);
    write("compiling 3/3");
    // Paused: two more poll periods pass and the new line stays hidden.
    await p.waitForTimeout(2500);
    expect(await p.locator("#log").textContent()).not.toContain("compiling 3/3");
    await p.locator("#log-pause").click();
    await p.locator("#log", { hasText: "compiling 3/3" }).waitFor(WAIT);
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

  it("runs a job again with an edited payload: a new job of the same type, workflow and tags", async () => {
    const p = await open("#/jobs");
    const id = cli(["enqueue", "--type", "lint", "--workflow", "again", "--tag", "x", '{"file":"a.ts"}'])
      .jobs[0].id as string;
    await p.goto(`${server!.base}/#/jobs/${id}`);
    await p.locator("h1 [data-state='queued']").waitFor(WAIT);
    await p.getByText("Run again with an edited payload").click();
    const area = p.getByLabel("Payload (JSON)");
    expect(JSON.parse(await area.inputValue())).toEqual({ file: "a.ts" });
    await area.fill("{not json");
    await p.getByRole("button", { name: "Run again" }).click();
    await p.locator("#toast", { hasText: "not JSON" }).waitFor(WAIT);
    await area.fill('{"file":"b.ts","strict":true}');
    await p.getByRole("button", { name: "Run again" }).click();
    await p.waitForURL((url) => /#\/jobs\/[0-9A-Z]{26}$/.test(url.hash) && !url.hash.endsWith(id), WAIT);
    const newId = decodeURIComponent(new URL(p.url()).hash.split("/").pop()!);
    await p.locator("#payload", { hasText: "b.ts" }).waitFor(WAIT);
    const [before, after] = await Promise.all([
      server!.opened.engine.get(id),
      server!.opened.engine.get(newId),
    ]);
    expect(after.payload).toEqual({ file: "b.ts", strict: true });
    expect([after.type, after.workflow, after.tags]).toEqual(["lint", "again", ["x"]]);
    expect(before.payload).toEqual({ file: "a.ts" });
  });

  it("overview: the commands running now and the daemon's host with its last heartbeat", async () => {
    const home = newHome().dir;
    const p = await open("/", home);
    await p.locator("#hosts", { hasText: "No daemon" }).waitFor(WAIT);
    const started = await callOp(
      server!.base,
      "run_command",
      { argv: ["sleep", "30"], name: "long-sleep" },
      { authorization: `Bearer ${TOKEN}` },
    );
    expect(started.status, started.text).toBe(200);
    const id = started.body.data.id as string;
    await p.locator(`#running-now tr[data-id="${id}"] [data-state="running"]`).waitFor(WAIT);
    await p.locator("#hosts tbody tr").first().waitFor(WAIT);
    expect(await p.locator("#hosts tbody tr td").nth(1).textContent()).toMatch(/^\d+$/);
    await p.screenshot({ path: join(SCREENSHOTS, "dashboard-overview-running.png") });
    const stopped = await callOp(server!.base, "stop_job", { id }, { authorization: `Bearer ${TOKEN}` });
    expect(stopped.status, stopped.text).toBe(200);
    await p.locator(`#running-now tr[data-id="${id}"]`).waitFor({ state: "detached", ...WAIT });
  });

  it("lists workflows with progress; skips a task, resumes from a step and archives the workflow", async () => {
    const p = await open("#/workflows");
    await p.locator("#no-workflows").waitFor(WAIT);
    const auth = { authorization: `Bearer ${TOKEN}` };
    const steps = ["build", "test", "package", "publish"];
    const enqueued = await callOp(
      server!.base,
      "enqueue_task",
      { workflow: "release", tasks: steps.map((name) => ({ name, payload: { step: name } })) },
      auth,
    );
    expect(enqueued.status, enqueued.text).toBe(200);
    const ids = (enqueued.body.data.jobs as { id: string }[]).map((j) => j.id);
    cli(["enqueue", "--workflow", "docs", '{"page":"intro"}']);
    const row = p.locator('tr[data-workflow="release"]');
    await row.locator('[role="progressbar"][aria-valuenow="0"][aria-valuemax="4"]').waitFor(WAIT);
    await p.locator('tr[data-workflow="docs"]').waitFor(WAIT);
    // Progress moves without a reload.
    cli(["complete", ids[0]!, "--evidence", "built"]);
    await row.locator('[role="progressbar"][aria-valuenow="1"]').waitFor(WAIT);

    await row.getByRole("link", { name: "release" }).click();
    await p.waitForURL(/#\/workflow\?/, WAIT);
    const stepRows = p.locator("#steps tbody tr");
    await stepRows.nth(3).waitFor(WAIT);
    expect(await stepRows.evaluateAll((rows) => rows.map((r) => r.getAttribute("data-id")))).toEqual(ids);

    // Skip one task.
    await p.getByRole("button", { name: "Skip test" }).click();
    await p.locator(`tr[data-id="${ids[1]}"] [data-state="skipped"]`).waitFor(WAIT);
    // Resume from the last step: the unfinished one before it (package) is accepted.
    await p.getByRole("button", { name: "Resume from here: publish" }).click();
    await p.locator(`tr[data-id="${ids[2]}"] [data-state="succeeded"]`).waitFor(WAIT);
    await p.locator(`tr[data-id="${ids[3]}"] [data-state="queued"]`).waitFor(WAIT);
    await p.locator('#workflow-summary [role="progressbar"][aria-valuenow="3"]').waitFor(WAIT);
    expect(await p.getByRole("button", { name: "Skip build" }).isDisabled()).toBe(true);
    const accepted = server!.opened.engine;
    expect((await accepted.get(ids[2]!)).result).toEqual({ accepted: true, before: ids[3] });

    // Archive the workflow: back to the list, where it is gone.
    await p.locator("#archive-workflow").click();
    await p.waitForURL(/#\/workflows$/, WAIT);
    await p.locator('tr[data-workflow="docs"]').waitFor(WAIT);
    await p.locator('tr[data-workflow="release"]').waitFor({ state: "detached", ...WAIT });
    expect((await accepted.get(ids[3]!)).state).toBe("cancelled");
  });

  it("shows configured tasks with their schedule; a dry run previews, Run now runs it", async () => {
    const home = newHome().dir;
    writeFileSync(
      join(home, "baton.yaml"),
      [
        "tasks:",
        "  greet:",
        "    description: Say hello to the dashboard",
        '    command: [sh, -c, "echo hello from greet"]',
        "  nightly:",
        "    description: Clean the caches every night",
        "    command: [sh, -c, 'echo cleaning']",
        '    schedule: "0 3 * * *"',
        "",
      ].join("\n"),
    );
    const p = await open("#/tasks", home);
    const greet = p.locator('[data-task="greet"]');
    const nightly = p.locator('[data-task="nightly"]');
    await greet.getByText("Say hello to the dashboard").waitFor(WAIT);
    // A schedule fires only once switched on (D108): the page says so and offers the switch.
    expect(await nightly.locator("dd.schedule-switch").textContent()).toBe("off: does not fire");
    expect(await nightly.locator("dd.next-fire").textContent()).toBe("none while switched off");
    await p.getByRole("button", { name: "Switch schedule on: nightly" }).click();
    await nightly.locator(".next-fire time").waitFor(WAIT);
    expect(await nightly.locator("dd.schedule-switch").textContent()).toBe("on");
    expect(await nightly.locator("dd code.cron").textContent()).toBe("0 3 * * *");
    expect(await nightly.locator("dd .cron-words").textContent()).toBe("every day at 03:00");
    expect(await greet.locator("dd").first().textContent()).toBe("not scheduled");

    await p.getByRole("button", { name: "Dry run: nightly" }).click();
    await nightly.locator("pre.preview", { hasText: "echo cleaning" }).waitFor(WAIT);
    expect(await nightly.locator(".run-list").count()).toBe(0);

    await p.getByRole("button", { name: "Run now: greet" }).click();
    const link = greet.locator("a.run-link");
    await link.waitFor(WAIT);
    const id = (await link.textContent())!;
    // The daemon runs it; the run shows up under the task and reaches succeeded without a reload.
    await greet.locator(`.run-list li[data-id="${id}"] [data-state="succeeded"]`).waitFor(WAIT);
    const job = await server!.opened.engine.get(id);
    expect(job.type).toBe("task:greet");
  });

  it("a schedule that fires redraws its next run and last fire time without a reload (issue 20, tester M2)", async () => {
    const home = newHome().dir;
    writeFileSync(
      join(home, "baton.yaml"),
      ["tasks:", "  tick:", "    command: [sh, -c, 'echo tick']", '    schedule: "* * * * * *"', ""].join(
        "\n",
      ),
    );
    const p = await open("#/tasks", home);
    const tick = p.locator('[data-task="tick"]');
    await p.getByRole("button", { name: "Switch schedule on: tick" }).click();
    await tick.locator(".next-fire time").waitFor(WAIT);
    await p.evaluate(() => ((globalThis as unknown as { notReloaded: boolean }).notReloaded = true));
    const firstNext = await tick.locator(".next-fire time").getAttribute("datetime");
    const started = baton(["daemon", "start"], { home });
    expect(started.code, started.stderr).toBe(0);
    // A scheduled run appears under the task; the card's times moved with it, page not reloaded.
    const run = tick.locator(".run-list li", { has: p.locator(".kind.scheduled") }).first();
    await run.waitFor(WAIT);
    await tick.locator('dt:text-is("last fired") + dd time').waitFor(WAIT);
    await expect
      .poll(() => tick.locator(".next-fire time").getAttribute("datetime"), WAIT)
      .not.toBe(firstNext);
    const fired = Date.parse(
      (await tick.locator('dt:text-is("last fired") + dd time').getAttribute("datetime"))!,
    );
    const next = Date.parse((await tick.locator(".next-fire time").getAttribute("datetime"))!);
    expect(next).toBeGreaterThan(fired);
    expect(await p.evaluate(() => (globalThis as unknown as { notReloaded?: boolean }).notReloaded)).toBe(
      true,
    );
  });

  it("a schedule switched off or on by the CLI redraws the page's switch button without a reload", async () => {
    const home = nightlyHome();
    const p = await open("#/tasks", home);
    const nightly = p.locator('[data-task="nightly"]');
    await p.getByRole("button", { name: "Switch schedule on: nightly" }).waitFor(WAIT);
    await p.evaluate(() => ((globalThis as unknown as { notReloaded: boolean }).notReloaded = true));
    // Another process switches it: the button offers the opposite, with the line above it.
    const on = baton(["schedule", "enable", "nightly"], { home });
    expect(on.code, on.stderr).toBe(0);
    await p.getByRole("button", { name: "Switch schedule off: nightly" }).waitFor(WAIT);
    expect(await nightly.locator("dd.schedule-switch").textContent()).toBe("on");
    const off = baton(["schedule", "disable", "nightly"], { home });
    expect(off.code, off.stderr).toBe(0);
    await p.getByRole("button", { name: "Switch schedule on: nightly" }).waitFor(WAIT);
    expect(await nightly.locator("dd.schedule-switch").textContent()).toBe("off: does not fire");
    expect(await nightly.locator(".schedule-toggle").count()).toBe(1);
    expect(await p.evaluate(() => (globalThis as unknown as { notReloaded?: boolean }).notReloaded)).toBe(
      true,
    );
    // The redrawn button switches what the ledger holds now.
    await p.getByRole("button", { name: "Switch schedule on: nightly" }).click();
    await nightly.locator("dd.schedule-switch", { hasText: /^on$/ }).waitFor(WAIT);
    const listed = (await callOp(server!.base, "list_schedules", {}, { authorization: `Bearer ${TOKEN}` }))
      .body.data.schedules as { task: string; enabled: boolean }[];
    expect(listed.find((s) => s.task === "nightly")!.enabled).toBe(true);
  });

  it("a schedule switched by the CLI while the tasks page is still loading its runs is redrawn too (full run, 2026-12-07)", async () => {
    const home = nightlyHome();
    const p = await open("#/tasks", home);
    await p.getByRole("button", { name: "Switch schedule on: nightly" }).waitFor(WAIT);
    // The page draws itself again after a switch; its read of the runs is held while another
    // process switches the schedule back off, and for longer than the server's 1 s event poll,
    // so the event arrives before the page has finished drawing.
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let held = false;
    await p.route("**/api/ops/task_runs", async (route) => {
      if (!held) {
        held = true;
        const off = baton(["schedule", "disable", "nightly"], { home });
        expect(off.code, off.stderr).toBe(0);
        await new Promise((r) => setTimeout(r, 2500));
        await route.continue();
        release();
        return;
      }
      await route.continue();
    });
    await p.getByRole("button", { name: "Switch schedule on: nightly" }).click();
    await released;
    // What the ledger holds now: off. The page drew "on" from its read before the switch back;
    // it must come to say off, as the ledger does, without a reload.
    const shown = p.locator('[data-task="nightly"] dd.schedule-switch');
    await expect.poll(() => shown.textContent(), { timeout: 10_000 }).toBe("off: does not fire");
    await p.getByRole("button", { name: "Switch schedule on: nightly" }).waitFor(WAIT);
  });

  it("a job changed by the CLI while its page is still reading it is redrawn, never 'Something went wrong' (CI, 2026-12-07)", async () => {
    const p = await open("#/jobs");
    const errors: string[] = [];
    p.on("pageerror", (e) => errors.push(e.message));
    const id = cli(["enqueue", '{"file":"a.ts"}']).jobs[0].id as string;
    // The page's read of the job answers what the ledger held before another process completed
    // it, and only after the server's 1 s event poll has sent the completion: the event arrives
    // while the page is drawing what it read.
    await p.route(`**/api/jobs/${id}`, async (route) => {
      const before = await route.fetch();
      const done = baton(["complete", id, "--evidence", "done"], { home: server!.home });
      expect(done.code, done.stderr).toBe(0);
      await new Promise((r) => setTimeout(r, 2500));
      await route.fulfill({ response: before });
      await p.unroute(`**/api/jobs/${id}`);
    });
    await p.goto(`${server!.base}/#/jobs/${id}`);
    // The page comes to say what the ledger holds now, without a reload.
    await p.locator("h1 [data-state='succeeded']").waitFor(WAIT);
    expect(await p.locator("h1", { hasText: "Something went wrong" }).count()).toBe(0);
    expect(errors).toEqual([]);
  });

  it("the pause banner follows a pause and a resume made by the CLI on every page, without a reload (stranger, 2026-12-07)", async () => {
    const p = await open("#/jobs");
    const banner = p.locator("#banner-paused");
    expect(await banner.isHidden()).toBe(true);
    cli(["pause"]);
    await banner.locator("strong", { hasText: "The queue is paused:" }).waitFor(WAIT);
    cli(["unpause"]);
    await banner.waitFor({ state: "hidden", ...WAIT });
    // A type paused while the workflows page is open: the banner names it.
    await p.goto(`${server!.base}/#/workflows`);
    await p.locator("main[data-loaded='#/workflows']").waitFor(WAIT);
    cli(["pause", "--type", "build"]);
    await banner.locator("strong", { hasText: "Paused:" }).waitFor(WAIT);
    expect(await banner.innerText()).toContain("build");
    // With the whole queue paused too, the banner does not say that resuming it is enough.
    cli(["pause"]);
    await banner.locator("strong", { hasText: "The queue is paused:" }).waitFor(WAIT);
    await banner.getByText(/the other pauses below hold stays held/).waitFor(WAIT);
    cli(["unpause", "--all"]);
    cli(["unpause", "--type", "build"]);
    await banner.waitFor({ state: "hidden", ...WAIT });
  });

  it("a waiting job's 'Why is it waiting?' follows a pause and a resume of its type (stranger, 2026-12-07)", async () => {
    const p = await open("#/jobs");
    const id = cli(["enqueue", "--type", "build", '{"n":1}']).jobs[0].id as string;
    await p.goto(`${server!.base}/#/jobs/${id}`);
    await p.locator("h1 [data-state='queued']").waitFor(WAIT);
    const why = p.locator("#why-waiting");
    expect(await why.innerText()).not.toMatch(/paused/);
    cli(["pause", "--type", "build"]);
    await why.filter({ hasText: /paused/ }).waitFor(WAIT);
    cli(["unpause", "--type", "build"]);
    await expect.poll(() => why.innerText(), { timeout: 30_000 }).not.toMatch(/paused/);
  });

  it("a stopped dashboard server, then another program at its port: a banner saying so, never INTERNAL (issue 20, tester L2/L3)", async () => {
    const p = await open("#/jobs");
    const port = Number(new URL(server!.base).port);
    // `baton dashboard --stop` stops the HTTP server, not the daemon: the banner says how to get it back.
    await server!.serving.close();
    const banner = p.locator("#banner-down");
    await banner
      .locator("strong", { hasText: "The dashboard server stopped or cannot be reached" })
      .waitFor(WAIT);
    expect(await banner.innerText()).toMatch(
      /baton dashboard starts it \(or baton daemon start if the daemon is down\)/,
    );
    // Another program takes the port (the dashboard moved to a new one): it answers, but not as baton.
    const other = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("OK");
    });
    await new Promise<void>((resolve) => other.listen(port, "127.0.0.1", resolve));
    try {
      await p.evaluate(() => {
        (globalThis as unknown as { location: { hash: string } }).location.hash = "#/tasks";
      });
      await p.locator("#unreachable").waitFor(WAIT);
      await p.waitForTimeout(1500); // the page's retries reach the other program meanwhile
      expect(await banner.isVisible()).toBe(true);
      expect(await p.locator("body").innerText()).not.toMatch(/INTERNAL|Something went wrong/);
    } finally {
      other.closeAllConnections();
      await new Promise<void>((resolve) => other.close(() => resolve()));
    }
  });

  it(
    "a selection kept across pages says how much of it is off this page, and clears (issue 20, tester L5)",
    { timeout: 120_000 },
    async () => {
      const p = await open("#/jobs");
      const tasks = Array.from({ length: 30 }, (_, i) => ({ type: "paged", payload: i }));
      const made = await callOp(
        server!.base,
        "enqueue_task",
        { tasks },
        { authorization: `Bearer ${TOKEN}` },
      );
      expect(made.status, made.text).toBe(200);
      await p.goto(`${server!.base}/#/jobs?type=paged&limit=25`);
      await p.locator("#jobs tbody tr").nth(24).waitFor(WAIT);
      await p.locator("#select-page").check();
      const count = p.locator("#selected-count");
      expect(await count.textContent()).toBe("25 selected");
      await p.getByRole("button", { name: "Next page" }).click();
      await p.locator("#jobs tbody tr").nth(4).waitFor(WAIT);
      await count.filter({ hasText: "25 selected, 25 of them not on this page" }).waitFor(WAIT);
      expect(await p.locator("#jobs tbody input[type=checkbox]:checked").count()).toBe(0);
      // The confirmation says so too.
      const asked = new Promise<string>((resolve) => p.once("dialog", (d) => resolve(d.message())));
      await p.getByRole("button", { name: "Cancel selected" }).click();
      expect(await asked).toBe("Cancel (stop) 25 jobs? 25 of them are not on this page.");
      // The bulk action ends by clearing the selection (25 stop_job calls, one after another).
      await count.filter({ hasText: "nothing selected" }).waitFor(WAIT);
      await p.getByRole("button", { name: "Previous page" }).click();
      await p.locator("#jobs tbody tr").nth(24).waitFor(WAIT);
      await p.locator("#select-page").check();
      await p.getByRole("button", { name: "Next page" }).click();
      await count.filter({ hasText: "not on this page" }).waitFor(WAIT);
      await p.getByRole("button", { name: "Clear selection" }).click();
      expect(await count.textContent()).toBe("nothing selected");
      expect(await p.getByRole("button", { name: "Cancel selected" }).isDisabled()).toBe(true);
    },
  );

  it("submits an agent job with metadata to a configured agent and follows it to succeeded", async () => {
    const home = newHome().dir;
    writeFileSync(
      join(home, "baton.yaml"),
      [
        "agents:",
        "  fake:",
        "    description: The test agent",
        `    command: ${JSON.stringify([process.execPath, join(FIXTURES, "fake-agent.mjs")])}`,
        "    max_concurrent: 2",
        "",
      ].join("\n"),
    );
    const p = await open("#/agents", home);
    await p.locator('#configured-agents tr[data-agent="fake"]').waitFor(WAIT);
    await p.locator('#configured-agents tr[data-agent="claude"]').waitFor(WAIT);
    await p.locator("#no-agent-jobs").waitFor(WAIT);

    await p.getByLabel("Agent", { exact: true }).fill("fake");
    await p.getByLabel("Instructions").fill("Review the dashboard pages");
    await p.getByLabel("Metadata").fill("pr=42\nteam = web");
    await p.getByRole("button", { name: "Submit" }).click();
    const link = p.locator("#submitted-link");
    await link.waitFor(WAIT);
    const id = (await link.textContent())!;
    const row = p.locator(`#agent-jobs tr[data-id="${id}"]`);
    await row.locator('[data-state="succeeded"]').waitFor(WAIT);
    expect(await row.locator("td").nth(1).textContent()).toBe("fake");
    expect(await p.getByLabel("Instructions").inputValue()).toBe("");

    const shown = await callOp(server!.base, "agent_show", { id }, { authorization: `Bearer ${TOKEN}` });
    expect(shown.body.data).toMatchObject({
      agent: "fake",
      state: "succeeded",
      instructions: "Review the dashboard pages",
      meta: { pr: "42", team: "web" },
    });

    // A line that is not key=value is refused before anything is sent.
    await p.getByLabel("Instructions").fill("another");
    await p.getByLabel("Metadata").fill("oops");
    await p.getByRole("button", { name: "Submit" }).click();
    await p.locator("#submit-status [role=alert]", { hasText: "not key=value" }).waitFor(WAIT);
  });
});
