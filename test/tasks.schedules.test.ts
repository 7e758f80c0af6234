/**
 * Cron schedules of configured tasks (R-18): a slot fires at most once — across scheduler restarts,
 * two schedulers on one ledger, and the wall clock jumping back and forward — and missed slots
 * follow the task's catch_up policy. Plus the systemd/launchd units' text.
 */
import { mkdtempSync, realpathSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../src/core/clock.js";
import type { Opened } from "../src/open.js";
import { openEngine } from "../src/open.js";
import type { TaskDef } from "../src/tasks/config.js";
import { requireTaskConfig } from "../src/tasks/config.js";
import type { TaskSpec } from "../src/tasks/schema.js";
import { placeOf } from "../src/supervisor/hosts.js";
import { hostName } from "../src/supervisor/process.js";
import { syncSchedules, TaskScheduler } from "../src/tasks/schedules.js";
import { launchdPlist, onCalendar, systemdUnits } from "../src/tasks/units.js";

const T0 = Date.UTC(2026, 0, 1, 0, 0, 1);
const MIN = 60_000;
const opened: Opened[] = [];

afterEach(async () => {
  for (const o of opened.splice(0)) await o.store.close();
});

function setup(catchUp?: string) {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), "bts-")));
  const home = join(dir, ".home");
  writeFileSync(
    join(dir, "baton.yaml"),
    `tasks:\n  tick:\n    command: [echo, tick]\n    schedule: "*/10 * * * *"\n    timezone: UTC\n${catchUp === undefined ? "" : `    catch_up: ${catchUp}\n`}`,
  );
  return { dir, home };
}

async function open(home: string, clock: ManualClock): Promise<Opened> {
  const o = await openEngine({ home, clock, actor: "test" });
  opened.push(o);
  return o;
}

async function runs(o: Opened): Promise<{ key: string | null }[]> {
  const jobs = await o.engine.list({ types: ["task:tick"] }, { limit: 1000, order: "asc" });
  return jobs.map((j) => ({ key: j.idempotencyKey }));
}

/** The place (host and home) whose daemon fires a home's schedules. */
function here(home: string): string {
  return placeOf(hostName(), home);
}

function slotKey(slot: number): RegExp {
  return new RegExp(`@${slot}$`);
}

describe("R-18 schedules fire once per slot", () => {
  it("R-18 across a restart and wall-clock jumps of -1 h and +1 h, no slot fires twice", async () => {
    const { dir, home } = setup();
    const clock = new ManualClock(T0);
    const a = await open(home, clock);
    await syncSchedules(a.engine, requireTaskConfig(dir, { ...process.env, BATON_HOME: home }), here(home));
    const scheduler = new TaskScheduler({ engine: a.engine, home, actor: "scheduler" });
    expect(await scheduler.tick()).toBe(0);
    clock.set(T0 + 10 * MIN + 4_000); // 00:10:05: the 00:10 slot is due
    expect(await scheduler.tick()).toBe(1);
    expect(await scheduler.tick()).toBe(0);
    clock.advance(-60 * MIN); // the clock jumps back an hour: 23:10:05 the day before
    expect(await scheduler.tick()).toBe(0);
    clock.advance(60 * MIN); // and back to 00:10:05: the 00:10 slot is spent
    expect(await scheduler.tick()).toBe(0);
    // A restarted scheduler over the same ledger (a new daemon) does not fire it again.
    const b = await open(home, clock);
    const restarted = new TaskScheduler({ engine: b.engine, home, actor: "scheduler" });
    expect(await restarted.tick()).toBe(0);
    clock.advance(60 * MIN); // +1 h jump: 01:10:05; with catch_up skip only the current slot fires
    expect(await restarted.tick()).toBe(1);
    expect(await scheduler.tick()).toBe(0);
    const fired = await runs(a);
    expect(fired).toHaveLength(2);
    expect(fired[0]!.key).toMatch(slotKey(T0 - 1000 + 10 * MIN));
    expect(fired[1]!.key).toMatch(slotKey(T0 - 1000 + 70 * MIN));
  });

  it("R-18 two schedulers ticking the same ledger at once fire each slot once", async () => {
    const { dir, home } = setup("all");
    const clock = new ManualClock(T0);
    const a = await open(home, clock);
    const b = await open(home, clock);
    await syncSchedules(a.engine, requireTaskConfig(dir, { ...process.env, BATON_HOME: home }), here(home));
    const s1 = new TaskScheduler({ engine: a.engine, home, actor: "s1" });
    const s2 = new TaskScheduler({ engine: b.engine, home, actor: "s2" });
    clock.set(T0 + 55 * MIN);
    const [n1, n2] = await Promise.all([s1.tick(), s2.tick()]);
    expect(n1 + n2).toBe(5);
    const keys = (await runs(a)).map((r) => r.key);
    expect(new Set(keys).size).toBe(5);
  });

  it("catch_up: skip fires nothing for slots missed long ago, once fires one run, all fires each", async () => {
    for (const [policy, expected] of [
      ["skip", 0],
      ["once", 1],
      ["all", 3],
    ] as const) {
      const { dir, home } = setup(policy);
      const clock = new ManualClock(T0);
      const o = await open(home, clock);
      await syncSchedules(o.engine, requireTaskConfig(dir, { ...process.env, BATON_HOME: home }), here(home));
      clock.set(T0 + 35 * MIN); // down from 00:00 to 00:35: 00:10, 00:20, 00:30 were missed
      const scheduler = new TaskScheduler({ engine: o.engine, home, actor: "scheduler" });
      expect(await scheduler.tick(), policy).toBe(expected);
      expect(await scheduler.tick(), policy).toBe(0);
    }
  });
});

describe("schedules switched off and on (disable_schedule / enable_schedule, D77)", () => {
  it("a switched-off schedule fires no slot, across a restart; switched on, it resumes at the next slot", async () => {
    const { dir, home } = setup("all"); // catch_up: all, so a slot passed while off would show
    const clock = new ManualClock(T0);
    const a = await open(home, clock);
    const config = requireTaskConfig(dir, { ...process.env, BATON_HOME: home });
    await syncSchedules(a.engine, config, here(home));
    const [row] = await a.store.schedules();
    const off = await a.store.setScheduleDisabled(row!.key, true, "tester");
    expect(off).toMatchObject({ changed: true, schedule: { disabledAt: T0 } });
    // Again: already off, nothing recorded.
    expect((await a.store.setScheduleDisabled(row!.key, true, "tester"))!.changed).toBe(false);
    const scheduler = new TaskScheduler({ engine: a.engine, home, actor: "scheduler" });
    clock.set(T0 + 10 * MIN + 4_000); // the 00:10 slot is due
    expect(await scheduler.tick()).toBe(0);
    // A config read (every command does one) keeps the switch; so does a new daemon.
    await syncSchedules(a.engine, config, here(home));
    const b = await open(home, clock);
    const restarted = new TaskScheduler({ engine: b.engine, home, actor: "scheduler" });
    clock.set(T0 + 30 * MIN + 4_000);
    expect(await restarted.tick()).toBe(0);
    expect(await runs(a)).toEqual([]);
    expect(await restarted.nextWake(3_600_000)).toBe(3_600_000);
    // Switched on at 00:30:05: the 00:10, 00:20 and 00:30 slots are not caught up; 00:40 fires.
    expect(await b.store.setScheduleDisabled(row!.key, false, "tester")).toMatchObject({
      changed: true,
      schedule: { disabledAt: null },
    });
    expect(await restarted.tick()).toBe(0);
    clock.set(T0 + 40 * MIN + 4_000);
    expect(await restarted.tick()).toBe(1);
    const fired = await runs(a);
    expect(fired).toHaveLength(1);
    expect(fired[0]!.key).toMatch(slotKey(T0 - 1000 + 40 * MIN));
    // Each switch is in the audit trail, with who did it.
    const events = await a.engine.events({ limit: 100 });
    expect(events.filter((e) => e.kind.startsWith("schedule_")).map((e) => [e.kind, e.actor])).toEqual([
      ["schedule_disabled", "tester"],
      ["schedule_enabled", "tester"],
    ]);
  });
});

describe("schedules on a ledger shared by several hosts or homes", () => {
  it("each place fires and tidies only its own schedules; rows written before places are replaced", async () => {
    const { dir } = setup();
    const homeA = join(dir, ".home-a");
    const homeB = join(dir, ".home-b");
    const databasePath = join(dir, "shared.db");
    const clock = new ManualClock(T0);
    const a = await openEngine({ home: homeA, databasePath, clock, actor: "test" });
    const b = await openEngine({ home: homeB, databasePath, clock, actor: "test" });
    opened.push(a, b);
    const config = (home: string) => requireTaskConfig(dir, { ...process.env, BATON_HOME: home });
    const file = join(dir, "baton.yaml");
    // A row as a version before places wrote it, for the same file.
    await a.store.registerSchedule({
      key: `${file}#tick`,
      configPath: file,
      task: "tick",
      cron: "*/10 * * * *",
    });
    // Another host's schedule, whose file this machine does not have.
    const foreign = `host:elsewhere:0123456789ab|/nowhere/baton.yaml#tick`;
    await a.store.registerSchedule({
      key: foreign,
      configPath: "/nowhere/baton.yaml",
      task: "tick",
      cron: "*/10 * * * *",
    });

    await syncSchedules(a.engine, config(homeA), here(homeA));
    await syncSchedules(b.engine, config(homeB), here(homeB));
    const keys = async () => (await a.store.schedules()).map((r) => r.key).sort();
    expect(await keys()).toEqual(
      [foreign, `host:${here(homeA)}|${file}#tick`, `host:${here(homeB)}|${file}#tick`].sort(),
    );

    // Each daemon fires its own row's slot, and its run is bound to its own place.
    clock.set(T0 + 10 * MIN + 4_000);
    expect(await new TaskScheduler({ engine: a.engine, home: homeA, actor: "a" }).tick()).toBe(1);
    expect(await new TaskScheduler({ engine: b.engine, home: homeB, actor: "b" }).tick()).toBe(1);
    const fired = await a.engine.list({ types: ["task:tick"] }, { limit: 10, order: "asc" });
    expect(fired.map((j) => (j.payload as { affinity: string }).affinity)).toEqual([
      `host:${here(homeA)}`,
      `host:${here(homeB)}`,
    ]);
    // Neither touched the other host's schedule.
    expect(await keys()).toContain(foreign);

    // B's config loses the schedule: B's row goes, A's stays.
    writeFileSync(file, "tasks:\n  tick:\n    command: [echo, tick]\n");
    await syncSchedules(b.engine, config(homeB), here(homeB));
    expect(await keys()).toEqual([foreign, `host:${here(homeA)}|${file}#tick`].sort());
  });
});

describe("baton schedule install-units", () => {
  const def = (schedule: string, extra: Partial<TaskSpec> = {}): TaskDef => ({
    name: "backup",
    scope: "project",
    file: "/p/baton.yaml",
    root: "/p",
    project: "/p",
    kind: "command",
    spec: { command: ["rclone"], description: "Sync", schedule, ...extra },
  });

  it("writes a systemd .service and .timer", () => {
    const [service, timer] = systemdUnits(def("30 2 * * 1-5", { catch_up: "once" }), {
      batonArgv: ["/usr/bin/node", "/opt/baton.js"],
      env: { BATON_HOME: "/h/.baton" },
    });
    expect(service!.name).toMatch(/^baton-p-[0-9a-f]{8}-backup\.service$/);
    expect(service!.text).toBe(
      [
        "[Unit]",
        "Description=baton task backup: Sync",
        "",
        "[Service]",
        "Type=oneshot",
        "WorkingDirectory=/p",
        'Environment="BATON_HOME=/h/.baton"',
        'ExecStart="/usr/bin/node" "/opt/baton.js" "task" "run" "backup"',
        "",
      ].join("\n"),
    );
    expect(timer!.text).toContain("OnCalendar=Mon,Tue,Wed,Thu,Fri *-*-* 02:30:00\n");
    expect(timer!.text).toContain("Persistent=true\n");
    expect(timer!.text).toContain("WantedBy=timers.target");
    expect(onCalendar(def("*/15 * 1 * *"))).toBe("*-*-01 *:00,15,30,45:00");
    expect(() => onCalendar(def("0 0 1 * 1"))).toThrow(/restrict only one/);
  });

  it("writes a launchd plist with StartCalendarInterval entries", () => {
    const plist = launchdPlist(def("0 9,17 * * 1"), {
      batonArgv: ["/usr/bin/node", "/opt/baton.js"],
      env: {},
    });
    expect(plist.name).toMatch(/^dev\.baton\.p-[0-9a-f]{8}\.backup\.plist$/);
    expect(plist.text).toContain("<string>run</string>");
    expect(plist.text).toContain(
      "    <dict><key>Minute</key><integer>0</integer><key>Hour</key><integer>9</integer><key>Weekday</key><integer>1</integer></dict>",
    );
    expect(plist.text).toContain("<key>Hour</key><integer>17</integer>");
  });
});
