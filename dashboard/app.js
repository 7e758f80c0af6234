// baton dashboard: plain JavaScript modules, no dependencies, no build step. It reads the JSON API
// (/api/...), calls operations (POST /api/ops/<name>) for actions, and listens to /api/stream
// (Server-Sent Events of the ledger) to refresh what is on screen without a reload.
import {
  SESSION_ENDED,
  UNREACHABLE,
  act,
  announce,
  api,
  debounce,
  errorText,
  h,
  isQueuePause,
  main,
  ui,
} from "./lib.js";
import { agentsView } from "./agents.js";
import { jobsView, overview } from "./lists.js";
import { jobView } from "./job.js";
import { tasksView } from "./tasks.js";
import { workflowView, workflowsView } from "./workflows.js";

document.documentElement.style.setProperty("--hue", document.body.dataset.hue || "210");

/** How long after the browser gave up on the event stream a new one is opened, ms. */
const RECONNECT_MS = 2000;

let source;
let ended = false;

/**
 * Listen to the ledger. A dropped stream (the daemon restarting) is reopened by the browser; one
 * the server refused (the browser then gives up) is opened anew here, until the session ends.
 */
function connect() {
  if (ended) return;
  const live = document.getElementById("live");
  const stream = new EventSource("/api/stream");
  source = stream;
  let rendered = false;
  stream.onopen = () => {
    live.textContent = "live";
    live.className = "live on";
    setReachable(true);
    // The stream starts at the newest event when it opens; what changed before is not in it, so
    // the view is read (again) now, after that point: nothing falls between the two.
    rendered = true;
    ui.render();
  };
  stream.onerror = () => {
    if (ended) return;
    live.textContent = "reconnecting…";
    live.className = "live off";
    // The stream broke: ask once whether the server answers at all (the banner says so if not)
    // and still takes this session (the page says it ended if not).
    api("/api/stats").catch(() => {});
    // Show the page even when the stream cannot open.
    if (!rendered) ui.render();
    rendered = true;
    if (stream.readyState === EventSource.CLOSED) setTimeout(connect, RECONNECT_MS);
  };
  stream.addEventListener("ledger", (message) => {
    const event = JSON.parse(message.data);
    if (event.to && event.jobId) announce(`job ${event.jobId.slice(-6)} is ${event.to}`);
    // The pause banner is every page's, not a view's: it follows a pause or resume made anywhere
    // (it was read only when a page was drawn, so it stayed as it was on every page but the overview).
    if (isQueuePause(event)) refreshPausedBanner();
    ui.onLedgerEvent(event);
  });
}

/**
 * The session ended (a call answered 401: the token it came from was rotated). Nothing more will
 * be answered, so stop listening and say so, with the way back, instead of stale data.
 */
function endSession() {
  if (ended) return;
  ended = true;
  source?.close();
  const live = document.getElementById("live");
  live.textContent = "session ended";
  live.className = "live off";
  document.getElementById("banner-down").hidden = true;
  document.getElementById("banner-paused").hidden = true;
  void render();
}

/** What the page says once the session ended: what happened and how to get a new link. */
function sessionEndedPage() {
  main.replaceChildren(
    h("h1", { id: "session-ended" }, "Dashboard session ended"),
    h(
      "p",
      {},
      "This dashboard session has ended: the token it was opened with was replaced (",
      h("code", {}, "baton token rotate"),
      "), or no page of it was open for 12 hours, so the server no longer answers this page. What was on screen is gone rather than shown out of date.",
    ),
    h(
      "p",
      {},
      "Run ",
      h("code", {}, "baton dashboard"),
      " in the project for a new link and open it (",
      h("code", {}, "baton dashboard --read-only"),
      " for a viewer's link). A restart of the daemon does not end a session: a new token does, and 12 hours without an open page.",
    ),
  );
}

ui.endSession = endSession;
ui.render = render;
ui.setReachable = setReachable;

let reachable = true;

/**
 * The banners above every page: the dashboard server not answering, or something that is not it
 * answering at its address (what is on screen is then out of date,
 * and the page is redrawn without its data), and a paused queue.
 */
function setReachable(ok) {
  if (ok === reachable) return;
  reachable = ok;
  const banner = document.getElementById("banner-down");
  banner.hidden = ok;
  if (!ok) {
    banner.replaceChildren(
      h("strong", {}, "The dashboard server stopped or cannot be reached at this address."),
      ` What is on screen may be out of date (since ${new Date().toLocaleTimeString()}). `,
      h("code", {}, "baton dashboard"),
      " starts it (or ",
      h("code", {}, "baton daemon start"),
      " if the daemon is down); this page reconnects by itself when it answers here again.",
    );
  }
  void render();
}

/** Ask the server which pauses hold now and redraw the banner (each render does). */
function readPauses() {
  api("/api/stats")
    .then(pausedBanner)
    .catch(() => {});
}

/** The same for a pause or resume made anywhere while a page is up, a burst coalesced. */
const refreshPausedBanner = debounce(readPauses, 200);

/**
 * Every pause (the whole queue, a type, a workflow), each with its own Resume: resuming one leaves
 * the others as they are.
 */
function pausedBanner(stats) {
  const banner = document.getElementById("banner-paused");
  banner.hidden = ended || stats.paused.length === 0;
  if (banner.hidden) return;
  const all = stats.paused.includes("all");
  const items = stats.paused.map((pause) => {
    // "all", or "type:<name>" / "workflow:<name>" (a name may hold colons itself).
    const colon = pause.indexOf(":");
    const scope = pause === "all" ? "all" : pause.slice(0, colon);
    const target = pause === "all" ? undefined : pause.slice(colon + 1);
    const label = pause === "all" ? "the whole queue" : `${scope} ${target}`;
    return h(
      "li",
      {},
      h("span", {}, pause === "all" ? "the whole queue" : h("span", {}, `${scope} `, h("code", {}, target))),
      " ",
      h(
        "button",
        {
          type: "button",
          disabled: ui.readOnly,
          "aria-label": `Resume ${label}`,
          onclick: (e) =>
            act(e.currentTarget, `Resume ${label}`, "unpause", { scope, target }, () => ui.render()),
        },
        "Resume",
      ),
    );
  });
  banner.replaceChildren(
    h("strong", {}, all ? "The queue is paused:" : "Paused:"),
    all
      ? stats.paused.length > 1
        ? " nothing new starts until the whole queue is resumed, and then what the other pauses below hold stays held until each is resumed."
        : " nothing new starts until the whole queue is resumed."
      : " jobs of these start again when resumed.",
    h("ul", { class: "pauses" }, items),
  );
}

let rendering;
let renderAgain = false;

/**
 * Render the route in the address bar. Renders never overlap (a slow one finishing last would
 * show a page the address bar has left): a call during one makes one more afterwards.
 */
function render() {
  if (rendering !== undefined) {
    renderAgain = true;
    return rendering;
  }
  rendering = renderNow().finally(() => {
    rendering = undefined;
    if (renderAgain) {
      renderAgain = false;
      void render();
    }
  });
  return rendering;
}

/**
 * While a route renders, <main> is aria-busy; once its data is on screen it carries
 * data-loaded="<the route>" (what the browser tests wait for before they look).
 */
async function renderNow() {
  const route = location.hash || "#/";
  main.setAttribute("aria-busy", "true");
  delete main.dataset.loaded;
  try {
    await renderRoute();
  } finally {
    main.removeAttribute("aria-busy");
    main.dataset.loaded = route;
    // The tab says which page (and which job) this is: the heading's title, else its text.
    const heading = main.querySelector("h1");
    const name = heading?.dataset.title ?? heading?.textContent.trim();
    document.title = name ? `${name} · baton · ${PROJECT}` : `baton · ${PROJECT}`;
  }
}

const PROJECT = document.body.dataset.project || "";

/** The routes there are; anything else is "not found", not the overview. */
function known(path) {
  return (
    ["/", "/jobs", "/workflows", "/workflow", "/tasks", "/agents"].includes(path) ||
    /^\/jobs\/[^/]+$/.test(path)
  );
}

/** How many events a view that is still drawing keeps for its handler (past it, the view is drawn again). */
const MISSED_MAX = 1000;

async function renderRoute() {
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, query] = hash.split("?");
  ui.leaveView(path);
  ui.leaveView = () => {};
  // The events that arrive while the view reads and draws itself are kept, and handed one by one
  // to the view's own handler once it has set one: they would otherwise be lost, and the page
  // would keep what it read before the change (a schedule switched by the CLI during the tasks
  // page's read). Each is the event itself: a handler reads it (the job page checks its jobId).
  const missed = [];
  let overflowed = false;
  const recording = (event) => {
    if (missed.length < MISSED_MAX) missed.push(event);
    else overflowed = true;
  };
  ui.onLedgerEvent = recording;
  const params = new URLSearchParams(query || "");
  const section = !known(path)
    ? "none"
    : path.startsWith("/jobs")
      ? "jobs"
      : path.startsWith("/workflow")
        ? "workflows"
        : path.startsWith("/tasks")
          ? "tasks"
          : path.startsWith("/agents")
            ? "agents"
            : "overview";
  for (const a of document.querySelectorAll("nav a")) {
    if (a.dataset.nav === section) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  if (ended) {
    sessionEndedPage();
    return;
  }
  readPauses();
  if (!reachable) {
    main.replaceChildren(
      h("h1", {}, "Not connected"),
      h(
        "p",
        { id: "unreachable" },
        "The dashboard server does not answer at this address, so nothing can be shown or changed. ",
        "This page comes back by itself when it does.",
      ),
    );
    return;
  }
  if (!known(path)) {
    main.replaceChildren(
      h("h1", { id: "not-found" }, "Page not found"),
      h(
        "p",
        {},
        "There is no page at ",
        h("code", {}, `#${path}`),
        ". ",
        h("a", { href: "#/" }, "Go to the overview"),
        ".",
      ),
    );
    return;
  }
  try {
    const job = /^\/jobs\/([^/]+)$/.exec(path);
    if (job) await jobView(decodeURIComponent(job[1]));
    else if (section === "jobs") await jobsView(params);
    else if (path === "/workflow") await workflowView(params);
    else if (section === "workflows") await workflowsView(params);
    else if (section === "tasks") await tasksView();
    else if (section === "agents") await agentsView(params);
    else await overview();
    // A burst too long to keep: the view reads again instead (renders never overlap).
    if (overflowed) void render();
    else if (ui.onLedgerEvent !== recording) for (const event of missed) ui.onLedgerEvent(event);
  } catch (error) {
    // setReachable and endSession redraw the page
    if (error.code === UNREACHABLE || error.code === SESSION_ENDED) return;
    const job = /^\/jobs\/([^/]+)$/.exec(path);
    if (job && (error.code === "JOB_NOT_FOUND" || error.code === "NOT_FOUND")) {
      // An id no job has (mistyped, or cleaned away): say so, not "Something went wrong".
      main.replaceChildren(
        h("h1", { id: "job-not-found" }, "Job not found"),
        h(
          "p",
          {},
          "No job has the id ",
          h("code", {}, decodeURIComponent(job[1])),
          " (it may have been cleaned away). ",
          h("a", { href: "#/jobs" }, "Go to the jobs list"),
          ".",
        ),
      );
      return;
    }
    main.replaceChildren(h("h1", {}, "Something went wrong"), h("p", { role: "alert" }, errorText(error)));
  }
}

document.addEventListener("keydown", (e) => {
  if (e.key === "/" && !["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName)) {
    const search = document.getElementById("filter-q");
    if (search) {
      e.preventDefault();
      search.focus();
    } else location.hash = "#/jobs";
  }
});

window.addEventListener("hashchange", () => {
  render();
  main.focus({ preventScroll: true });
});

api("/api/stats")
  .then((stats) => {
    ui.readOnly = stats.readOnly;
    ui.states = stats.states;
    ui.shortIdLength = stats.shortIdLength;
    document.getElementById("readonly").hidden = !ui.readOnly;
    // A session its page stops renewing ends (12 h); only a call with the page's key renews it, so
    // an open page calls now and then even when nothing happens (the server says how often).
    if (stats.sessionRenewMs > 0)
      setInterval(() => {
        if (!ended) api("/api/stats").catch(() => {});
      }, stats.sessionRenewMs);
  })
  .catch(() => {})
  .finally(connect);
