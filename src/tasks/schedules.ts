/**
 * Cron schedules of configured tasks, fired by the daemon. The ledger's `schedules` rows are the
 * truth: `last_slot` only moves forward, by compare-and-set, in the same transaction as the run is
 * inserted (with an idempotency key per slot), so a slot fires at most once — across daemon
 * restarts, several daemons and wall-clock jumps. A clock set back fires nothing until real
 * time passes the last slot again; a clock set forward (or a daemon that was down) meets the
 * task's `catch_up` policy: `skip` (default: only a slot that is due right now), `once` (one run
 * for all missed slots), `all` (every missed slot, at most 100).
 */
import { statSync } from "node:fs";
import { Cron } from "croner";
import { toBatonError } from "../core/errors.js";
import { SCHEDULE_KEY_PREFIX } from "../core/executors.js";
import type { Engine } from "../engine/engine.js";
import type { ScheduleRecord } from "../store/types.js";
import { herePlace } from "../supervisor/hosts.js";
import type { TaskConfig, TaskDef } from "./config.js";
import { loadTaskConfig } from "./config.js";
import { insertTaskRun, prepareTaskRun } from "./start.js";

/** A slot is "on time" when the scheduler sees it within this long (else it was missed). */
export const ON_TIME_MS = 60_000;
const MAX_CATCH_UP = 100;

function cron(expression: string, timezone: string | undefined): Cron {
  return new Cron(expression, { paused: true, ...(timezone === undefined ? {} : { timezone }) });
}

/** The next `count` fire times after `from` (ms). */
export function nextFires(
  expression: string,
  timezone: string | undefined,
  count: number,
  from = Date.now(),
): number[] {
  try {
    return cron(expression, timezone)
      .nextRuns(count, new Date(from))
      .map((d) => d.getTime());
  } catch {
    return [];
  }
}

/** Slots in (after, until], oldest first, at most `limit`. */
export function slotsBetween(
  expression: string,
  timezone: string | undefined,
  after: number,
  until: number,
  limit = 10_000,
): number[] {
  const job = cron(expression, timezone);
  const out: number[] = [];
  let cursor = new Date(after);
  while (out.length < limit) {
    const next = job.nextRun(cursor);
    if (next === null || next.getTime() > until) break;
    out.push(next.getTime());
    cursor = next;
  }
  return out;
}

/**
 * The schedule key of a task: `host:<host>:<home id>|<config file>#<task>`. The place comes first
 * because on a shared ledger the same path may hold different configs on different hosts (the
 * personal `~/.baton/config.yaml` always does), and only that place's daemon can read the file.
 * Keys written before schedules named their place are `<config file>#<task>` (see `ownedBy`).
 */
export function scheduleKey(def: TaskDef, place: string): string {
  return `${placePrefix(place)}${def.file}#${def.name}`;
}

function placePrefix(place: string): string {
  return `host:${place}|`;
}

/** Whether a schedule row is this place's to fire and tidy: its own, or one without a place. */
function ownedBy(row: ScheduleRecord, place: string): boolean {
  return row.key.startsWith(placePrefix(place)) || !row.key.startsWith("host:");
}

function daemonScheduled(def: TaskDef): boolean {
  return def.spec.schedule !== undefined && def.spec.scheduler !== "os";
}

/**
 * Make the ledger's schedules match a loaded config: register (or update) every scheduled task of
 * its files, unregister the ones that left them. Called whenever a config is read by a command.
 */
export async function syncSchedules(engine: Engine, config: TaskConfig, place: string): Promise<void> {
  const wanted = new Map(config.tasks.filter(daemonScheduled).map((t) => [scheduleKey(t, place), t]));
  for (const [key, def] of wanted) {
    await engine.store.registerSchedule({
      key,
      configPath: def.file,
      task: def.name,
      cron: def.spec.schedule!,
    });
  }
  const files = new Set([config.projectFile, config.personalFile]);
  for (const row of await engine.store.schedules()) {
    if (ownedBy(row, place) && files.has(row.configPath) && !wanted.has(row.key))
      await engine.store.unregisterSchedule(row.key);
  }
}

/** Which slots of a schedule to fire now, and the newest slot to pass over. */
export function slotsToFire(
  due: readonly number[],
  now: number,
  policy: "skip" | "once" | "all",
): { fire: number[]; through: number | undefined } {
  const latest = due[due.length - 1];
  if (latest === undefined) return { fire: [], through: undefined };
  switch (policy) {
    case "skip":
      return { fire: now - latest <= ON_TIME_MS ? [latest] : [], through: latest };
    case "once":
      return { fire: [latest], through: latest };
    case "all":
      return { fire: due.slice(-MAX_CATCH_UP), through: latest };
  }
}

export interface SchedulerOptions {
  engine: Engine;
  home: string;
  actor: string;
  /** Wake the supervisor after a fire. */
  wake?: () => void;
  log?: (line: string) => void;
}

/** The daemon's cron loop: `tick()` fires what is due; `nextWake()` says when to tick again. */
export class TaskScheduler {
  private readonly o: SchedulerOptions;
  private readonly cache = new Map<string, { mtimeMs: number; config: TaskConfig | undefined }>();
  private readonly place: string;

  constructor(options: SchedulerOptions) {
    this.o = options;
    this.place = herePlace(process.env, options.home); // the schedules this daemon fires
  }

  /** The task a schedule row names, read from its config file (cached by mtime); undefined if gone. */
  private taskOf(row: ScheduleRecord): { def: TaskDef; config: TaskConfig } | undefined | "broken" {
    let mtimeMs: number;
    try {
      mtimeMs = statSync(row.configPath).mtimeMs;
    } catch {
      return undefined;
    }
    let entry = this.cache.get(row.configPath);
    if (entry === undefined || entry.mtimeMs !== mtimeMs) {
      const loaded = loadTaskConfig(row.configPath.replace(/[/\\][^/\\]+$/, ""), {
        ...process.env,
        BATON_HOME: this.o.home,
      });
      entry = { mtimeMs, config: loaded.ok ? loaded.value : undefined };
      this.cache.set(row.configPath, entry);
    }
    if (entry.config === undefined) return "broken";
    const def = entry.config.tasks.find((t) => t.name === row.task && t.file === row.configPath);
    return def === undefined || !daemonScheduled(def) ? undefined : { def, config: entry.config };
  }

  /** Fire every due slot of every schedule. */
  async tick(): Promise<number> {
    const { engine } = this.o;
    const now = engine.clock.now();
    let fired = 0;
    for (const row of await engine.store.schedules()) {
      // Another host's (or home's) schedule: its config file is on that host.
      if (!ownedBy(row, this.place)) continue;
      // Switched off: no slot fires; switching it on counts from then (store.setScheduleDisabled).
      if (row.disabledAt !== null) continue;
      const found = this.taskOf(row);
      if (found === "broken") continue; // `doctor` and `config validate` report it; nothing runs
      if (found === undefined) {
        await engine.store.unregisterSchedule(row.key);
        continue;
      }
      const { def } = found;
      if (def.spec.schedule !== row.cron) {
        await engine.store.registerSchedule({
          key: row.key,
          configPath: row.configPath,
          task: row.task,
          cron: def.spec.schedule!,
        });
        continue;
      }
      let due: number[];
      try {
        due = slotsBetween(row.cron, def.spec.timezone, row.lastSlot, now);
      } catch (error) {
        this.o.log?.(`schedule ${row.key}: ${(error as Error).message}`);
        continue;
      }
      const { fire, through } = slotsToFire(due, now, def.spec.catch_up ?? "skip");
      let expected = row.lastSlot;
      for (const slot of fire) {
        const moved = await this.fire(row, def, expected, slot);
        if (moved === "raced") break;
        expected = slot;
        if (moved === "fired") fired++;
      }
      if (through !== undefined && through > expected)
        await engine.store.advanceSchedule(row.key, expected, through, false);
    }
    if (fired > 0) this.o.wake?.();
    return fired;
  }

  private async fire(
    row: ScheduleRecord,
    def: TaskDef,
    expected: number,
    slot: number,
  ): Promise<"fired" | "passed" | "raced"> {
    const { engine, home } = this.o;
    const key = `${SCHEDULE_KEY_PREFIX}${row.key}@${slot}`;
    try {
      const prepared = await prepareTaskRun(engine, def, {
        inputs: {},
        dryRun: false,
        force: false,
        cwd: def.root,
        env: { ...process.env, BATON_HOME: home },
        home,
        actor: this.o.actor,
        project: def.project ?? def.root,
        key,
        tags: ["scheduled"],
      });
      if (prepared.kind !== "job") return "passed";
      const inserted = await insertTaskRun(engine, def, prepared, (job, lock) =>
        engine.store.fireSchedule(row.key, expected, slot, job, this.o.actor, lock),
      );
      if (inserted === undefined) return "raced";
      this.o.log?.(`schedule ${row.key}: fired slot ${new Date(slot).toISOString()} as ${inserted.job.id}`);
      return "fired";
    } catch (error) {
      // Locked (a run still going), missing env, bad inputs: this slot passes without a run.
      this.o.log?.(
        `schedule ${row.key}: slot ${new Date(slot).toISOString()} not run: ${toBatonError(error).message}`,
      );
      const moved = await engine.store.advanceSchedule(row.key, expected, slot, false);
      return moved ? "passed" : "raced";
    }
  }

  /** Milliseconds until the next slot of any schedule (capped), for the daemon's timer. */
  async nextWake(maxMs: number): Promise<number> {
    const now = this.o.engine.clock.now();
    let next = now + maxMs;
    for (const row of await this.o.engine.store.schedules()) {
      if (row.disabledAt !== null) continue;
      const found = this.taskOf(row);
      if (found === undefined || found === "broken") continue;
      const at = nextFires(row.cron, found.def.spec.timezone, 1, Math.max(now, row.lastSlot))[0];
      if (at !== undefined) next = Math.min(next, at);
    }
    return Math.max(10, next - now);
  }
}

/** The personal config's schedules, registered when the daemon starts (it has no project cwd). */
export async function syncPersonalSchedules(engine: Engine, home: string): Promise<void> {
  const loaded = loadTaskConfig(home, { ...process.env, BATON_HOME: home });
  if (loaded.ok) await syncSchedules(engine, loaded.value, herePlace(process.env, home));
}
