// The list views: overview and jobs (filters, search, pages, bulk actions); tables others share.
import { act, api, debounce, h, main, op, select, stateBadge, toast, ui, when } from "./lib.js";

export async function overview() {
  const [stats, failures, agents, system] = await Promise.all([
    api("/api/stats"),
    api("/api/jobs?state=failed,timed_out&limit=10"),
    op("list_agents", {}).catch(() => ({ agents: [] })),
    op("job_status", { all: true }).catch(() => ({ running: [], hosts: [] })),
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
      {},
      Object.keys(stats.lastHour).length === 0
        ? "Nothing finished in the last hour."
        : Object.entries(stats.lastHour)
            .map(([s, n]) => `${n} ${s}`)
            .join(" · "),
    ),
    h("h2", {}, "Queue"),
    h(
      "p",
      {},
      `Daemon: ${stats.daemon.running ? `running (pid ${stats.daemon.pid})` : "not running"}. `,
      stats.paused.length > 0 ? `Paused: ${stats.paused.join(", ")}. ` : "Not paused. ",
      pauseButton,
    ),
    h("h2", {}, "By type"),
    types.length === 0
      ? h("p", { class: "muted" }, "No jobs yet.")
      : h(
          "table",
          {},
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              h("th", { scope: "col" }, "type"),
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
                ui.states.map((s) => h("td", {}, String(stats.byType[t][s] || ""))),
              ),
            ),
          ),
        ),
    h(
      "section",
      { id: "running-now", "aria-labelledby": "h-running" },
      h("h2", { id: "h-running" }, "Running now"),
      jobTable(system.running ?? [], false),
    ),
    h(
      "section",
      { id: "hosts", "aria-labelledby": "h-hosts" },
      h("h2", { id: "h-hosts" }, "Hosts"),
      hostTable(system.hosts ?? []),
    ),
    h("h2", {}, "Failures needing attention"),
    jobTable(failures.jobs, false),
    h("h2", {}, "Agents"),
    agentTable(agents.agents),
  );
  ui.onLedgerEvent = debounce(() => ui.render(), 300);
}

export function jobTable(jobs, selectable, selected) {
  if (jobs.length === 0) return h("p", { class: "muted", id: "no-jobs" }, "No jobs.");
  return h(
    "table",
    { id: "jobs" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        selectable ? h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "select")) : null,
        ["id", "name", "type", "state", "workflow", "attempts", "created", "error"].map((c) =>
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
          selectable
            ? h(
                "td",
                {},
                h("input", {
                  type: "checkbox",
                  "aria-label": `select ${job.id}`,
                  checked: selected.has(job.id),
                  onchange: (e) => (e.currentTarget.checked ? selected.add(job.id) : selected.delete(job.id)),
                }),
              )
            : null,
          h("td", { class: "id" }, h("a", { href: `#/jobs/${job.id}` }, job.id)),
          h("td", {}, job.name || ""),
          h("td", {}, job.type),
          h("td", {}, stateBadge(job.state)),
          h("td", {}, job.workflow || ""),
          h("td", {}, String(job.attempts)),
          h("td", {}, when(job.createdAt)),
          h("td", {}, job.error || ""),
        ),
      ),
    ),
  );
}

/** Daemons that heartbeat on this ledger (`job_status` → hosts). */
function hostTable(hosts) {
  if (hosts.length === 0) return h("p", { class: "muted" }, "No daemon is heartbeating on this ledger.");
  return h(
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
  );
}

export function agentTable(agents) {
  if (agents.length === 0) return h("p", { class: "muted" }, "No agents registered (register_agent).");
  return h(
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
  );
}

export async function jobsView(params) {
  const selected = new Set();
  const cursors = [];
  let cursor = params.get("cursor") || undefined;
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
    h("button", { type: "submit" }, "Apply"),
  );
  for (const key of ["state", "q", "type", "workflow", "tag", "project", "since"]) {
    if (params.get(key)) form.elements[key].value = params.get(key);
  }
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const next = new URLSearchParams();
    for (const key of ["state", "q", "type", "workflow", "tag", "project", "since"]) {
      const v = form.elements[key].value.trim();
      if (v) next.set(key, v);
    }
    location.hash = `#/jobs${next.toString() ? `?${next}` : ""}`;
  });
  form.elements.state.addEventListener("change", () => form.requestSubmit());
  form.elements.since.addEventListener("change", () => form.requestSubmit());
  const results = h("div", { id: "results" });
  const bulk = (label, name, inputOf) =>
    h(
      "button",
      {
        type: "button",
        disabled: ui.readOnly,
        class: name === "archive" || name === "stop_job" ? "danger" : undefined,
        onclick: async (e) => {
          const ids = [...selected];
          if (ids.length === 0) return toast("Select jobs first (the checkboxes).");
          if (name === "stop_job") {
            for (const id of ids) await act(e.currentTarget, label, name, { id }, () => {});
            load();
          } else await act(e.currentTarget, label, name, inputOf(ids), load);
          selected.clear();
        },
      },
      label,
    );
  main.replaceChildren(
    h("h1", {}, "Jobs"),
    form,
    h(
      "div",
      { class: "toolbar", role: "group", "aria-label": "Bulk actions on selected jobs" },
      bulk("Redrive selected", "redrive_task", (ids) => ({ ids })),
      bulk("Cancel selected", "stop_job", (ids) => ({ id: ids[0] })),
      bulk("Archive selected", "archive", (ids) => ({ ids })),
    ),
    results,
  );

  async function load() {
    const query = new URLSearchParams();
    for (const key of ["state", "q", "type", "workflow", "tag", "project", "since"]) {
      if (params.get(key)) query.set(key, params.get(key));
    }
    query.set("limit", "50");
    if (cursor) query.set("cursor", cursor);
    let data;
    try {
      data = await api(`/api/jobs?${query}`);
    } catch (error) {
      results.replaceChildren(h("p", { role: "alert" }, `${error.code}: ${error.message}`));
      return;
    }
    results.replaceChildren(
      h("p", { class: "muted", id: "total" }, `${data.total} job${data.total === 1 ? "" : "s"}`),
      jobTable(data.jobs, true, selected),
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
