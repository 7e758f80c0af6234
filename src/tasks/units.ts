/**
 * `baton schedule install-units`: OS scheduler units for users who prefer systemd timers or launchd
 * to the baton daemon. Each scheduled task gets a unit that runs `baton task run <name>` in the
 * task's project; the cron expression becomes an `OnCalendar=` line (systemd) or a
 * `StartCalendarInterval` list (launchd). Expressions the target cannot express are refused.
 */
import { InvalidInputError } from "../core/errors.js";
import type { TaskDef } from "./config.js";

export interface UnitFile {
  name: string;
  text: string;
}

const DOW = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const RANGES: [number, number][] = [
  [0, 59],
  [0, 23],
  [1, 31],
  [1, 12],
  [0, 7],
];

function fieldsOf(def: TaskDef): string[] {
  const fields = def.spec.schedule!.trim().split(/\s+/);
  if (fields.length !== 5) {
    throw new InvalidInputError(
      `task '${def.name}': OS units take 5-field cron expressions (minute hour day month weekday), not '${def.spec.schedule}'`,
    );
  }
  for (const f of fields) {
    if (!/^[\d*,/-]+$/.test(f)) {
      throw new InvalidInputError(
        `task '${def.name}': the cron field '${f}' (names, L, W, #, ?) has no OS unit equivalent: use numbers`,
      );
    }
  }
  return fields;
}

/** Every value a numeric cron field matches. */
function expand(field: string, [lo, hi]: [number, number]): number[] {
  const out = new Set<number>();
  for (const part of field.split(",")) {
    const [range, stepText] = part.split("/");
    const step = stepText === undefined ? 1 : Number(stepText);
    let from = lo;
    let to = hi;
    if (range !== "*") {
      const [a, b] = range!.split("-");
      from = Number(a);
      to = b === undefined ? (stepText === undefined ? from : hi) : Number(b);
    }
    for (let v = from; v <= to; v += step) out.add(v);
  }
  return [...out].sort((a, b) => a - b);
}

function isAll(field: string): boolean {
  return field === "*";
}

/** The systemd OnCalendar= value of a 5-field cron expression. */
export function onCalendar(def: TaskDef): string {
  const [minute, hour, day, month, weekday] = fieldsOf(def) as [string, string, string, string, string];
  if (!isAll(day) && !isAll(weekday)) {
    throw new InvalidInputError(
      `task '${def.name}': cron matches day-of-month OR weekday, systemd both at once; restrict only one of them`,
    );
  }
  const list = (field: string, range: [number, number], pad: number) =>
    isAll(field)
      ? "*"
      : expand(field, range)
          .map((v) => String(v).padStart(pad, "0"))
          .join(",");
  const dow = isAll(weekday)
    ? ""
    : `${[...new Set(expand(weekday, RANGES[4]!).map((d) => DOW[d]!))].join(",")} `;
  const zone = def.spec.timezone === undefined ? "" : ` ${def.spec.timezone}`;
  return `${dow}*-${list(month, RANGES[3]!, 2)}-${list(day, RANGES[2]!, 2)} ${list(hour, RANGES[1]!, 2)}:${list(minute, RANGES[0]!, 2)}:00${zone}`;
}

function unitBase(def: TaskDef): string {
  return `baton-task-${def.name.replace(/[^A-Za-z0-9_-]/g, "_")}`;
}

/** Quote one argument for systemd's ExecStart= (double quotes; `\` and `"` escaped; `%` doubled). */
function systemdArg(arg: string): string {
  return `"${arg.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/%/g, "%%").replace(/\$/g, "$$$$")}"`;
}

/** A systemd user .service and .timer for a scheduled task. */
export function systemdUnits(def: TaskDef, batonArgv: readonly string[]): UnitFile[] {
  const base = unitBase(def);
  const exec = [...batonArgv, "task", "run", def.name].map(systemdArg).join(" ");
  const description = (def.spec.description ?? def.name).replace(/\n/g, " ");
  const service = [
    "[Unit]",
    `Description=baton task ${def.name}: ${description}`,
    "",
    "[Service]",
    "Type=oneshot",
    `WorkingDirectory=${systemdArg(def.root)}`,
    `ExecStart=${exec}`,
    "",
  ].join("\n");
  const timer = [
    "[Unit]",
    `Description=Schedule of baton task ${def.name} (${def.spec.schedule})`,
    "",
    "[Timer]",
    `OnCalendar=${onCalendar(def)}`,
    `Persistent=${def.spec.catch_up === undefined || def.spec.catch_up === "skip" ? "false" : "true"}`,
    `Unit=${base}.service`,
    "",
    "[Install]",
    "WantedBy=timers.target",
    "",
  ].join("\n");
  return [
    { name: `${base}.service`, text: service },
    { name: `${base}.timer`, text: timer },
  ];
}

function xml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** A launchd agent plist for a scheduled task. */
export function launchdPlist(def: TaskDef, batonArgv: readonly string[]): UnitFile {
  const [minute, hour, day, month, weekday] = fieldsOf(def) as [string, string, string, string, string];
  const keys: [string, string, [number, number]][] = [
    ["Minute", minute, RANGES[0]!],
    ["Hour", hour, RANGES[1]!],
    ["Day", day, RANGES[2]!],
    ["Month", month, RANGES[3]!],
    ["Weekday", weekday, RANGES[4]!],
  ];
  let entries: Record<string, number>[] = [{}];
  for (const [key, field, range] of keys) {
    if (isAll(field)) continue;
    const values = [...new Set(expand(field, range).map((v) => (key === "Weekday" ? v % 7 : v)))];
    entries = entries.flatMap((e) => values.map((v) => ({ ...e, [key]: v })));
    if (entries.length > 1000) {
      throw new InvalidInputError(`task '${def.name}': the schedule expands to over 1000 launchd intervals`);
    }
  }
  const label = `dev.baton.task.${def.name}`;
  const args = [...batonArgv, "task", "run", def.name].map((a) => `    <string>${xml(a)}</string>`);
  const intervals = entries.map(
    (e) =>
      `    <dict>${Object.entries(e)
        .map(([k, v]) => `<key>${k}</key><integer>${v}</integer>`)
        .join("")}</dict>`,
  );
  const text = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    '<plist version="1.0">',
    "<dict>",
    `  <key>Label</key><string>${xml(label)}</string>`,
    "  <key>ProgramArguments</key>",
    "  <array>",
    ...args,
    "  </array>",
    `  <key>WorkingDirectory</key><string>${xml(def.root)}</string>`,
    "  <key>StartCalendarInterval</key>",
    "  <array>",
    ...intervals,
    "  </array>",
    "</dict>",
    "</plist>",
    "",
  ].join("\n");
  return { name: `${label}.plist`, text };
}
