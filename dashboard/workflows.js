// The workflow views: every workflow with a progress bar, and one workflow's tasks in order with
// its actions (skip a task, resume from a step = accept_before, archive the workflow).
import {
  FINISHED,
  act,
  api,
  debounce,
  h,
  jobName,
  main,
  op,
  scroller,
  select,
  shortId,
  stateBadge,
  ui,
  when,
} from "./lib.js";

/** The hash of one workflow's page. */
export function workflowHref(w) {
  const q = new URLSearchParams({ name: w.workflow });
  if (w.project) q.set("project", w.project);
  return `#/workflow?${q}`;
}

/** A bar of done (and failed) tasks out of all, with its numbers for assistive technology. */
export function progressBar(w, label) {
  const pct = (n) => (w.total === 0 ? 0 : (100 * n) / w.total);
  const done = h("span", { class: "seg done" });
  const failed = h("span", { class: "seg failed" });
  // Widths through the CSSOM: the page's CSP allows no inline style attributes.
  done.style.width = `${pct(w.done)}%`;
  failed.style.width = `${pct(w.failed)}%`;
  const text = `${w.done} of ${w.total} done${w.failed > 0 ? `, ${w.failed} failed` : ""}`;
  return h(
    "div",
    { class: "progress-line" },
    h(
      "div",
      {
        class: "progress",
        role: "progressbar",
        "aria-label": label,
        "aria-valuemin": "0",
        "aria-valuemax": String(w.total),
        "aria-valuenow": String(w.done),
        "aria-valuetext": text,
      },
      done,
      failed,
    ),
    h("span", { class: "muted progress-text" }, text),
  );
}

function shortProject(path) {
  if (!path) return "";
  const parts = path.split("/").filter(Boolean);
  return parts[parts.length - 1] || path;
}

export async function workflowsView(params) {
  const state = params.get("state") || "";
  const filter = h(
    "label",
    {},
    "Show",
    select({ id: "workflow-state", name: "state" }, [
      ["", "all workflows"],
      ["live", "with tasks left"],
      ["finished", "finished"],
    ]),
  );
  filter.querySelector("select").value = state;
  filter.querySelector("select").addEventListener("change", (e) => {
    const v = e.currentTarget.value;
    location.hash = v ? `#/workflows?state=${v}` : "#/workflows";
  });
  const results = h("div", { id: "results" });
  main.replaceChildren(h("h1", {}, "Workflows"), h("div", { class: "toolbar" }, filter), results);

  async function load() {
    const data = await op("list_workflows", { all: true, limit: 500, ...(state ? { state } : {}) });
    if (data.workflows.length === 0) {
      results.replaceChildren(h("p", { class: "muted", id: "no-workflows" }, "No workflows."));
      return;
    }
    results.replaceChildren(
      h(
        "p",
        { class: "muted", id: "total" },
        `${data.total} workflow${data.total === 1 ? "" : "s"}`,
        data.total > data.workflows.length ? ` (the ${data.workflows.length} most recent shown)` : "",
      ),
      scroller(
        "workflows",
        h(
          "table",
          { id: "workflows" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ["workflow", "project", "progress", "left", "failed", "last change", ""].map((c) =>
                h("th", { scope: "col" }, c || h("span", { class: "visually-hidden" }, "actions")),
              ),
            ),
          ),
          h(
            "tbody",
            {},
            data.workflows.map((w) =>
              h(
                "tr",
                { "data-workflow": w.workflow },
                h("th", { scope: "row" }, h("a", { href: workflowHref(w) }, w.workflow)),
                h("td", { title: w.project || "" }, shortProject(w.project)),
                h("td", { class: "wide" }, progressBar(w, `progress of ${w.workflow}`)),
                h("td", {}, String(w.remaining)),
                h("td", {}, String(w.failed)),
                h("td", {}, when(w.updatedAt)),
                h(
                  "td",
                  {},
                  h(
                    "button",
                    {
                      type: "button",
                      class: "danger",
                      disabled: ui.readOnly,
                      "aria-label": `Archive workflow ${w.workflow}`,
                      onclick: (e) => {
                        if (!confirm(`Archive workflow ${w.workflow}? Unfinished tasks are cancelled.`))
                          return;
                        act(e.currentTarget, "Archive workflow", "archive", archiveInput(w), load);
                      },
                    },
                    "Archive",
                  ),
                ),
              ),
            ),
          ),
        ),
      ),
    );
  }
  await load();
  ui.onLedgerEvent = debounce(load, 300);
}

function archiveInput(w) {
  return { workflow: w.workflow, ...(w.project ? { project: w.project } : {}) };
}

/** Every task of the workflow, oldest (first step) first. list_tasks pages newest first. */
async function allTasks(name, project) {
  const jobs = [];
  let cursor;
  for (let page = 0; page < 20; page++) {
    const q = new URLSearchParams({ workflow: name, limit: "1000" });
    if (project) q.set("project", project);
    if (cursor) q.set("cursor", cursor);
    const data = await api(`/api/jobs?${q}`);
    jobs.push(...data.jobs);
    if (data.nextCursor === undefined) return { jobs: jobs.reverse(), complete: true };
    cursor = data.nextCursor;
  }
  return { jobs: jobs.reverse(), complete: false };
}

export async function workflowView(params) {
  const name = params.get("name") || "";
  const project = params.get("project") || undefined;
  const heading = h("h1", {}, `Workflow ${name}`);
  const summary = h("div", { id: "workflow-summary" });
  const toolbar = h(
    "div",
    { class: "toolbar", role: "group", "aria-label": "Workflow actions" },
    h(
      "button",
      {
        type: "button",
        class: "danger",
        id: "archive-workflow",
        // Enabled once the workflow is known to have tasks (load()).
        disabled: true,
        onclick: (e) =>
          act(
            e.currentTarget,
            "Archive workflow",
            "archive",
            archiveInput({ workflow: name, project }),
            () => {
              location.hash = "#/workflows";
            },
            `Archive workflow ${name}? Unfinished tasks are cancelled.`,
          ),
      },
      "Archive workflow",
    ),
  );
  const list = h("div", { id: "steps-wrap" });
  const archive = toolbar.querySelector("#archive-workflow");
  main.replaceChildren(
    ...[
      h("p", {}, h("a", { href: "#/workflows" }, "← Workflows")),
      heading,
      project ? h("p", { class: "muted" }, project) : null,
      summary,
      toolbar,
      h("h2", { id: "h-steps" }, "Tasks in order"),
      h(
        "p",
        { class: "muted" },
        "Resume from a step marks every unfinished task before it as done (accepted); Skip marks one task as not needed.",
      ),
      list,
    ].filter((part) => part !== null),
  );

  async function load() {
    const [{ jobs, complete }, listed] = await Promise.all([
      allTasks(name, project),
      op("list_workflows", { all: true, limit: 1000 }),
    ]);
    const w = listed.workflows.find((x) => x.workflow === name && (x.project || undefined) === project);
    if (w === undefined && jobs.length === 0) {
      summary.replaceChildren(
        h("p", { role: "alert", id: "no-such-workflow" }, "This workflow has no tasks (or it was archived)."),
      );
      list.replaceChildren();
      archive.disabled = true;
      return;
    }
    archive.disabled = ui.readOnly;
    const counts = w || {
      total: jobs.length,
      done: jobs.filter((j) => j.state === "succeeded" || j.state === "skipped").length,
      failed: jobs.filter((j) => ["failed", "timed_out", "cancelled"].includes(j.state)).length,
      remaining: jobs.filter((j) => !FINISHED.has(j.state)).length,
    };
    summary.replaceChildren(
      progressBar(counts, `progress of ${name}`),
      h(
        "p",
        { class: "muted" },
        `${counts.remaining} left · ${counts.failed} failed · ${counts.total} in all`,
      ),
    );
    // The first unfinished step: resuming from a step after it accepts the ones in between.
    const firstOpen = jobs.findIndex((j) => !FINISHED.has(j.state));
    list.replaceChildren(
      ...(complete ? [] : [h("p", { class: "muted" }, "Only the newest 20,000 tasks are shown.")]),
      scroller(
        "tasks of the workflow",
        h(
          "table",
          { id: "steps", "aria-labelledby": "h-steps" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ["step", "id", "name", "state", "attempts", "error", ""].map((c) =>
                h("th", { scope: "col" }, c || h("span", { class: "visually-hidden" }, "actions")),
              ),
            ),
          ),
          h(
            "tbody",
            {},
            jobs.map((job, i) => {
              const label = job.name || job.id;
              const open = !FINISHED.has(job.state);
              const canResume = firstOpen >= 0 && i > firstOpen;
              return h(
                "tr",
                { "data-id": job.id },
                h("td", {}, String(i + 1)),
                h("td", { class: "id" }, shortId(job.id)),
                h("td", {}, h("a", { href: `#/jobs/${job.id}` }, jobName(job))),
                h("td", {}, stateBadge(job.state)),
                h("td", {}, String(job.attempts)),
                h("td", {}, job.error || ""),
                h(
                  "td",
                  { class: "actions" },
                  h(
                    "button",
                    {
                      type: "button",
                      disabled: ui.readOnly || !open,
                      "aria-label": `Skip ${label}`,
                      onclick: (e) =>
                        act(e.currentTarget, `Skip ${label}`, "skip_task", { id: job.id }, load),
                    },
                    "Skip",
                  ),
                  h(
                    "button",
                    {
                      type: "button",
                      disabled: ui.readOnly || !canResume,
                      "aria-label": `Resume from here: ${label}`,
                      title: "Mark every unfinished task before this one as done",
                      onclick: (e) => {
                        const before = jobs.slice(0, i).filter((j) => !FINISHED.has(j.state)).length;
                        if (
                          !confirm(
                            `Resume from step ${i + 1}? ${before} earlier unfinished task(s) are marked done.`,
                          )
                        )
                          return;
                        act(e.currentTarget, `Resume from ${label}`, "accept_before", { id: job.id }, load);
                      },
                    },
                    "Resume from here",
                  ),
                ),
              );
            }),
          ),
        ),
      ),
    );
  }
  await load();
  ui.onLedgerEvent = debounce(load, 300);
}
