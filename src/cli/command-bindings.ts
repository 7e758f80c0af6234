/**
 * CLI bindings of the background-command operations: run, status, logs, wait, stop, retry.
 */
import { watch } from "node:fs";
import { dirname, join } from "node:path";
import { parseTimerDuration } from "../core/duration.js";
import { InvalidInputError } from "../core/errors.js";
import type { JobState } from "../core/states.js";
import { isTerminal } from "../core/states.js";
import type { LogStream } from "../supervisor/run-dir.js";
import { readLogChunk, tailOffset } from "../supervisor/run-dir.js";
import type { CliBinding, CliContext } from "./bindings.js";
import { io } from "./io.js";
import type { OutputMode } from "./output.js";
import { commandHint, keyValues, paint, table } from "./output.js";
import { every } from "../core/timer.js";
import { shortId } from "../core/ids.js";
import { str } from "./option-values.js";

function omitUndefined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

/**
 * `wait`'s exit code when it gave up before the job finished (docs/cli.md): EX_TEMPFAIL, "try
 * again later". Distinct from 124, which is the job's own timeout.
 */
export const WAIT_GAVE_UP = 75;

/**
 * The exit code `wait` reports for a finished job: 130 stopped, 124 timed out (whatever code the
 * command answered the signal with: it is recorded with the attempt since its wrapper outlives the
 * signal, D148), else the command's own, else by outcome. A job that did not succeed never exits 0,
 * whatever its command returned (a task whose success_exit_codes leave 0 out): state and code agree.
 */
export function jobExitCode(state: string, exitCode: number | undefined): number {
  if (state === "cancelled") return 130;
  if (state === "timed_out") return 124;
  const succeeded = state === "succeeded" || state === "skipped";
  if (exitCode !== undefined && (exitCode !== 0 || succeeded)) return exitCode;
  return succeeded ? 0 : 1;
}

/**
 * How `wait` and `run --wait` print a finished job: `<id> (<short id>)  <state>  exit <code this
 * call exits with>`, and the command's own code after it when that differs (a stopped command
 * that exited 143: `cancelled  exit 130  (command exited 143)`).
 */
function outcomeLine(id: string, state: string, exitCode: number | undefined): string {
  const code = jobExitCode(state, exitCode);
  const own = typeof exitCode === "number" && exitCode !== code ? `  (command exited ${exitCode})` : "";
  return `${id} (${shortId(id)})  ${state}  exit ${code}${own}\n`;
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

/** A line of `--follow --json`: one line of output and the stream it came from. */
function ndjson(stream: string, text: string): string {
  return `${JSON.stringify({ stream, text })}\n`;
}

/**
 * Print an attempt's log (one view of it) from `offset` as it grows, until `ended` settles (the
 * daemon's push when the job ends), then what is left. Reads go through readLogChunk, as the
 * HTTP log endpoint's do. Event-driven: every change fs.watch reports on output.log is printed at
 * once; until the file exists (the daemon has not started the command yet), and where it cannot
 * be watched at all (no inotify), a poll takes its place (docs/decisions.md D19). With `json`, each
 * line is an NDJSON object `{stream, text}`.
 */
async function follow(
  dir: string,
  view: LogStream,
  offset: number,
  ended: Promise<unknown>,
  json: boolean,
): Promise<void> {
  const partial = new Map<string, string>();
  const emit = (stream: string, text: string, final: boolean): void => {
    if (!json) {
      io().out(text);
      return;
    }
    const lines = ((partial.get(stream) ?? "") + text).split("\n");
    const rest = lines.pop() ?? "";
    for (const line of lines) io().out(ndjson(stream, line));
    if (final && rest !== "") io().out(ndjson(stream, rest));
    partial.set(stream, final ? "" : rest);
  };
  const drain = (final = false): void => {
    for (;;) {
      const chunk = readLogChunk(dir, view, offset, 1024 * 1024);
      for (const piece of chunk.pieces ?? [])
        emit(piece.stream === "output" ? view : piece.stream, piece.text, false);
      const moved = chunk.offset !== offset;
      offset = chunk.offset;
      if (!moved || offset >= chunk.size) break;
    }
    if (final) for (const stream of [...partial.keys()]) emit(stream, "", true);
  };
  let watcher: ReturnType<typeof watch> | undefined;
  const tryWatch = (): void => {
    try {
      watcher = watch(join(dir, "output.log"), () => drain());
      watcher.on("error", () => undefined);
    } catch {
      watcher = undefined;
    }
  };
  drain();
  tryWatch();
  // Until output.log exists, look for it often; where it cannot be watched, a safety poll.
  let tries = 0;
  const poll = every(watcher === undefined ? 100 : 1000, () => {
    if (watcher === undefined && tries++ < 100) tryWatch();
    drain();
  });
  try {
    await ended;
  } finally {
    watcher?.close();
    poll.cancel();
  }
  drain(true);
}

/**
 * `--json` of a follow ends with the outcome, as one envelope line. In every `--json` outcome
 * (`wait`, `run --wait`, `run -f`) `exitCode` is the command's own code (absent when it left none)
 * and `exitsWith` the code this call exits with (D151).
 */
function printOutcome(ctx: CliContext, id: string, r: { state: string; exitCode?: number }): number {
  const code = jobExitCode(r.state, r.exitCode);
  if (ctx.mode.json)
    io().out(
      `${JSON.stringify({ ok: true, data: { id, state: r.state, exitCode: r.exitCode, exitsWith: code } })}\n`,
    );
  return code;
}

function renderRun(data: unknown, mode: OutputMode): string {
  const d = data as { id: string; name?: string; state: string; deduplicated: boolean; logPath: string };
  const short = shortId(d.id);
  return [
    `${d.id} (${short}${d.name === undefined ? "" : `, ${d.name}`})  ${d.state}${d.deduplicated ? "  (deduplicated: the key's existing run, not started again)" : ""}`,
    paint(
      mode,
      "dim",
      `logs: ${commandHint(`baton logs ${short} -f`)}   wait: ${commandHint(`baton wait ${short}`)}   stop: ${commandHint(`baton stop ${short}`)}`,
    ),
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
      {
        flags: "--wait",
        description: "wait for it to finish, print its id, state and exit code, and exit with that code",
      },
      {
        flags: "-f, --follow",
        description:
          "stream its output while it runs (--json: one JSON line per output line) and exit with its exit code",
      },
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
        await follow(dirname(d.logPath), "output", 0, waiting, ctx.mode.json);
        return printOutcome(ctx, d.id, await waiting);
      }
      if (o.wait === true) {
        const r = await waitLoop(ctx, d.id, undefined);
        const exitsWith = jobExitCode(r.state, r.exitCode);
        if (ctx.mode.json) io().out(`${JSON.stringify({ ok: true, data: { ...d, ...r, exitsWith } })}\n`);
        else io().out(outcomeLine(d.id, r.state, r.exitCode));
        return exitsWith;
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
        daemon?: {
          running: boolean;
          pid?: number;
          dashboard?: string;
          responding?: boolean;
          problem?: string;
        };
        hosts?: {
          host: string;
          home: string;
          pid: number;
          pools: string[];
          running: number;
          lastSeen: string;
          expiresAt: string;
          gone?: boolean;
        }[];
        counts?: Record<string, number>;
        running?: { id: string; name?: string; type: string; createdAt: string }[];
        queued?: { id: string; name?: string; type: string; state: string; waitingFor?: string }[];
        recentFailures?: { id: string; name?: string; state: string; error?: string }[];
      };
      if (d.job !== undefined) return keyValues(d);
      const out: string[] = [];
      out.push(
        d.daemon?.responding === false
          ? paint(mode, "red", `daemon: NOT ANSWERING: ${d.daemon.problem ?? `pid ${d.daemon.pid ?? "?"}`}`)
          : d.daemon?.running === true
            ? `daemon: running (pid ${d.daemon.pid ?? "?"})${
                d.daemon.dashboard === undefined ? "" : `, dashboard at ${d.daemon.dashboard}`
              }`
            : paint(mode, "yellow", "daemon: not running (it starts on demand with `baton run`)"),
      );
      if ((d.hosts ?? []).length > 0) {
        out.push(
          "hosts:",
          table(
            ["HOST", "HOME", "PID", "POOLS", "RUNNING", "LAST SEEN", "DAEMON"],
            d.hosts!.map((h) => [
              h.host,
              h.home,
              String(h.pid),
              h.pools.join(",") || "-",
              String(h.running),
              h.lastSeen.slice(0, 19),
              h.gone === true
                ? paint(
                    mode,
                    "yellow",
                    `gone (pid ${h.pid} is not running; row expires ${h.expiresAt.slice(11, 19)})`,
                  )
                : "up",
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
          "running (commands, or tasks an agent has claimed):",
          table(
            ["ID", "NAME", "TYPE", "SINCE"],
            d.running!.map((j) => [shortId(j.id), j.name ?? "", j.type, j.createdAt.slice(0, 19)]),
          ),
        );
      }
      // Each waiting job under what it really waits for (D96): an agent's checkpoint task is not
      // waiting for a run slot, and a command is not waiting for an agent.
      const groups: [string, string][] = [
        [
          "run slot",
          d.daemon?.running === true
            ? "waiting for the daemon to start them (a free run slot):"
            : "waiting for the daemon, which is not running (baton daemon start):",
        ],
        ["agent", "waiting for an agent to claim them (baton claim, or complete):"],
        ["dependencies", "waiting for the jobs they depend on:"],
        ["due time", "due later (--delay or a schedule):"],
        ["retry", "retrying later (backoff after a failed attempt):"],
      ];
      for (const [key, title] of groups) {
        const jobs = (d.queued ?? []).filter((j) => (j.waitingFor ?? "run slot") === key);
        if (jobs.length === 0) continue;
        out.push(
          title,
          table(
            ["ID", "NAME", "TYPE", "STATE"],
            jobs.map((j) => [shortId(j.id), j.name ?? "", j.type, j.state]),
          ),
        );
      }
      if ((d.recentFailures ?? []).length > 0) {
        out.push(
          "recent failures:",
          table(
            ["ID", "NAME", "STATE", "ERROR"],
            d.recentFailures!.map((j) => [shortId(j.id), j.name ?? "", j.state, j.error ?? ""]),
            { fit: true },
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
      { flags: "-n, --lines <n>", description: "how many lines, or 'all' (default 50)" },
      {
        flags: "-f, --follow",
        description: "keep printing new output until the job ends, then exit with its exit code",
      },
      { flags: "--stdout", description: "stdout only" },
      { flags: "--stderr", description: "stderr only" },
      { flags: "--attempt <n>", description: "an earlier attempt" },
    ],
    input([[id]], o) {
      const lines = str(o.lines);
      if (lines !== undefined && lines !== "all" && !/^[1-9]\d*$/.test(lines))
        throw new InvalidInputError(`--lines must be a number of lines or 'all', not '${lines}'`);
      const attempt = str(o.attempt);
      if (attempt !== undefined && !/^\d+$/.test(attempt))
        throw new InvalidInputError(`--attempt must be a number, not '${attempt}'`);
      return omitUndefined({
        id,
        lines: lines === undefined || lines === "all" ? lines : Number(lines),
        stream: o.stdout === true ? "stdout" : o.stderr === true ? "stderr" : undefined,
        attempt: attempt === undefined ? undefined : Number(attempt),
      });
    },
    render: (data) => (data as { text: string }).text.replace(/\n$/, ""),
    // Following prints the same last lines itself, then the rest as it comes.
    quiet: (o) => o.follow === true,
    async after(data, o, ctx) {
      if (o.follow !== true) return undefined;
      const d = data as { id: string; path: string; stream: LogStream };
      const dir = dirname(d.path);
      const lines = str(o.lines);
      const start = tailOffset(dir, d.stream, lines === "all" ? "all" : Number(lines ?? 50));
      const waiting = waitLoop(ctx, d.id, undefined);
      await follow(dir, d.stream, start, waiting, ctx.mode.json);
      // The job's own outcome, as `wait` reports it: a command that exited 4 makes this exit 4.
      return printOutcome(ctx, d.id, await waiting);
    },
  },
  {
    op: "wait_job",
    command: "wait <id>",
    summary:
      "Wait until a job finishes (for as long as it runs, or at most --timeout) and exit with its outcome: the command's own exit code, 124 timed out, 130 stopped; 75 when --timeout passed first.",
    options: [
      {
        flags: "--timeout <duration>",
        description: `give up after this long (exit ${WAIT_GAVE_UP}; 124 means the job itself timed out)`,
      },
    ],
    input([[id]], o) {
      const timeout = str(o.timeout);
      if (timeout !== undefined) parseTimerDuration(timeout, "--timeout");
      return { id, timeoutSeconds: 0 };
    },
    quiet: () => true,
    async after(data, o, ctx) {
      const d = data as { id: string; finished: boolean };
      const timeout = str(o.timeout);
      const r = d.finished
        ? (data as { finished: boolean; state: string; exitCode?: number })
        : await waitLoop(
            ctx,
            d.id,
            timeout === undefined ? undefined : parseTimerDuration(timeout, "--timeout"),
          );
      const exitsWith = r.finished ? jobExitCode(r.state, r.exitCode) : WAIT_GAVE_UP;
      if (ctx.mode.json) io().out(`${JSON.stringify({ ok: true, data: { id: d.id, ...r, exitsWith } })}\n`);
      // As `run --wait` says it: which job, how it ended, the code this exits with (D113).
      else if (r.finished) io().out(outcomeLine(d.id, r.state, r.exitCode));
      else
        io().err(
          `baton: ${d.id} ${isTerminal(r.state as JobState) ? `is ${r.state}; its hooks and notifications have not finished` : `is still ${r.state}`}: gave up waiting (exit ${WAIT_GAVE_UP}); wait again to go on\n`,
        );
      return exitsWith;
    },
  },
  {
    op: "stop_job",
    command: "stop <id>",
    options: [{ flags: "--force", description: "SIGKILL at once instead of SIGTERM first" }],
    input: ([[id]], o) => omitUndefined({ id, force: o.force === true ? true : undefined }),
    render: (data) => {
      const d = data as { id: string; state: string; outcome: string };
      return `${d.id}  ${d.state}${d.outcome === "already_finished" ? "  (already finished: nothing to stop)" : d.outcome === "still_running" ? "  (signalled; still running)" : ""}`;
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
