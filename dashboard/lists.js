// The list views: overview and jobs (filters, search, pages, bulk actions); tables others share.
import {
  act,
  announce,
  api,
  debounce,
  errorText,
  h,
  jobName,
  duration,
  main,
  op,
  scroller,
  select,
  shortId,
  stateBadge,
  toast,
  ui,
  when,
} from "./lib.js";
import { throughputChart } from "./charts.js";

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
          ["name", "id", "state", "type", "workflow", "attempts", "created", "took", "error"].map((c) =>
            h("th", { scope: "col" }, c),
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
            h("td", {}, job.finishedAt ? duration(job.createdAt, job.finishedAt) : ""),
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
  return scroller(
    "hosts",
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

const FILTERS = ["state", "q", "type", "workflow", "tag", "project", "since", "archived"];
const PAGE_SIZES = ["25", "50", "100", "250"];
/** Columns the page can be sorted by (the ledger pages newest first; a sort orders one page). */
const SORTS = {
  created: (j) => j.createdAt,
  name: (j) => jobName(j).toLowerCase(),
  state: (j) => j.state,
  type: (j) => j.type,
  attempts: (j) => j.attempts,
  took: (j) => (j.finishedAt ? Date.parse(j.finishedAt) - Date.parse(j.createdAt) : -1),
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
  const onChange = () => {
    count.textContent = selected.size === 0 ? "nothing selected" : `${selected.size} selected`;
    for (const b of bulkButtons) b.disabled = ui.readOnly || selected.size === 0;
  };

  async function runBulk(button, label, name, verb) {
    const ids = [...selected];
    if (ids.length === 0) return;
    if (!confirm(`${verb} ${ids.length} job${ids.length === 1 ? "" : "s"}?`)) return;
    button.disabled = true;
    const failed = [];
    try {
      if (name === "stop_job") {
        // stop_job takes one job (it waits for the process to end): one call per job.
        for (const id of ids) {
          try {
            await op(name, { id });
          } catch (error) {
            failed.push({ id, code: error.code, message: error.message });
          }
        }
      } else {
        failed.push(...((await op(name, { ids })).errors ?? []));
      }
      if (failed.length > 0)
        toast(`${label}: ${failed.length} of ${ids.length} failed (${failed[0].code}: ${failed[0].message})`);
      else toast(`${label}: done (${ids.length})`, true);
      announce(`${label} done`);
    } catch (error) {
      toast(`${label}: ${errorText(error)}`);
    } finally {
      selected.clear();
      onChange();
      await load();
    }
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
      bulk("Cancel selected", "stop_job", "Cancel (stop) ", true),
      bulk("Archive selected", "archive", "Archive", true),
      // With archived jobs in the list, they can be brought back (the archived filter's way out).
      params.get("archived") === "true" ? bulk("Unarchive selected", "unarchive", "Unarchive") : null,
      count,
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
        for (const j of data.jobs) selected.add(j.id);
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
