// Shared helpers of the dashboard: DOM building, the JSON API, and the state views share.
// Everything user-provided is inserted with textContent, never as HTML.

/** What the views share: set by app.js and by the view on screen. */
export const ui = {
  readOnly: false,
  /** Job states in order, from the server (core/states.ts is the one definition). */
  states: [],
  /** How many last characters of an id make its short id (the server's SHORT_ID_LENGTH). */
  shortIdLength: 6,
  /** Called with each ledger event while the current view is on screen. */
  onLedgerEvent: () => {},
  /** Called with the next route's path before another view renders. */
  leaveView: () => {},
  /** Re-render the current route. */
  render: () => {},
  /** Whether the server answered the last request (app.js shows a banner when not). */
  setReachable: () => {},
  /** The session ended (a call answered 401): app.js stops listening and says so. */
  endSession: () => {},
};

export const main = document.getElementById("main");
export const FINISHED = new Set(["succeeded", "failed", "timed_out", "cancelled", "skipped"]);

// --- small DOM helpers ------------------------------------------------------------------------

/** h("a", {href: "#"}, "text", child…): an element; attributes starting with "on" are listeners. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "text") el.textContent = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/**
 * A table that scrolls sideways inside its own box on a narrow screen (the page itself never
 * does); the box is focusable so a keyboard can scroll it too.
 */
export function scroller(label, table) {
  return h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": label }, table);
}

/** select({name, id}, [[value, text], …]): a <select> with these options, in order. */
export function select(attrs, options) {
  return h(
    "select",
    attrs,
    options.map(([value, text]) => h("option", { value }, text)),
  );
}

export function stateBadge(state) {
  return h("span", { class: `state ${state}`, "data-state": state }, state.replace("_", " "));
}

const RELATIVE = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const STEPS = [
  [60, "second"],
  [60, "minute"],
  [24, "hour"],
  [7, "day"],
  [4.35, "week"],
  [12, "month"],
  [Infinity, "year"],
];

/** "3 minutes ago" / "in 2 hours" for a moment, against now. */
export function relative(ms, now = Date.now()) {
  let amount = (ms - now) / 1000;
  for (const [size, unit] of STEPS) {
    if (Math.abs(amount) < size) return RELATIVE.format(Math.round(amount), unit);
    amount /= size;
  }
  return "";
}

/** A moment as a relative time; the exact local time (and UTC) on hover. */
export function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return h(
    "time",
    { datetime: iso, title: `${d.toLocaleString()} (${iso.replace("T", " ").replace(/\.\d+Z$/, " UTC")})` },
    relative(d.getTime()),
  );
}

/** 1.2 s, 3 min 4 s, 2 h 5 min: how long from `startIso` to `endIso` (or now). */
export function duration(startIso, endIso) {
  if (!startIso) return "";
  const ms = (endIso ? new Date(endIso) : new Date()).getTime() - new Date(startIso).getTime();
  return formatMs(ms);
}

/**
 * The two durations of a job, one definition each, used by the jobs list and the job page alike
 * so the two never disagree: `total` is the whole job, from enqueued to finished (waiting, every
 * attempt and the pauses between included); `ran` is the time spent inside attempts, summed.
 */
export const DURATION_HELP = {
  total: "from enqueued to finished: waiting and every attempt included",
  ran: "time inside attempts (a process or a worker holding the job), summed over attempts",
};

/** The job's total time (enqueued → finished, or so far), "" when there is nothing to say. */
export function totalTime(job, soFar = false) {
  if (job.finishedAt) return duration(job.createdAt, job.finishedAt);
  return soFar && job.startedAt ? `${duration(job.createdAt)} so far` : "";
}

/** Time inside `attempts` (each from its start to its end, or now), summed. */
export function ranTime(attempts) {
  let ms = 0;
  for (const a of attempts) ms += (a.endedAt ? Date.parse(a.endedAt) : Date.now()) - Date.parse(a.startedAt);
  return formatMs(ms);
}

export function formatMs(ms) {
  if (!(ms >= 0)) return "";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  const hours = Math.floor(m / 60);
  if (hours < 48) return `${hours} h ${m % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/**
 * The id shown in tables: its short id, the same the CLI shows and accepts (its last
 * `ui.shortIdLength` characters, from /api/stats; D59), the whole id on hover and in the link,
 * with a button that copies the whole id.
 */
export function shortId(id, href) {
  const short = id.length > ui.shortIdLength ? id.slice(-ui.shortIdLength) : id;
  return h(
    "span",
    { class: "short-id" },
    h("a", { href: href ?? `#/jobs/${id}`, title: id }, h("code", {}, short)),
    copyButton(id, `Copy id ${id}`),
  );
}

export function copyButton(text, label) {
  return h(
    "button",
    {
      type: "button",
      class: "copy",
      "aria-label": label,
      title: "Copy",
      onclick: async (e) => {
        const button = e.currentTarget;
        try {
          await navigator.clipboard.writeText(text);
          button.dataset.copied = "true";
          announce("copied");
          setTimeout(() => delete button.dataset.copied, 1500);
        } catch {
          toast(`Copy: ${text}`);
        }
      },
    },
    "copy",
  );
}

/** What a person calls a job: its name, else its task, agent or type. */
export function jobName(job) {
  if (job.name) return job.name;
  if (job.type.startsWith("task:")) return job.type.slice(5);
  if (job.type.startsWith("agent:")) return `agent ${job.type.slice(6)}`;
  return job.type;
}

export function json(value) {
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

export function announce(text) {
  document.getElementById("announce").textContent = text;
}

let toastTimer;
export function toast(text, good) {
  const el = document.getElementById("toast");
  el.textContent = text;
  el.className = good ? "toast good" : "toast";
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (el.hidden = true), 5000);
}

// --- API --------------------------------------------------------------------------------------

// The session's key (D109). The cookie alone opens pages, the event stream and log downloads only
// (another local server can receive a 127.0.0.1 cookie); every other API call also sends this key,
// which only the answer to the link with the token carried, in the address's fragment. It is kept
// in localStorage: per origin, so per port (no other server's page reads it), and shared by this
// dashboard's reloads and tabs.
const SESSION_KEY = "baton-session";
let keptKey; // when localStorage is not available (a private window may refuse it)
{
  const match = /^#baton-session=([\w-]+)$/.exec(location.hash);
  if (match) {
    try {
      localStorage.setItem(SESSION_KEY, match[1]);
    } catch {
      keptKey = match[1];
    }
    history.replaceState(null, "", location.pathname + location.search);
  }
}

/** The key of this dashboard's session (read each time: another tab may have opened a new one). */
function sessionKey() {
  try {
    return localStorage.getItem(SESSION_KEY) ?? keptKey;
  } catch {
    return keptKey;
  }
}

/** The error a page shows when the server does not answer at all (fetch itself failed). */
export const UNREACHABLE = "UNREACHABLE";
/** The error of a call refused because the session ended (401: its token was rotated). */
export const SESSION_ENDED = "SESSION_ENDED";

/** The error of a call the dashboard server did not answer (or something else answered at its address). */
function unreachable() {
  ui.setReachable(false);
  return Object.assign(new Error("the dashboard server cannot be reached at this address"), {
    code: UNREACHABLE,
  });
}

async function request(path, init) {
  let res;
  const key = sessionKey();
  if (key) init = { ...init, headers: { ...init.headers, "x-baton-session": key } };
  try {
    res = await fetch(path, init);
  } catch {
    throw unreachable();
  }
  // Every baton answer is a JSON envelope: anything else (another program holding the port after
  // a restart on a new one, a proxy's error page) is not this dashboard's server.
  const json = /^application\/json\b/i.test(res.headers.get("content-type") ?? "");
  const body = json ? await res.json().catch(() => undefined) : undefined;
  if (body === null || typeof body !== "object" || typeof body.ok !== "boolean") throw unreachable();
  ui.setReachable(true);
  if (res.status === 401) {
    // The session ended (its token was replaced): nothing this page asks will be answered again.
    ui.endSession();
    throw Object.assign(new Error("this dashboard session has ended: run `baton dashboard` for a new link"), {
      code: SESSION_ENDED,
    });
  }
  if (!body.ok) throw Object.assign(new Error(body.error?.message), { code: body.error?.code || "ERROR" });
  return body.data;
}

export function api(path) {
  return request(path, { headers: { accept: "application/json" } });
}

export function op(name, input) {
  return request(`/api/ops/${name}`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify(input),
  });
}

/** "CODE: message" of an error for a page or a toast. */
export function errorText(error) {
  return `${error.code || "ERROR"}: ${error.message}`;
}

/**
 * Run an action from a button: ask first when `confirmText` is given, disable the button
 * meanwhile, report the outcome, refresh the view. Pass the button itself (an event's
 * currentTarget is null once the handler awaited something).
 */
export async function act(button, label, name, input, refresh, confirmText) {
  // One action at a time per button: a second click (a double-click, a click while the first
  // call is on its way) does nothing. The button stays off until the refreshed page replaces it.
  if (button.dataset.pending === "true" || button.disabled) return;
  button.dataset.pending = "true";
  if (confirmText && !confirm(confirmText)) {
    delete button.dataset.pending;
    return;
  }
  button.disabled = true;
  let ok = false;
  try {
    const data = await op(name, input);
    const errors = Array.isArray(data.errors) ? data.errors : [];
    if (errors.length > 0)
      toast(`${label}: ${errors.length} failed (${errors[0].code}: ${errors[0].message})`);
    else toast(`${label}: ${doneText(name, data)}`, true);
    announce(`${label} done`);
    ok = true;
  } catch (error) {
    toast(`${label}: ${errorText(error)}`);
  } finally {
    delete button.dataset.pending;
    if (!ok) button.disabled = ui.readOnly;
    await refresh();
    // A view that keeps this button (no re-render) gets it back.
    if (button.isConnected) button.disabled = ui.readOnly;
  }
}

/** What an action did, in words, where its answer says more than "done". */
function doneText(name, data) {
  if (name === "archive" && data.archived === 0) return "it was archived already";
  if (name === "unarchive" && data.unarchived === 0) return "it was not archived";
  if (name === "stop_job" && data.outcome === "already_finished")
    return `it had already finished (${data.state})`;
  return "done";
}

/**
 * Whether a ledger event paused or resumed part of the queue (the whole of it, a type, a workflow):
 * what a page that shows pauses or why a job waits reads again. (An agent job's own pause carries
 * its job id and is that job's event.)
 */
export function isQueuePause(event) {
  return (event.kind === "paused" || event.kind === "unpaused") && !event.jobId;
}

/** Coalesce bursts of events into one refresh. */
export function debounce(fn, ms) {
  let timer;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(fn, ms);
  };
}
