// Shared helpers of the dashboard: DOM building, the JSON API, and the state views share.
// Everything user-provided is inserted with textContent, never as HTML.

/** What the views share: set by app.js and by the view on screen. */
export const ui = {
  readOnly: false,
  /** Job states in order, from the server (core/states.ts is the one definition). */
  states: [],
  /** Called with each ledger event while the current view is on screen. */
  onLedgerEvent: () => {},
  /** Called with the next route's path before another view renders. */
  leaveView: () => {},
  /** Re-render the current route. */
  render: () => {},
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

/** select({name, id}, [[value, text], …]): a <select> with these options, in order. */
export function select(attrs, options) {
  return h("select", attrs, options.map(([value, text]) => h("option", { value }, text)));
}

export function stateBadge(state) {
  return h("span", { class: `state ${state}`, "data-state": state }, state.replace("_", " "));
}

export function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return h("time", { datetime: iso, title: iso }, d.toLocaleString());
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

export async function api(path) {
  const res = await fetch(path, { headers: { accept: "application/json" } });
  const body = await res
    .json()
    .catch(() => ({ ok: false, error: { code: "INTERNAL", message: res.statusText } }));
  if (!body.ok) throw Object.assign(new Error(body.error.message), { code: body.error.code });
  return body.data;
}

export async function op(name, input) {
  const res = await fetch(`/api/ops/${name}`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify(input),
  });
  const body = await res
    .json()
    .catch(() => ({ ok: false, error: { code: "INTERNAL", message: res.statusText } }));
  if (!body.ok) throw Object.assign(new Error(body.error.message), { code: body.error.code });
  return body.data;
}

/** Run an action from a button: disable it meanwhile, report the outcome, refresh the view. */
export async function act(button, label, name, input, refresh) {
  button.disabled = true;
  try {
    const data = await op(name, input);
    const errors = Array.isArray(data.errors) ? data.errors : [];
    if (errors.length > 0)
      toast(`${label}: ${errors.length} failed (${errors[0].code}: ${errors[0].message})`);
    else toast(`${label}: done`, true);
    announce(`${label} done`);
  } catch (error) {
    toast(`${label}: ${error.code || "ERROR"}: ${error.message}`);
  } finally {
    button.disabled = false;
    refresh();
  }
}

/** Coalesce bursts of events into one refresh. */
export function debounce(fn, ms) {
  let timer;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(fn, ms);
  };
}
