/**
 * Recurring jobs: enqueue a handler's job at every slot of a cron expression, from any number of
 * processes, without ever firing a slot twice.
 *
 * The ledger keeps each schedule's last slot (`Store.advanceSchedule` is a compare-and-set): a
 * process that wins the move from the old slot to the new one enqueues the job; the others see the
 * slot taken. The move comes first, so a crash between it and the enqueue loses that one slot
 * rather than risking a double fire. Missed slots (nothing ran while they passed) fire once, for
 * the latest of them.
 */
import { Cron } from "croner";
import type { z } from "zod";
import { InvalidInputError } from "../core/errors.js";
import type { Timer } from "../core/timer.js";
import { after } from "../core/timer.js";
import type { Engine } from "../engine/engine.js";
import type { ScheduleRecord } from "../store/types.js";
import { handlerJobSpec } from "./enqueue.js";
import type { Handler } from "./handler.js";

/** One recurring job. */
export interface CronSchedule<S extends z.ZodType = z.ZodType> {
  /** Unique per ledger: the schedule's identity across processes and restarts. */
  name: string;
  /** Five or six fields (seconds first when six), e.g. `0 * * * *` or `*\/10 * * * * *`. */
  cron: string;
  handler: Handler<S>;
  payload: z.input<S>;
}

/** Build a schedule with its payload type-checked against the handler. */
export function cronSchedule<S extends z.ZodType>(schedule: CronSchedule<S>): CronSchedule {
  return schedule;
}

const MAX_SLEEP_MS = 60_000;

function parseCron(expression: string, name: string): Cron {
  try {
    return new Cron(expression, { paused: true });
  } catch (error) {
    throw new InvalidInputError(
      `schedule '${name}': bad cron expression '${expression}': ${(error as Error).message}`,
    );
  }
}

/** The latest slot after `after` that is due at `now`, or undefined when none is. */
export function latestDueSlot(cron: Cron, after: number, now: number): number | undefined {
  let due: number | undefined;
  let cursor = new Date(after);
  for (let i = 0; i < 100_000; i++) {
    const next = cron.nextRun(cursor);
    if (next === null || next.getTime() > now) return due;
    due = next.getTime();
    cursor = next;
  }
  return due;
}

export class CronScheduler {
  private readonly entries: { schedule: CronSchedule; cron: Cron; key: string }[];
  private timer: Timer | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly engine: Engine,
    schedules: readonly CronSchedule[],
    private readonly onError: (error: unknown) => void,
  ) {
    const names = new Set<string>();
    this.entries = schedules.map((schedule) => {
      if (names.has(schedule.name)) throw new InvalidInputError(`two schedules are named '${schedule.name}'`);
      names.add(schedule.name);
      handlerJobSpec(schedule.handler, schedule.payload); // a payload that does not fit fails now, not at 3 am
      return { schedule, cron: parseCron(schedule.cron, schedule.name), key: `library#${schedule.name}` };
    });
  }

  async start(): Promise<void> {
    if (this.entries.length === 0) return;
    for (const e of this.entries) {
      await this.engine.store.registerSchedule({
        key: e.key,
        configPath: "library",
        task: e.schedule.name,
        cron: e.schedule.cron,
      });
    }
    this.plan(0);
  }

  private plan(delayMs: number): void {
    if (this.stopped) return;
    this.timer = after(delayMs, () => {
      this.running = this.pass()
        .catch((error: unknown) => {
          this.onError(error);
          return 1000;
        })
        .then((next) => this.plan(next))
        .finally(() => (this.running = undefined));
    });
  }

  /** Fire what is due; resolve with how long to sleep. */
  private async pass(): Promise<number> {
    const records = new Map<string, ScheduleRecord>(
      (await this.engine.store.schedules()).map((r) => [r.key, r]),
    );
    const now = this.engine.clock.now();
    let sleep = MAX_SLEEP_MS;
    for (const e of this.entries) {
      const record = records.get(e.key);
      if (record === undefined || this.stopped) continue;
      const slot = latestDueSlot(e.cron, record.lastSlot, now);
      let last = record.lastSlot;
      if (
        slot !== undefined &&
        (await this.engine.store.advanceSchedule(e.key, record.lastSlot, slot, true))
      ) {
        last = slot;
        await this.engine.enqueue(
          handlerJobSpec(e.schedule.handler, e.schedule.payload, {
            key: `cron:${e.schedule.name}:${slot}`,
            keyScope: "until-cleaned",
            tags: [`schedule:${e.schedule.name}`],
          }),
        );
      } else if (slot !== undefined) {
        sleep = 0; // another process moved it meanwhile: look again with fresh records
        continue;
      }
      const next = e.cron.nextRun(new Date(Math.max(last, now)));
      if (next !== null) sleep = Math.min(sleep, Math.max(0, next.getTime() - this.engine.clock.now()));
    }
    return sleep;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    await this.running;
  }
}
