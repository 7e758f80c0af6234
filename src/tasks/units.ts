/**
 * `baton schedule install-units`: OS scheduler units for users who prefer systemd timers or launchd
 * to the baton daemon. Each scheduled task gets a unit that runs `baton task run <name>` in the
 * task's project, with the ledger's environment (`BATON_HOME`, …); the cron expression becomes an
 * `OnCalendar=` line (systemd) or a `StartCalendarInterval` list (launchd). A task whose schedule
 * the target cannot express is skipped with the reason (the daemon still fires it), never
 * written wrong. Unit names carry the project (its folder name and a hash of its config file), so
 * two projects' `backup` tasks do not overwrite each other.
 */
import { createHash } from "node:crypto";
import { basename } from "node:path";
import { InvalidInputError } from "../core/errors.js";
import type { TaskDef } from "./config.js";

export interface UnitFile {
  name: string;
  text: string;
}

/** What a unit runs and with which environment. */
export interface UnitContext {
  /** The argv of baton itself (node and bin/baton.js). */
  batonArgv: readonly string[];
  /** Variables the unit sets (the ledger's: BATON_HOME, PATH, …). */
  env: Readonly<Record<string, string>>;
}

/** The units written for some tasks, and the tasks skipped with the reason. */
export interface UnitPlan {
  files: UnitFile[];
  skipped: { task: string; reason: string }[];
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

/** `<project folder>-<hash of its config file>`: one project's part of a unit name. */
function projectSlug(def: TaskDef): string {
  const folder =
    basename(def.root)
      .replace(/[^A-Za-z0-9_-]/g, "_")
      .slice(0, 40) || "root";
  const hash = createHash("sha256").update(def.file).digest("hex").slice(0, 8);
  return `${folder}-${hash}`;
}

function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9_-]/g, "_");
}

/** `baton-<project>-<hash>-<task>`: unique per project and task. */
export function unitBase(def: TaskDef): string {
  return `baton-${projectSlug(def)}-${safeName(def.name)}`;
}

/** The launchd label: `dev.baton.<project>-<hash>.<task>`. */
export function launchdLabel(def: TaskDef): string {
  return `dev.baton.${projectSlug(def)}.${safeName(def.name)}`;
}

/** systemd expands `%` specifiers in most settings: a literal `%` is `%%`. */
function systemdText(text: string): string {
  return text.replace(/%/g, "%%");
}

/** Quote one argument for systemd's ExecStart= (double quotes; `\` and `"` escaped; `%` doubled). */
function systemdArg(arg: string): string {
  return `"${systemdText(arg.replace(/\\/g, "\\\\").replace(/"/g, '\\"')).replace(/\$/g, "$$$$")}"`;
}

/** One `Environment=` assignment, quoted (systemd does not expand `$` there, only `%`). */
function systemdEnv(key: string, value: string): string {
  return `Environment=${systemdText(`"${`${key}=${value}`.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`)}`;
}

/**
 * A systemd user .service and .timer for a scheduled task. `WorkingDirectory=` takes a bare
 * absolute path: systemd refuses a quoted one ("path is not absolute").
 */
export function systemdUnits(def: TaskDef, context: UnitContext): UnitFile[] {
  const base = unitBase(def);
  const exec = [...context.batonArgv, "task", "run", def.name].map(systemdArg).join(" ");
  const description = systemdText((def.spec.description ?? def.name).replace(/\n/g, " "));
  const service = [
    "[Unit]",
    `Description=baton task ${def.name}: ${description}`,
    "",
    "[Service]",
    "Type=oneshot",
    `WorkingDirectory=${systemdText(def.root)}`,
    ...Object.entries(context.env).map(([k, v]) => systemdEnv(k, v)),
    `ExecStart=${exec}`,
    "",
  ].join("\n");
  const timer = [
    "[Unit]",
    `Description=Schedule of baton task ${def.name} (${systemdText(def.spec.schedule!)})`,
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

/** Every combination of the fields' values, as StartCalendarInterval entries (at most 1000). */
function calendarEntries(def: TaskDef, keys: [string, string, [number, number]][]): Record<string, number>[] {
  let entries: Record<string, number>[] = [{}];
  for (const [key, field, range] of keys) {
    if (isAll(field)) continue;
    const values = [...new Set(expand(field, range).map((v) => (key === "Weekday" ? v % 7 : v)))];
    entries = entries.flatMap((e) => values.map((v) => ({ ...e, [key]: v })));
    if (entries.length > 1000) {
      throw new InvalidInputError(`task '${def.name}': the schedule expands to over 1000 launchd intervals`);
    }
  }
  return entries;
}

/**
 * A launchd agent plist for a scheduled task. launchd reads StartCalendarInterval in the Mac's own
 * time zone and has no key for another: a task with `timezone:` is refused (the caller skips it).
 */
export function launchdPlist(def: TaskDef, context: UnitContext): UnitFile {
  if (def.spec.timezone !== undefined) {
    throw new InvalidInputError(
      `task '${def.name}': launchd fires StartCalendarInterval in the system's time zone and cannot follow timezone: ${def.spec.timezone}`,
    );
  }
  const [minute, hour, day, month, weekday] = fieldsOf(def) as [string, string, string, string, string];
  // cron runs when day-of-month OR weekday matches (both restricted): one entry list for each.
  const dayForms: [string, string][] =
    !isAll(day) && !isAll(weekday)
      ? [
          [day, "*"],
          ["*", weekday],
        ]
      : [[day, weekday]];
  const entries = dayForms.flatMap(([d, w]) =>
    calendarEntries(def, [
      ["Minute", minute, RANGES[0]!],
      ["Hour", hour, RANGES[1]!],
      ["Day", d, RANGES[2]!],
      ["Month", month, RANGES[3]!],
      ["Weekday", w, RANGES[4]!],
    ]),
  );
  const label = launchdLabel(def);
  const args = [...context.batonArgv, "task", "run", def.name].map((a) => `    <string>${xml(a)}</string>`);
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
    "  <key>EnvironmentVariables</key>",
    "  <dict>",
    ...Object.entries(context.env).map(([k, v]) => `    <key>${xml(k)}</key><string>${xml(v)}</string>`),
    "  </dict>",
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

/**
 * The units of `defs` (each must have a schedule) in `format`. A task whose schedule the target
 * cannot express (seconds, names, both day fields for systemd, a time zone for launchd) is skipped
 * with the reason instead of failing the others.
 */
export function unitPlan(
  format: "systemd" | "launchd",
  defs: readonly TaskDef[],
  context: UnitContext,
): UnitPlan {
  const plan: UnitPlan = { files: [], skipped: [] };
  for (const def of defs) {
    try {
      if (format === "launchd") plan.files.push(launchdPlist(def, context));
      else plan.files.push(...systemdUnits(def, context));
    } catch (error) {
      if (!(error instanceof InvalidInputError)) throw error;
      plan.skipped.push({
        task: def.name,
        reason: `${error.message.replace(/^task '[^']*': /, "")}; the baton daemon still fires it`,
      });
    }
  }
  return plan;
}
