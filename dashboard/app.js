// baton dashboard: plain JavaScript modules, no dependencies, no build step. It reads the JSON API
// (/api/...), calls operations (POST /api/ops/<name>) for actions, and listens to /api/stream
// (Server-Sent Events of the ledger) to refresh what is on screen without a reload.
import { UNREACHABLE, act, announce, api, errorText, h, main, ui } from "./lib.js";
import { agentsView } from "./agents.js";
import { jobsView, overview } from "./lists.js";
import { jobView } from "./job.js";
import { tasksView } from "./tasks.js";
import { workflowView, workflowsView } from "./workflows.js";

document.documentElement.style.setProperty("--hue", document.body.dataset.hue || "210");

function connect() {
  const live = document.getElementById("live");
  const source = new EventSource("/api/stream");
  let rendered = false;
  source.onopen = () => {
    live.textContent = "live";
    live.className = "live on";
    setReachable(true);
    // The stream starts at the newest event when it opens; what changed before is not in it, so
    // the view is read (again) now, after that point: nothing falls between the two.
    rendered = true;
    ui.render();
  };
  source.onerror = () => {
    live.textContent = "reconnecting…";
    live.className = "live off";
    // The stream broke: ask once whether the server answers at all (the banner says so if not).
    api("/api/stats").catch(() => {});
    // Show the page even when the stream cannot open.
    if (!rendered) ui.render();
    rendered = true;
  };
  source.addEventListener("ledger", (message) => {
    const event = JSON.parse(message.data);
    if (event.to && event.jobId) announce(`job ${event.jobId.slice(-6)} is ${event.to}`);
    ui.onLedgerEvent(event);
  });
}

ui.render = render;
ui.setReachable = setReachable;

let reachable = true;

/**
 * The banners above every page: the daemon not answering (what is on screen is then out of date,
 * and the page is redrawn without its data), and a paused queue.
 */
function setReachable(ok) {
  if (ok === reachable) return;
  reachable = ok;
  const banner = document.getElementById("banner-down");
  banner.hidden = ok;
  if (!ok) {
    banner.replaceChildren(
      h("strong", {}, "The daemon does not answer."),
      ` What is on screen may be out of date (since ${new Date().toLocaleTimeString()}). `,
      "Start it with ",
      h("code", {}, "baton daemon start"),
      "; this page reconnects by itself.",
    );
  }
  void render();
}

/**
 * Every pause (the whole queue, a type, a workflow), each with its own Resume: resuming one leaves
 * the others as they are.
 */
function pausedBanner(stats) {
  const banner = document.getElementById("banner-paused");
  banner.hidden = stats.paused.length === 0;
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
      ? " nothing new starts until the whole queue is resumed."
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

async function renderNow() {
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, query] = hash.split("?");
  ui.leaveView(path);
  ui.leaveView = () => {};
  ui.onLedgerEvent = () => {};
  const params = new URLSearchParams(query || "");
  const section = path.startsWith("/jobs")
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
  api("/api/stats")
    .then(pausedBanner)
    .catch(() => {});
  if (!reachable) {
    main.replaceChildren(
      h("h1", {}, "Not connected"),
      h(
        "p",
        { id: "unreachable" },
        "The daemon serving this dashboard does not answer, so nothing can be shown or changed. ",
        "This page comes back by itself when it does.",
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
  } catch (error) {
    if (error.code === UNREACHABLE) return; // setReachable redraws the page
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
  })
  .catch(() => {})
  .finally(connect);
