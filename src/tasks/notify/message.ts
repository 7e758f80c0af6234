/**
 * Message text for notifications: the `{{var}}` template, the default message, and the redactor
 * that keeps secret values out of messages and delivery records.
 */
import type { RunOutcome } from "./types.js";

/**
 * A run's duration for people: `850ms`, `42s`, `2m 5s`, `1h 30m`.
 *
 * @example formatDuration(125_000) // "2m 5s"
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "";
  if (ms < 1000) return `${Math.round(ms)}ms`;
  let seconds = Math.round(ms / 1000);
  const hours = Math.floor(seconds / 3600);
  seconds -= hours * 3600;
  const minutes = Math.floor(seconds / 60);
  seconds -= minutes * 60;
  const parts = [hours && `${hours}h`, minutes && `${minutes}m`, seconds && `${seconds}s`].filter(Boolean);
  return parts.length === 0 ? "0s" : parts.join(" ");
}

/** The values a template may use (TEMPLATE_VARS in schema.ts), as strings. */
export function templateVars(outcome: RunOutcome, host: string): Record<string, string> {
  return {
    task: outcome.task,
    status: outcome.status,
    run_id: outcome.runId,
    exit_code: outcome.exitCode === null ? "" : String(outcome.exitCode),
    summary: outcome.summary ?? "",
    duration: formatDuration(outcome.durationMs),
    project: outcome.project ?? "",
    host,
  };
}

/**
 * Substitute `{{name}}` (spaces inside the braces allowed) in one pass: unknown names become "",
 * and substituted values are never expanded again, so a summary containing `{{host}}` stays as is.
 * Nothing is evaluated.
 *
 * @example renderTemplate("{{task}} {{status}}", { task: "backup", status: "failed" }) // "backup failed"
 */
export function renderTemplate(template: string, vars: Readonly<Record<string, string>>): string {
  return template.replace(/\{\{\s*([^{}]*?)\s*\}\}/g, (_match, name: string) =>
    Object.hasOwn(vars, name) ? (vars[name] ?? "") : "",
  );
}

/** The message when the config gives none: `backup failed (exit 1) in 2m 5s: disk full [run r_…]`. */
export function defaultMessage(outcome: RunOutcome): string {
  const exit = outcome.exitCode === null ? "" : ` (exit ${outcome.exitCode})`;
  const summary = outcome.summary ? `: ${outcome.summary}` : "";
  return `${outcome.task} ${outcome.status}${exit} in ${formatDuration(outcome.durationMs)}${summary} [run ${outcome.runId}]`;
}

/** Cut text to at most `max` characters (channels have message limits). */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

export const REDACTED = "[redacted]";

/**
 * Pieces of a secret URL shorter than this are not redacted on their own: `/api`, `webhooks` or a
 * Slack team id are not secret, while the tokens services put in webhook URLs are 24+ characters.
 */
const MIN_URL_PART = 12;

/**
 * Replaces known secret values (and their URL-encoded and URL-normalised forms) with [redacted].
 * Longer secrets go first so a secret that contains another is hidden whole.
 */
export class Redactor {
  private readonly values = new Set<string>();

  add(value: string | undefined): void {
    if (value === undefined || value === "") return;
    this.values.add(value);
    const encoded = encodeURIComponent(value);
    if (encoded !== value) this.values.add(encoded);
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return; // not a URL: the plain and encoded forms are enough
    }
    // A webhook URL's secret is its path or query, which a server may echo without the host.
    const parts = [url.href, `${url.pathname}${url.search}`, url.search, url.username, url.password];
    parts.push(...url.pathname.split("/"), ...[...url.searchParams.values()]);
    for (const part of parts) {
      if (part.length >= MIN_URL_PART) this.values.add(part);
    }
  }

  redact(text: string): string {
    let out = text;
    for (const secret of [...this.values].sort((a, b) => b.length - a.length)) {
      out = out.split(secret).join(REDACTED);
    }
    return out;
  }

  /** Redact every string inside a JSON value (keys included); other values pass through. */
  redactDeep(value: unknown): unknown {
    if (typeof value === "string") return this.redact(value);
    if (Array.isArray(value)) return value.map((item) => this.redactDeep(item));
    if (value !== null && typeof value === "object") {
      return Object.fromEntries(
        Object.entries(value).map(([key, item]) => [this.redact(key), this.redactDeep(item)]),
      );
    }
    return value;
  }
}
