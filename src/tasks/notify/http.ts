/**
 * One JSON POST with a deadline and one retry, turned into a delivery record. The deadline covers
 * the whole channel (both attempts and the wait between them), so a dead endpoint costs at most
 * `timeoutMs`. Only network errors and 5xx answers are retried: a 4xx will not get better, and a
 * timeout has spent the budget (and may have been delivered already).
 */
import type { Redactor } from "./message.js";
import type { NotificationChannel, NotificationDelivery } from "./types.js";
import { after, sleep } from "../../core/timer.js";

export interface PostContext {
  fetch: typeof fetch;
  timeoutMs: number;
  retryDelayMs: number;
  redactor: Redactor;
  now: () => number;
}

export interface JsonPost {
  channel: NotificationChannel;
  url: string;
  /** Where the URL came from, for errors that must not show it (`SLACK_WEBHOOK`, `slack.webhook_url`). */
  urlSource: string;
  body: unknown;
  headers?: Record<string, string>;
  /** A problem with a 2xx answer's body (Telegram answers 200 {ok:false} on some errors). */
  checkBody?: (text: string) => string | undefined;
}

/** Enough of an answer to explain a failure or check Telegram's `ok`; the rest is discarded. */
const MAX_BODY = 64 * 1024;
const MAX_ERROR_BODY = 300;

async function readBody(response: Response): Promise<string> {
  if (response.body === null) return "";
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    while (text.length < MAX_BODY) {
      const chunk = await reader.read();
      if (chunk.done) break;
      text += decoder.decode(chunk.value, { stream: true });
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return text.slice(0, MAX_BODY);
}

function networkError(error: unknown): string {
  const err = error as { message?: string; cause?: { code?: string; message?: string } };
  const cause = err.cause?.code ?? err.cause?.message;
  return `network error: ${err.message ?? String(error)}${cause ? ` (${cause})` : ""}`;
}

/** The URL, checked to be http(s); the error never shows it. */
function checkUrl(url: string, source: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `${source} is not a valid URL`;
  }
  return parsed.protocol === "http:" || parsed.protocol === "https:"
    ? undefined
    : `${source} must be an http(s) URL, not ${parsed.protocol}`;
}

/**
 * POST `post.body` as JSON; never throws. The record's error text is redacted.
 *
 * @example await postJson(ctx, { channel: "slack", url, urlSource: "SLACK_WEBHOOK", body: { text } })
 */
export async function postJson(ctx: PostContext, post: JsonPost): Promise<NotificationDelivery> {
  const done = (fields: Omit<NotificationDelivery, "channel" | "at">): NotificationDelivery => ({
    channel: post.channel,
    ...fields,
    ...(fields.error === undefined ? {} : { error: ctx.redactor.redact(fields.error) }),
    at: new Date(ctx.now()).toISOString(),
  });
  const bad = checkUrl(post.url, post.urlSource);
  if (bad !== undefined) return done({ ok: false, error: bad, attempts: 0 });

  const controller = new AbortController();
  const timer = after(ctx.timeoutMs, () => controller.abort());
  const timedOut = (attempts: number) =>
    done({ ok: false, error: `timed out after ${ctx.timeoutMs} ms`, attempts });
  let attempts = 0;
  try {
    for (;;) {
      attempts += 1;
      const last = attempts >= 2;
      let response: Response;
      let text: string;
      try {
        response = await ctx.fetch(post.url, {
          method: "POST",
          headers: { "content-type": "application/json", "user-agent": "baton", ...post.headers },
          body: JSON.stringify(post.body),
          redirect: "manual",
          signal: controller.signal,
        });
        text = await readBody(response);
      } catch (error) {
        if (controller.signal.aborted) return timedOut(attempts);
        if (last) return done({ ok: false, error: networkError(error), attempts });
        if (!(await pause(ctx.retryDelayMs, controller.signal))) return timedOut(attempts);
        continue;
      }
      const status = response.status;
      if (status >= 200 && status < 300) {
        const problem = post.checkBody?.(text);
        return problem === undefined
          ? done({ ok: true, status, attempts })
          : done({ ok: false, status, error: problem, attempts });
      }
      if (status >= 500 && !last) {
        if (!(await pause(ctx.retryDelayMs, controller.signal))) return timedOut(attempts);
        continue;
      }
      const snippet = text.trim().slice(0, MAX_ERROR_BODY);
      const reason = `HTTP ${status}${response.statusText ? ` ${response.statusText}` : ""}`;
      return done({ ok: false, status, error: snippet ? `${reason}: ${snippet}` : reason, attempts });
    }
  } finally {
    timer.cancel();
  }
}

/** Wait before the retry; false when the channel's deadline passed meanwhile. */
async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  await sleep(ms, { signal });
  return !signal.aborted;
}
