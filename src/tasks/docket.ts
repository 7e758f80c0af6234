/**
 * docket configs read as baton configs. A docket user points baton at their `config.yaml`
 * unchanged (as `baton.yaml`), or converts it once with `baton task import`: each docket spelling
 * becomes baton's, and each change is listed so the user sees what was read how.
 *
 * - `type: command` tasks: `command` (a string is an executable line, not a shell script) plus
 *   `args` / `dry_run_args` become argv lists; `output_format` → `output`; `timeout_seconds` /
 *   `idle_timeout_seconds` → durations; `retry: N` (retries after the first attempt) with
 *   `backoff_base: b` (wait b^n seconds) → `retry: {attempts: N+1, base: b s, factor: b}`.
 * - `requires_env` (baton's earlier spelling) → `required_env`, the one spelling of the concept.
 * - docket's built-in tasks (`backup`, `hbackup`, `health-check`, by name, with no command) become
 *   the command lines they wrap (rclone / rsync / hbackup, and a shell health check).
 * - `notify`: `{task}` placeholders → `{{task}}`, telegram `chat` → `chat_id`.
 * - keys baton has no use for (`state_dir`, `tasks_dir`, `logs_dir`, `docket_bin`, `schema`,
 *   discord `username`) are dropped, and listed.
 * Hooks get docket's `DOCKET_*` variables beside baton's (hooks.ts).
 */

/** One change made to a config while reading it as baton's. */
export interface DocketChange {
  /** The key path, dotted (`tasks.backup.retry`). */
  key: string;
  message: string;
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);
const strings = (v: unknown): string[] | undefined =>
  Array.isArray(v) && v.every((x): x is string => typeof x === "string") ? v : undefined;
const text = (v: unknown): string => (typeof v === "string" ? v : "");

const DROPPED_TOP = ["state_dir", "tasks_dir", "logs_dir"];
/** docket's built-in tasks, and the settings that mark a task as one of them. */
const BUILT_INS: Record<string, string[]> = {
  backup: ["source", "remote", "tool", "hbackup_command", "hbackup_bin"],
  hbackup: ["action", "hbackup_bin"],
  "health-check": ["checks", "disk_threshold_pct", "memory_threshold_pct", "systemd_units"],
};

/** A docket command line as argv: words when it is plain words, else a shell line taking "$@". */
function docketArgv(command: unknown, name: string): string[] | undefined {
  if (strings(command) !== undefined) return strings(command);
  if (typeof command !== "string") return undefined;
  if (/^[\w./@:=+,%~-]+(\s+[\w./@:=+,%~-]+)*$/.test(command.trim())) return command.trim().split(/\s+/);
  return ["/bin/sh", "-c", `${command} "$@"`, name];
}

function seconds(value: number): string {
  return Number.isInteger(value) ? `${value}s` : `${Math.round(value * 1000)}ms`;
}

/** The command a docket built-in task wraps, from its settings (which are removed from `task`). */
function builtIn(name: string, task: Obj, change: (key: string, message: string) => void): void {
  const take = (key: string): unknown => {
    const v = task[key];
    delete task[key];
    return v;
  };
  const extra = strings(take("extra_args")) ?? [];
  const idle = take("idle_timeout_seconds");
  if (typeof idle === "number" && idle > 0) {
    task.idle_timeout = seconds(idle);
    change(`tasks.${name}.idle_timeout_seconds`, `read as idle_timeout: ${task.idle_timeout}`);
  }
  let argv: string[];
  let dry: string[];
  if (name === "health-check") {
    const checks = strings(take("checks")) ?? ["disk", "memory", "systemd-units"];
    const disk = take("disk_threshold_pct");
    const memory = take("memory_threshold_pct");
    const units = strings(take("systemd_units")) ?? [];
    task.env = {
      ...(isObj(task.env) ? task.env : {}),
      CHECKS: checks.join(" "),
      DISK_THRESHOLD_PCT: String(typeof disk === "number" ? disk : 90),
      MEMORY_THRESHOLD_PCT: String(typeof memory === "number" ? memory : 90),
      SYSTEMD_UNITS: units.join(" "),
    };
    argv = ["/bin/sh", "-c", HEALTH_CHECK, name];
    dry = ["/bin/sh", "-c", 'echo "would check: $CHECKS"', name];
    change(`tasks.${name}`, "docket's built-in health-check: a shell script checking disk, memory and units");
  } else {
    const tool = name === "hbackup" ? "hbackup" : typeof task.tool === "string" ? task.tool : "rclone";
    delete task.tool;
    const source = take("source");
    const remote = take("remote");
    if (tool === "hbackup") {
      const bin = take("hbackup_bin");
      const action = name === "hbackup" ? take("action") : take("hbackup_command");
      argv = [
        typeof bin === "string" ? bin : "hbackup",
        typeof action === "string" ? action : "backup",
        ...extra,
      ];
    } else if (tool === "rsync") {
      argv = ["rsync", "-a", text(source), text(remote), ...extra];
    } else {
      argv = ["rclone", "sync", text(source), text(remote), ...extra];
    }
    dry = [...argv, "--dry-run"];
    for (const key of [
      "output",
      "excludes",
      "archive",
      "destination",
      "drive",
      "drive_remote",
      "drive_folder",
    ]) {
      if (take(key) !== undefined)
        change(`tasks.${name}.${key}`, `dropped: docket's ${tool} setting, not passed to the command`);
    }
    change(`tasks.${name}`, `docket's built-in ${name}: command ${JSON.stringify(argv)}`);
  }
  task.command = argv;
  task.dry_run_command = dry;
}

/** docket's health-check as a POSIX shell script (settings come in through the environment). */
const HEALTH_CHECK = [
  "fail=0",
  "for check in $CHECKS; do case $check in",
  'disk) p=$(df -P / | awk \'NR==2 {gsub("%","",$5); print $5}\'); echo "disk ${p}% (limit ${DISK_THRESHOLD_PCT}%)"; [ "$p" -le "$DISK_THRESHOLD_PCT" ] || fail=1;;',
  'memory) p=$(awk \'/^MemTotal/ {t=$2} /^MemAvailable/ {a=$2} END {printf "%d", (t-a)*100/t}\' /proc/meminfo); echo "memory ${p}% (limit ${MEMORY_THRESHOLD_PCT}%)"; [ "$p" -le "$MEMORY_THRESHOLD_PCT" ] || fail=1;;',
  'systemd-units) for u in $SYSTEMD_UNITS; do if systemctl is-active --quiet "$u"; then echo "$u active"; else echo "$u not active"; fail=1; fi; done;;',
  "esac; done",
  'if [ $fail = 0 ]; then echo "healthy"; else echo "unhealthy"; fi',
  "exit $fail",
].join("\n");

/** One task of a docket (or baton) config, converted in place. */
function convertTask(name: string, task: Obj, change: (key: string, message: string) => void): void {
  const at = (key: string) => `tasks.${name}.${key}`;
  const rename = (from: string, to: string) => {
    if (!(from in task)) return;
    if (!(to in task)) task[to] = task[from];
    delete task[from];
    change(at(from), `read as ${to}`);
  };
  rename("requires_env", "required_env");
  const docketCommand = task.type === "command";
  if (docketCommand) {
    delete task.type;
    change(at("type"), "dropped: a task with a command is a command task");
  }
  const marks = BUILT_INS[name];
  if (
    task.command === undefined &&
    task.plugin === undefined &&
    task.type === undefined &&
    marks?.some((key) => key in task) === true
  )
    builtIn(name, task, change);
  if (docketCommand || "dry_run_args" in task) {
    const base = docketArgv(task.command, name);
    const args = strings(task.args) ?? [];
    if (base !== undefined) {
      task.command = [...base, ...args];
      delete task.args;
      const dryArgs = strings(task.dry_run_args);
      if (dryArgs !== undefined && task.dry_run_command === undefined) {
        task.dry_run_command = [...base, ...dryArgs];
        change(at("dry_run_args"), `read as dry_run_command: ${JSON.stringify(task.dry_run_command)}`);
        delete task.dry_run_args;
      }
      const dry = docketArgv(task.dry_run_command, name);
      if (dry !== undefined) task.dry_run_command = dry;
    }
  }
  rename("output_format", "output");
  for (const [from, to] of [
    ["timeout_seconds", "timeout"],
    ["idle_timeout_seconds", "idle_timeout"],
  ] as const) {
    const value = task[from];
    if (typeof value === "number" && value > 0) {
      task[to] = seconds(value);
      delete task[from];
      change(at(from), `read as ${to}: ${String(task[to])}`);
    } else if (value === null || value === 0) {
      delete task[from];
      change(at(from), `${String(value)}: no ${to}`);
    }
  }
  const backoffBase = task.backoff_base;
  if (typeof task.retry === "number" && Number.isInteger(task.retry) && task.retry >= 0) {
    const b = typeof backoffBase === "number" && backoffBase > 0 ? backoffBase : 2;
    task.retry = {
      attempts: task.retry + 1,
      backoff: "exponential",
      base: seconds(b),
      ...(b >= 1 ? { factor: b } : {}),
    };
    delete task.backoff_base;
    change(
      at("retry"),
      `read as retry: ${JSON.stringify(task.retry)} (a count of retries, waiting backoff_base^n s)`,
    );
  } else if (typeof backoffBase === "number") {
    delete task.backoff_base;
    change(at("backoff_base"), "dropped: no retry count beside it");
  }
  for (const key of ["docket_bin", "schema"]) {
    if (key in task) {
      delete task[key];
      change(at(key), key === "docket_bin" ? "dropped: baton writes its own units" : "dropped: use inputs:");
    }
  }
  if (isObj(task.notify)) convertNotify(task.notify, `tasks.${name}.notify`, change);
}

function convertNotify(notify: Obj, at: string, change: (key: string, message: string) => void): void {
  if (typeof notify.message === "string" && /(^|[^{])\{[a-z_]+\}(?!\})/.test(notify.message)) {
    notify.message = notify.message.replace(/(^|[^{])\{([a-z_]+)\}(?!\})/g, "$1{{$2}}");
    change(`${at}.message`, `placeholders read as ${notify.message}`);
  }
  if (isObj(notify.discord) && "username" in notify.discord) {
    delete notify.discord.username;
    change(`${at}.discord.username`, "dropped: the webhook's own name is used");
  }
  if (isObj(notify.telegram)) {
    for (const [from, to] of [
      ["chat", "chat_id"],
      ["chat_env", "chat_id_env"],
    ] as const) {
      if (from in notify.telegram && !(to in notify.telegram)) {
        notify.telegram[to] = notify.telegram[from];
        delete notify.telegram[from];
        change(`${at}.telegram.${from}`, `read as ${to}`);
      }
    }
  }
}

/**
 * A parsed config with docket's spellings turned into baton's (a copy), and what was changed.
 * A config that is baton's already comes back equal, with no changes.
 */
export function fromDocket(data: Obj): { data: Obj; changes: DocketChange[] } {
  const out = structuredClone(data);
  const changes: DocketChange[] = [];
  const change = (key: string, message: string) => changes.push({ key, message });
  for (const key of DROPPED_TOP) {
    if (key in out) {
      delete out[key];
      change(key, "dropped: baton keeps runs in its ledger and logs under BATON_HOME");
    }
  }
  if (isObj(out.tasks)) {
    for (const [name, task] of Object.entries(out.tasks)) if (isObj(task)) convertTask(name, task, change);
  }
  return { data: out, changes };
}
