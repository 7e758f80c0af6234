/**
 * CLI bindings of the background-command operations: run, status, logs, wait, stop, retry.
 */
import { closeSync, openSync, readSync, statSync, watch } from "node:fs";
import { parseDuration, parseTimerDuration } from "../core/duration.js";
import { InvalidInputError } from "../core/errors.js";
import type { CliBinding, CliContext } from "./bindings.js";
import { io } from "./io.js";
import type { OutputMode } from "./output.js";
import { keyValues, paint, table } from "./output.js";
import type { Timer } from "../core/timer.js";
import { every } from "../core/timer.js";

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

function omitUndefined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

/** The exit code `wait` reports for a finished job: the command's own, else by outcome. */
export function jobExitCode(state: string, exitCode: number | undefined): number {
  if (exitCode !== undefined) return exitCode;
  switch (state) {
    case "succeeded":
    case "skipped":
      return 0;
    case "cancelled":
      return 130;
    case "timed_out":
      return 124;
    default:
      return 1;
  }
}

/** Wait without a bound (or up to `timeoutMs`), in daemon long-polls of ≤ 45 s. */
async function waitLoop(
  ctx: CliContext,
  id: string,
  timeoutMs: number | undefined,
): Promise<{ finished: boolean; state: string; exitCode?: number }> {
  const deadline = timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + timeoutMs;
  for (;;) {
    const left = Math.max(0, Math.min(45_000, deadline - Date.now()));
    const answer = (await ctx.call("wait_job", { id, timeoutSeconds: left / 1000 })) as {
      finished: boolean;
      state: string;
      exitCode?: number;
    };
    if (answer.finished || Date.now() >= deadline) return answer;
  }
}

/**
 * Print a log file as it grows until `ended` settles (the daemon's push when the job ends), then
 * what is left. Event-driven: every change fs.watch reports is printed at once, and nothing polls.
 * Where the file cannot be watched at all (fs.watch throws: no inotify, unsupported filesystem)
 * a 1 s safety poll takes its place (docs/decisions.md D19).
 */
async function follow(path: string, fromEnd: boolean, ended: Promise<unknown>): Promise<void> {
  let offset = 0;
  try {
    offset = fromEnd ? statSync(path).size : 0;
  } catch {
    offset = 0;
  }
  const buffer = Buffer.alloc(64 * 1024);
  const drain = (): void => {
    let size: number;
    try {
      size = statSync(path).size;
    } catch {
      return;
    }
    if (size < offset) offset = 0;
    if (size === offset) return;
    const fd = openSync(path, "r");
    try {
      while (offset < size) {
        const n = readSync(fd, buffer, 0, Math.min(buffer.length, size - offset), offset);
        if (n <= 0) break;
        io().out(buffer.subarray(0, n));
        offset += n;
      }
    } finally {
      closeSync(fd);
    }
  };
  drain();
  let watcher: ReturnType<typeof watch> | undefined;
  let poll: Timer | undefined;
  try {
    watcher = watch(path, () => drain());
    watcher.on("error", () => undefined);
  } catch {
    poll = every(1000, drain);
  }
  try {
    await ended;
  } finally {
    watcher?.close();
    poll?.cancel();
  }
  drain();
}

function renderRun(data: unknown, mode: OutputMode): string {
  const d = data as { id: string; name?: string; state: string; deduplicated: boolean; logPath: string };
  return [
    `${d.id}${d.name === undefined ? "" : ` (${d.name})`}  ${d.state}${d.deduplicated ? "  (deduplicated: already running)" : ""}`,
    paint(mode, "dim", `logs: baton logs ${d.id} -f   wait: baton wait ${d.id}   stop: baton stop ${d.id}`),
  ].join("\n");
}

export const commandBindings: CliBinding[] = [
  {
    op: "run_command",
    command: "run <argv...>",
    passThrough: true,
    options: [
      { flags: "-n, --name <name>", description: "a name to refer to the job by" },
      { flags: "--timeout <duration>", description: "stop it (and record a timeout) after this long" },
      { flags: "--idle-timeout <duration>", description: "stop it after this long without output" },
      {
        flags: "-k, --key <key>",
        description: "idempotency key: the run with it (live, or finished until cleaned) is returned instead",
      },
      { flags: "--retries <n>", description: "extra attempts when it fails (default 0)" },
      { flags: "--tag <tag>", description: "a tag (repeatable)", repeatable: true },
      {
        flags: "--pool <name>",
        description: "run it on any daemon serving this pool (BATON_POOLS), not only on this host",
      },
      { flags: "--wait", description: "wait for it to finish and exit with its exit code" },
      { flags: "-f, --follow", description: "stream its output while it runs and exit with its exit code" },
    ],
    input([argv], o) {
      if (argv.length === 0)
        throw new InvalidInputError("give the command to run after --, e.g. baton run -- npm test");
      const retries = str(o.retries);
      if (retries !== undefined && !/^\d+$/.test(retries))
        throw new InvalidInputError(`--retries must be a number, not '${retries}'`);
      for (const flag of ["timeout", "idleTimeout"] as const) {
        const value = str(o[flag]);
        if (value !== undefined)
          parseTimerDuration(value, `--${flag === "idleTimeout" ? "idle-timeout" : flag}`);
      }
      return omitUndefined({
        argv,
        cwd: io().cwd,
        name: str(o.name),
        timeout: str(o.timeout),
        idleTimeout: str(o.idleTimeout),
        key: str(o.key),
        retries: retries === undefined ? undefined : Number(retries),
        tags: o.tag,
        pool: str(o.pool),
      });
    },
    render: renderRun,
    quiet: (o) => o.wait === true || o.follow === true,
    async after(data, o, ctx) {
      const d = data as { id: string; logPath: string };
      if (o.follow === true) {
        const waiting = waitLoop(ctx, d.id, undefined);
        await follow(d.logPath, false, waiting);
        const finished = await waiting;
        return jobExitCode(finished.state, finished.exitCode);
      }
      if (o.wait === true) {
        const r = await waitLoop(ctx, d.id, undefined);
        if (ctx.mode.json) io().out(`${JSON.stringify({ ok: true, data: { ...d, ...r } })}\n`);
        return jobExitCode(r.state, r.exitCode);
      }
      return undefined;
    },
  },
  {
    op: "job_status",
    command: "status [id]",
    options: [
      { flags: "-a, --all", description: "every project" },
      { flags: "--project <path>", description: "project path (default: git root of cwd)" },
    ],
    input: ([[id]], o) =>
      omitUndefined({
        id,
        cwd: io().cwd,
        project: str(o.project),
        all: o.all === true ? true : undefined,
      }),
    render(data, mode) {
      const d = data as {
        job?: Record<string, unknown>;
        pid?: number;
        exitCode?: number;
        logPath?: string;
        waitingReason?: string[];
        daemon?: { running: boolean; pid?: number; dashboard?: string };
        hosts?: {
          host: string;
          home: string;
          pid: number;
          pools: string[];
          running: number;
          lastSeen: string;
        }[];
        counts?: Record<string, number>;
        running?: { id: string; name?: string; type: string; createdAt: string }[];
        queued?: { id: string; name?: string; type: string; state: string }[];
        recentFailures?: { id: string; name?: string; state: string; error?: string }[];
      };
      if (d.job !== undefined) return keyValues(d);
      const out: string[] = [];
      out.push(
        d.daemon?.running === true
          ? `daemon: running (pid ${d.daemon.pid ?? "?"})${
              d.daemon.dashboard === undefined ? "" : `, dashboard at ${d.daemon.dashboard}`
            }`
          : paint(mode, "yellow", "daemon: not running (it starts on demand with `baton run`)"),
      );
      if ((d.hosts ?? []).length > 0) {
        out.push(
          "hosts:",
          table(
            ["HOST", "HOME", "PID", "POOLS", "RUNNING", "LAST SEEN"],
            d.hosts!.map((h) => [
              h.host,
              h.home,
              String(h.pid),
              h.pools.join(",") || "-",
              String(h.running),
              h.lastSeen.slice(0, 19),
            ]),
          ),
        );
      }
      out.push(
        `jobs: ${
          Object.entries(d.counts ?? {})
            .map(([k, v]) => `${v} ${k}`)
            .join(", ") || "none"
        }`,
      );
      if ((d.running ?? []).length > 0) {
        out.push(
          "running:",
          table(
            ["ID", "NAME", "TYPE", "SINCE"],
            d.running!.map((j) => [j.id, j.name ?? "", j.type, j.createdAt.slice(0, 19)]),
          ),
        );
      }
      if ((d.queued ?? []).length > 0) {
        out.push(
          "waiting for a slot or a due time:",
          table(
            ["ID", "NAME", "TYPE", "STATE"],
            d.queued!.map((j) => [j.id, j.name ?? "", j.type, j.state]),
          ),
        );
      }
      if ((d.recentFailures ?? []).length > 0) {
        out.push(
          "recent failures:",
          table(
            ["ID", "NAME", "STATE", "ERROR"],
            d.recentFailures!.map((j) => [j.id, j.name ?? "", j.state, j.error ?? ""]),
          ),
        );
      }
      return out.join("\n");
    },
  },
  {
    op: "job_logs",
    command: "logs <id>",
    options: [
      { flags: "-n, --lines <n>", description: "how many lines (default 50)" },
      { flags: "-f, --follow", description: "keep printing new output until the job ends" },
      { flags: "--stdout", description: "stdout only" },
      { flags: "--stderr", description: "stderr only" },
      { flags: "--attempt <n>", description: "an earlier attempt" },
    ],
    input([[id]], o) {
      const lines = str(o.lines);
      if (lines !== undefined && !/^\d+$/.test(lines))
        throw new InvalidInputError(`--lines must be a number, not '${lines}'`);
      const attempt = str(o.attempt);
      if (attempt !== undefined && !/^\d+$/.test(attempt))
        throw new InvalidInputError(`--attempt must be a number, not '${attempt}'`);
      return omitUndefined({
        id,
        lines: lines === undefined ? undefined : Number(lines),
        stream: o.stdout === true ? "stdout" : o.stderr === true ? "stderr" : undefined,
        attempt: attempt === undefined ? undefined : Number(attempt),
      });
    },
    render: (data) => (data as { text: string }).text.replace(/\n$/, ""),
    async after(data, o, ctx) {
      if (o.follow !== true) return undefined;
      const d = data as { id: string; path: string };
      await follow(d.path, true, waitLoop(ctx, d.id, undefined));
      return 0;
    },
  },
  {
    op: "wait_job",
    command: "wait <id>",
    options: [{ flags: "--timeout <duration>", description: "give up after this long (exit 124)" }],
    input([[id]], o) {
      const timeout = str(o.timeout);
      if (timeout !== undefined) parseDuration(timeout);
      return { id, timeoutSeconds: 0 };
    },
    quiet: () => true,
    async after(data, o, ctx) {
      const d = data as { id: string; finished: boolean };
      const timeout = str(o.timeout);
      const r = d.finished
        ? (data as { finished: boolean; state: string; exitCode?: number })
        : await waitLoop(ctx, d.id, timeout === undefined ? undefined : parseDuration(timeout));
      if (ctx.mode.json) io().out(`${JSON.stringify({ ok: true, data: { id: d.id, ...r } })}\n`);
      else if (!r.finished) io().err(`baton: ${d.id} is still ${r.state} (wait timed out)\n`);
      return r.finished ? jobExitCode(r.state, r.exitCode) : 124;
    },
  },
  {
    op: "stop_job",
    command: "stop <id>",
    options: [{ flags: "--force", description: "SIGKILL at once instead of SIGTERM first" }],
    input: ([[id]], o) => omitUndefined({ id, force: o.force === true ? true : undefined }),
    render: (data) => {
      const d = data as { id: string; state: string };
      return `${d.id}  ${d.state}`;
    },
  },
  {
    op: "retry_job",
    command: "retry <id>",
    options: [{ flags: "--force", description: "reopen a succeeded or skipped checkpoint too" }],
    input: ([[id]], o) => omitUndefined({ id, force: o.force === true ? true : undefined }),
    render: (data) => {
      const d = data as { id: string; state: string; attempt: number };
      return `${d.id}  ${d.state} (attempt ${d.attempt})`;
    },
  },
];
