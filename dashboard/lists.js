// The list views: overview and jobs (filters, search, pages, bulk actions); tables others share.
import {
  DURATION_HELP,
  FINISHED,
  act,
  announce,
  api,
  debounce,
  errorText,
  h,
  jobName,
  main,
  op,
  scroller,
  select,
  shortId,
  stateBadge,
  toast,
  totalTime,
  ui,
  when,
} from "./lib.js";
import { chartLegend, throughputChart } from "./charts.js";

export async function overview() {
  const [stats, failures, agents, system, throughput] = await Promise.all([
    api("/api/stats"),
    api("/api/jobs?state=failed,timed_out&limit=10"),
    op("list_agents", {}).catch(() => ({ agents: [] })),
    op("job_status", { all: true }).catch(() => ({ running: [], hosts: [] })),
    api("/api/throughput"),
  ]);
  const paused = stats.paused.includes("all");
  const pauseButton = h(
    "button",
    {
      type: "button",
      id: "pause-all",
      "aria-pressed": paused ? "true" : "false",
      disabled: ui.readOnly,
      onclick: (e) =>
        act(e.currentTarget, paused ? "Resume queue" : "Pause queue", paused ? "unpause" : "pause", {}, () =>
          ui.render(),
        ),
    },
    paused ? "Resume the queue" : "Pause the queue",
  );
  const types = Object.keys(stats.byType).sort();
  main.replaceChildren(
    h("h1", {}, "Overview"),
    h(
      "div",
      { class: "cards", id: "counts" },
      ui.states.map((s) =>
        h(
          "a",
          { class: "card", href: `#/jobs?state=${s}`, "data-count": s },
          h("span", { class: "n" }, String(stats.byState[s] || 0)),
          h("span", { class: "k" }, s.replace("_", " ")),
        ),
      ),
    ),
    h("h2", {}, "Last hour"),
    h(
      "p",
      { id: "last-hour" },
      Object.keys(stats.lastHour).length === 0
        ? "No job finished in the last hour."
        : `Jobs finished in the last hour: ${Object.entries(stats.lastHour)
            .map(([s, n]) => `${n} ${s.replace("_", " ")}`)
            .join(" · ")}`,
    ),
    h(
      "section",
      { "aria-labelledby": "h-throughput", id: "throughput" },
      h("h2", { id: "h-throughput" }, "Last 24 hours"),
      throughputChart(throughput.hours, throughput.total, "all types"),
      chartLegend(),
    ),
    h("h2", {}, "Queue"),
    h(
      "p",
      {},
      h(
        "span",
        { id: "daemon-status" },
        `Daemon: ${stats.daemon.running ? `running (pid ${stats.daemon.pid})` : "not running"}. `,
      ),
      stats.paused.length > 0 ? `Paused: ${stats.paused.join(", ")}. ` : "Not paused. ",
      pauseButton,
    ),
    h("h2", {}, "By type"),
    types.length === 0
      ? h("p", { class: "muted" }, "No jobs yet.")
      : scroller(
          "jobs by type",
          h(
            "table",
            { id: "by-type" },
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                h("th", { scope: "col" }, "type"),
                h("th", { scope: "col" }, "24 hours"),
                ui.states.map((s) => h("th", { scope: "col" }, s.replace("_", " "))),
              ),
            ),
            h(
              "tbody",
              {},
              types.map((t) =>
                h(
                  "tr",
                  {},
                  h("th", { scope: "row" }, h("a", { href: `#/jobs?type=${encodeURIComponent(t)}` }, t)),
                  h(
                    "td",
                    { class: "spark" },
                    throughput.byType[t]
                      ? throughputChart(throughput.hours, throughput.byType[t], t, true)
                      : "",
                  ),
                  ui.states.map((s) => h("td", {}, String(stats.byType[t][s] || ""))),
                ),
              ),
            ),
          ),
        ),
    h(
      "section",
      { id: "running-now", "aria-labelledby": "h-running" },
      h("h2", { id: "h-running" }, "Running now"),
      jobTable(system.running ?? [], undefined, "running jobs"),
    ),
    h(
      "section",
      { id: "hosts", "aria-labelledby": "h-hosts" },
      h("h2", { id: "h-hosts" }, "Hosts"),
      hostTable(system.hosts ?? []),
    ),
    h("h2", {}, "Failures needing attention"),
    jobTable(failures.jobs, undefined, "failures"),
    h("h2", {}, "Agents"),
    agentTable(agents.agents),
  );
  ui.onLedgerEvent = debounce(() => ui.render(), 300);
}

/**
 * A table of jobs. With `select` ({selected, onChange}), each row has a checkbox and the header
 * one that selects the whole page.
 */
export function jobTable(jobs, select, label = "jobs") {
  if (jobs.length === 0) return h("p", { class: "muted", id: "no-jobs" }, "No jobs.");
  const selected = select?.selected;
  const boxes = [];
  const all = select
    ? h("input", {
        type: "checkbox",
        id: "select-page",
        "aria-label": "select every job on this page",
        checked: jobs.every((j) => selected.has(j.id)),
        onchange: (e) => {
          for (const job of jobs) e.currentTarget.checked ? selected.add(job.id) : selected.delete(job.id);
          for (const box of boxes) box.checked = e.currentTarget.checked;
          select.onChange();
        },
      })
    : null;
  return scroller(
    label,
    h(
      "table",
      { id: "jobs" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          select ? h("th", { scope: "col" }, all) : null,
          ["name", "id", "state", "type", "workflow", "attempts", "created", "total", "error"].map((c) =>
            h("th", c === "total" ? { scope: "col", title: DURATION_HELP.total } : { scope: "col" }, c),
          ),
        ),
      ),
      h(
        "tbody",
        {},
        jobs.map((job) =>
          h(
            "tr",
            { "data-id": job.id },
            select ? h("td", {}, rowBox(job)) : null,
            h("td", { class: "name" }, h("a", { href: `#/jobs/${job.id}` }, jobName(job))),
            h("td", { class: "id" }, shortId(job.id)),
            h(
              "td",
              {},
              stateBadge(job.state),
              job.archived ? h("span", { class: "muted archived-mark" }, " archived") : null,
            ),
            h("td", {}, job.type),
            h("td", {}, job.workflow || ""),
            h("td", {}, String(job.attempts)),
            h("td", {}, when(job.createdAt)),
            h("td", { class: "total" }, totalTime(job)),
            h("td", { class: "error-cell" }, job.error || ""),
          ),
        ),
      ),
    ),
  );

  function rowBox(job) {
    const box = h("input", {
      type: "checkbox",
      "aria-label": `select ${jobName(job)} (${job.id})`,
      checked: selected.has(job.id),
      onchange: (e) => {
        if (e.currentTarget.checked) selected.add(job.id);
        else selected.delete(job.id);
        all.checked = jobs.every((j) => selected.has(j.id));
        select.onChange();
      },
    });
    boxes.push(box);
    return box;
  }
}

/** Daemons that heartbeat on this ledger (`job_status` → hosts). */
function hostTable(hosts) {
  if (hosts.length === 0) return h("p", { class: "muted" }, "No daemon is heartbeating on this ledger.");
  // Not "hosts": the section around it is the Hosts region, and landmarks need distinct names.
  return scroller(
    "daemons heartbeating on this ledger",
    h(
      "table",
      {},
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["host", "pid", "pools", "running", "started", "last heartbeat"].map((c) =>
            h("th", { scope: "col" }, c),
          ),
        ),
      ),
      h(
        "tbody",
        {},
        hosts.map((x) =>
          h(
            "tr",
            { "data-host": x.host },
            h("td", {}, x.host),
            h("td", {}, String(x.pid)),
            h("td", {}, x.pools.join(", ") || "—"),
            h("td", {}, String(x.running)),
            h("td", {}, when(x.started)),
            h("td", {}, when(x.lastSeen)),
          ),
        ),
      ),
    ),
  );
}

export function agentTable(agents) {
  if (agents.length === 0) return h("p", { class: "muted" }, "No agents registered (register_agent).");
  return scroller(
    "registered agents",
    h(
      "table",
      { id: "agents" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["name", "last seen", "expires", "metadata"].map((c) => h("th", { scope: "col" }, c)),
        ),
      ),
      h(
        "tbody",
        {},
        agents.map((a) =>
          h(
            "tr",
            {},
            h("td", {}, a.name),
            h("td", {}, when(a.lastSeen)),
            h("td", {}, when(a.expiresAt)),
            h(
              "td",
              {},
              Object.entries(a.meta || {})
                .map(([k, v]) => `${k}=${v}`)
                .join(" "),
            ),
          ),
        ),
      ),
    ),
  );
}

/** What each batch operation did to a job, in words ("2 redriven"). */
const DONE_WORDS = { redrive_task: "redriven", cancel: "cancelled", retry_job: "retried" };

/** "N archived" / "2 redriven, 3 run a process (use Retry), 1 is queued": a batch's answer, in words. */
function bulkReport(data, asked, name) {
  const errors = Array.isArray(data.errors) ? data.errors : [];
  const word = DONE_WORDS[name] ?? "done";
  const done =
    name === "archive"
      ? `${data.archived} archived`
      : name === "unarchive"
        ? `${data.unarchived} unarchived`
        : Array.isArray(data.changed)
          ? `${data.changed.length} ${word}`
          : `${asked - errors.length} ${word}`;
  // A job that was archived (or unarchived) already is counted apart, not as done.
  const count = name === "archive" ? data.archived : name === "unarchive" ? data.unarchived : undefined;
  const parts = [done];
  if (count !== undefined && count < asked) parts.push(`${asked - count} already ${name}d`);
  return withFailures(parts, errors);
}

/**
 * Words for what happened, then each kind of refusal counted apart (one error never stands for
 * all): "1 not found", "3 run a process (use Retry)", "1 is queued" (a job in the wrong state, by
 * state), and any other code as "N refused (CODE: first message)". Never "failed": that reads
 * as the jobs' state.
 */
function withFailures(parts, failed) {
  const groups = new Map();
  for (const f of failed) {
    const state =
      f.code === "INVALID_TRANSITION" ? /\bit is ([a-z_]+)/.exec(f.message ?? "")?.[1] : undefined;
    const key = state !== undefined ? `state:${state}` : f.code;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(f);
  }
  for (const [key, list] of groups) {
    const n = list.length;
    if (key === "JOB_NOT_FOUND") parts.push(`${n} not found`);
    else if (key === "RESERVED_TYPE") parts.push(`${n} run${n === 1 ? "s" : ""} a process (use Retry)`);
    else if (key.startsWith("state:"))
      parts.push(`${n} ${n === 1 ? "is" : "are"} ${key.slice("state:".length).replace("_", " ")}`);
    else parts.push(`${n} refused (${list[0].code}: ${list[0].message})`);
  }
  return { text: parts.length > 0 ? parts.join(", ") : "nothing changed", good: failed.length === 0 };
}

const FILTERS = ["state", "q", "type", "workflow", "tag", "project", "since", "archived"];
const PAGE_SIZES = ["25", "50", "100", "250"];
/** Columns the page can be sorted by (the ledger pages newest first; a sort orders one page). */
const SORTS = {
  created: (j) => j.createdAt,
  name: (j) => jobName(j).toLowerCase(),
  state: (j) => j.state,
  type: (j) => j.type,
  attempts: (j) => j.attempts,
  total: (j) => (j.finishedAt ? Date.parse(j.finishedAt) - Date.parse(j.createdAt) : -1),
};
/** The most jobs "select all matching" takes (in pages of 1,000). */
const SELECT_ALL_MAX = 10_000;

export async function jobsView(params) {
  const selected = new Set();
  const cursors = [];
  let cursor = params.get("cursor") || undefined;
  const pageSize = PAGE_SIZES.includes(params.get("limit")) ? params.get("limit") : "50";
  const sort = SORTS[params.get("sort")] ? params.get("sort") : "created";
  const dir = params.get("dir") === "asc" ? "asc" : "desc";
  const form = h(
    "form",
    { class: "filters", role: "search", id: "filters" },
    h(
      "label",
      {},
      "State",
      select({ name: "state", id: "filter-state" }, [
        ["", "any"],
        ["live", "live"],
        ["finished", "finished"],
        ...ui.states.map((s) => [s, s.replace("_", " ")]),
      ]),
    ),
    h(
      "label",
      {},
      "Search",
      h("input", {
        name: "q",
        id: "filter-q",
        type: "search",
        placeholder: "id, name, payload, error… ( / )",
      }),
    ),
    h("label", {}, "Type", h("input", { name: "type", size: 10 })),
    h("label", {}, "Workflow", h("input", { name: "workflow", size: 12 })),
    h("label", {}, "Tag", h("input", { name: "tag", size: 8 })),
    h("label", {}, "Project", h("input", { name: "project", size: 14 })),
    h(
      "label",
      {},
      "Created",
      select({ name: "since", id: "filter-since" }, [
        ["", "any time"],
        ["1h", "last hour"],
        ["24h", "last 24 hours"],
        ["7d", "last 7 days"],
        ["30d", "last 30 days"],
      ]),
    ),
    h(
      "label",
      {},
      "Archived",
      select({ name: "archived", id: "filter-archived" }, [
        ["", "hidden"],
        ["true", "included"],
      ]),
    ),
    h("button", { type: "submit" }, "Apply"),
  );
  for (const key of FILTERS) {
    if (params.get(key)) form.elements[key].value = params.get(key);
  }
  /** The address of this list with some settings changed. */
  const hrefWith = (changes) => {
    const next = new URLSearchParams(params);
    next.delete("cursor");
    for (const [k, v] of Object.entries(changes)) {
      if (v === "" || v === undefined) next.delete(k);
      else next.set(k, v);
    }
    return `#/jobs${next.toString() ? `?${next}` : ""}`;
  };
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const changes = {};
    for (const key of FILTERS) changes[key] = form.elements[key].value.trim();
    location.hash = hrefWith(changes);
  });
  for (const name of ["state", "since", "archived"])
    form.elements[name].addEventListener("change", () => form.requestSubmit());

  const results = h("div", { id: "results" });
  const count = h("span", { id: "selected-count", class: "muted", "aria-live": "polite" });
  const bulkButtons = [];
  /** The jobs on this page (a selection can hold others: kept across pages, or "select all matching"). */
  let onScreen = new Set();
  const offScreen = () => [...selected].filter((id) => !onScreen.has(id)).length;
  const clearSelection = h(
    "button",
    {
      type: "button",
      id: "clear-selection",
      hidden: true,
      onclick: () => {
        selected.clear();
        for (const box of results.querySelectorAll("input[type=checkbox]")) box.checked = false;
        onChange();
      },
    },
    "Clear selection",
  );
  const onChange = () => {
    const off = offScreen();
    count.textContent =
      selected.size === 0
        ? "nothing selected"
        : `${selected.size} selected${off === 0 ? "" : `, ${off} of them not on this page`}`;
    clearSelection.hidden = selected.size === 0;
    for (const b of bulkButtons) b.disabled = ui.readOnly || selected.size === 0;
  };

  /** The state each selected job was last seen in (rows on screen, "select all matching"). */
  const seen = new Map();

  /** What the confirmation says before `verb` on `ids`: archiving cancels live jobs first (D98). */
  function confirmText(name, verb, ids) {
    const off = ids.filter((id) => !onScreen.has(id)).length;
    const what = `${verb} ${ids.length} job${ids.length === 1 ? "" : "s"}?${off === 0 ? "" : ` ${off} of them ${off === 1 ? "is" : "are"} not on this page.`}`;
    if (name !== "archive") return what;
    const live = ids.filter((id) => seen.has(id) && !FINISHED.has(seen.get(id))).length;
    if (live === 0) return what;
    return `${what} ${live} of them ${live === 1 ? "is" : "are"} not finished (queued, waiting or running) and will be cancelled first: a running process is stopped.`;
  }

  async function runBulk(button, label, name, verb) {
    const ids = [...selected];
    if (ids.length === 0) return;
    if (!confirm(confirmText(name, verb, ids))) return;
    button.disabled = true;
    try {
      const report =
        name === "stop_job" ? await stopEach(ids) : bulkReport(await op(name, { ids }), ids.length, name);
      toast(`${label}: ${report.text}`, report.good);
      announce(`${label}: ${report.text}`);
    } catch (error) {
      toast(`${label}: ${errorText(error)}`);
    } finally {
      selected.clear();
      onChange();
      await load();
    }
  }

  /**
   * stop_job takes one job (it waits for the process to end): one call per job, each answering
   * what happened to it (cancelled, already finished, still running) or its error (not found…).
   */
  async function stopEach(ids) {
    const counts = new Map();
    const failed = [];
    for (const id of ids) {
      try {
        const answer = await op("stop_job", { id });
        counts.set(answer.outcome, (counts.get(answer.outcome) ?? 0) + 1);
      } catch (error) {
        if (error.code === "UNREACHABLE") throw error;
        failed.push({ id, code: error.code, message: error.message });
      }
    }
    const words = {
      cancelled: "cancelled",
      already_finished: "already finished",
      still_running: "still running",
    };
    const parts = Object.keys(words)
      .filter((k) => counts.has(k))
      .map((k) => `${counts.get(k)} ${words[k]}`);
    return withFailures(parts, failed);
  }

  const bulk = (label, name, verb, danger) => {
    const button = h(
      "button",
      {
        type: "button",
        disabled: true,
        class: danger ? "danger" : undefined,
        onclick: () => runBulk(button, label, name, verb),
      },
      label,
    );
    bulkButtons.push(button);
    return button;
  };
  const selectAll = h(
    "button",
    { type: "button", id: "select-all", hidden: true, onclick: () => selectAllMatching() },
    "Select all",
  );
  const sizeSelect = select(
    { id: "page-size", name: "limit" },
    PAGE_SIZES.map((n) => [n, `${n} per page`]),
  );
  sizeSelect.value = pageSize;
  sizeSelect.addEventListener("change", () => (location.hash = hrefWith({ limit: sizeSelect.value })));
  const sortSelect = select(
    { id: "sort", name: "sort" },
    Object.keys(SORTS).flatMap((k) => [
      [`${k}:desc`, `${k} ↓`],
      [`${k}:asc`, `${k} ↑`],
    ]),
  );
  sortSelect.value = `${sort}:${dir}`;
  sortSelect.addEventListener("change", () => {
    const [s, d] = sortSelect.value.split(":");
    location.hash = hrefWith({ sort: s === "created" && d === "desc" ? "" : s, dir: d === "desc" ? "" : d });
  });

  main.replaceChildren(
    h("h1", {}, "Jobs"),
    form,
    h(
      "div",
      { class: "toolbar", role: "group", "aria-label": "Bulk actions on selected jobs" },
      bulk("Redrive selected", "redrive_task", "Redrive"),
      bulk("Cancel selected", "stop_job", "Cancel (stop)", true),
      bulk("Archive selected", "archive", "Archive", true),
      // With archived jobs in the list, they can be brought back (the archived filter's way out).
      params.get("archived") === "true" ? bulk("Unarchive selected", "unarchive", "Unarchive") : null,
      count,
      clearSelection,
      selectAll,
    ),
    h(
      "div",
      { class: "toolbar" },
      h("label", {}, "Page size", sizeSelect),
      h("label", {}, "Sort this page by", sortSelect),
    ),
    results,
  );
  onChange();

  function query() {
    const q = new URLSearchParams();
    for (const key of FILTERS) if (params.get(key)) q.set(key, params.get(key));
    return q;
  }

  /** Select every job the filter matches (not only this page), up to SELECT_ALL_MAX. */
  async function selectAllMatching() {
    let next;
    selectAll.disabled = true;
    try {
      do {
        const q = query();
        q.set("limit", "1000");
        if (next) q.set("cursor", next);
        const data = await api(`/api/jobs?${q}`);
        for (const j of data.jobs) {
          selected.add(j.id);
          seen.set(j.id, j.state);
        }
        next = data.nextCursor;
      } while (next !== undefined && selected.size < SELECT_ALL_MAX);
    } catch (error) {
      toast(`Select all: ${errorText(error)}`);
    } finally {
      selectAll.disabled = false;
    }
    onChange();
    for (const box of results.querySelectorAll("input[type=checkbox]")) box.checked = true;
  }

  async function load() {
    const q = query();
    q.set("limit", pageSize);
    if (cursor) q.set("cursor", cursor);
    let data;
    try {
      data = await api(`/api/jobs?${q}`);
    } catch (error) {
      results.replaceChildren(h("p", { role: "alert" }, errorText(error)));
      return;
    }
    for (const j of data.jobs) seen.set(j.id, j.state);
    onScreen = new Set(data.jobs.map((j) => j.id));
    onChange();
    const key = SORTS[sort];
    const jobs = [...data.jobs].sort((a, b) => {
      const x = key(a);
      const y = key(b);
      const c = x < y ? -1 : x > y ? 1 : 0;
      return dir === "asc" ? c : -c;
    });
    selectAll.hidden = data.total <= data.jobs.length;
    selectAll.textContent = `Select all ${Math.min(data.total, SELECT_ALL_MAX)} matching`;
    results.replaceChildren(
      h("p", { class: "muted", id: "total" }, `${data.total} job${data.total === 1 ? "" : "s"}`),
      jobTable(jobs, { selected, onChange }),
      h(
        "div",
        { class: "pager" },
        h(
          "button",
          {
            type: "button",
            disabled: cursors.length === 0,
            onclick: () => {
              cursor = cursors.pop();
              load();
            },
          },
          "Previous page",
        ),
        h(
          "button",
          {
            type: "button",
            disabled: data.nextCursor === undefined,
            onclick: () => {
              cursors.push(cursor);
              cursor = data.nextCursor;
              load();
            },
          },
          "Next page",
        ),
      ),
    );
  }
  await load();
  ui.onLedgerEvent = debounce(load, 300);
}
