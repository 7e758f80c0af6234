/**
 * The types of task-run notifications: what a finished run tells the notifier (RunOutcome), what
 * the notifier reports back per channel (NotificationDelivery), and the injection seams.
 */
import type { spawn } from "node:child_process";

/** How a task run ended. `dry_run` is a completed dry run (it never notifies: no side effects). */
export type RunStatus = "succeeded" | "failed" | "timed_out" | "cancelled" | "dry_run";

export const RUN_STATUSES: readonly RunStatus[] = [
  "succeeded",
  "failed",
  "timed_out",
  "cancelled",
  "dry_run",
];

/** A finished task run, as the runner hands it to the notifier. */
export interface RunOutcome {
  runId: string;
  /** The task's name. */
  task: string;
  status: RunStatus;
  /** The command's exit code; null when it had none (killed by a signal, plugin task, never started). */
  exitCode: number | null;
  /** One line about the run (a text task's last line of output, a plugin's summary). */
  summary?: string;
  durationMs: number;
  logPath?: string;
  /** The run's parsed result (JSON value), sent as is by the generic webhook. */
  result?: unknown;
  /** The project's name, for `{{project}}`. */
  project?: string;
}

export type NotificationChannel = "webhook" | "slack" | "discord" | "telegram" | "desktop";

/**
 * What happened to one channel's notification. Never holds a secret: webhook URLs, tokens and
 * secret header values are redacted from `error`.
 */
export interface NotificationDelivery {
  channel: NotificationChannel;
  ok: boolean;
  /** The HTTP status of the last attempt (HTTP channels), or the exit code (desktop). */
  status?: number;
  /** Why it failed, in words, secrets redacted. */
  error?: string;
  /** True when the channel could not be used here (desktop notifier missing or unsupported). */
  skipped?: boolean;
  /** Requests (or processes) made: 0 when it failed before sending, 2 after a retry. */
  attempts: number;
  /** When the delivery finished (ISO 8601). */
  at: string;
}

export interface DeliverOptions {
  /** The fetch used by HTTP channels (default: the global fetch). */
  fetch?: typeof fetch;
  /** Budget per channel in milliseconds, retry included (default 10 000). */
  timeoutMs?: number;
  /** Wait before the one retry of a network error or 5xx (default 1 000 ms). */
  retryDelayMs?: number;
  /** Starts the desktop notifier (default: node:child_process spawn). */
  spawn?: typeof spawn;
  /** Which desktop notifier to use: darwin → osascript, win32 → unsupported, others → notify-send. */
  platform?: NodeJS.Platform;
  /** Telegram Bot API base URL; wins over `telegram.base_url` and env BATON_TELEGRAM_API_URL. */
  telegramApiUrl?: string;
  /** More values to keep out of messages and records (e.g. the task's secret environment). */
  secrets?: readonly string[];
  /** The host name for `{{host}}` (default: os.hostname()). */
  hostname?: string;
  /** The clock for `at` (default Date.now). */
  now?: () => number;
}
