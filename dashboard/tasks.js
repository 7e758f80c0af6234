// Tasks and schedules: the tasks of baton.yaml with their description, schedule and next fire
// time, their last runs and schedule times (live), and "Run now" / "Dry run" (run_task).
import { describeCron } from "./cron.js";
import {
  debounce,
  duration,
  errorText,
  h,
  main,
  op,
  shortId,
  stateBadge,
  toast,
  announce,
  ui,
  when,
} from "./lib.js";

/** The time zone a schedule fires in: its own, else the daemon's (assumed to be this browser's). */
function zoneOf(schedule) {
  return schedule.timezone || `${Intl.DateTimeFormat().resolvedOptions().timeZone}, local`;
}

/** The schedule in words, with the expression beside it. */
function scheduleText(s) {
  const words = describeCron(s.cron);
  return [
    words ? h("span", { class: "cron-words" }, words) : null,
    " ",
    h("code", { class: "cron" }, s.cron),
    ` (${zoneOf(s)})`,
  ];
}

const RUNS_SHOWN = 5;

/** An argument as a shell would need it written (for reading only: nothing runs through a shell). */
function shellWord(arg) {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

export async function tasksView() {
  let listed;
  try {
    listed = await op("list_configured_tasks", {});
  } catch (error) {
    main.replaceChildren(h("h1", {}, "Tasks and schedules"), h("p", { role: "alert" }, errorText(error)));
    return;
  }
  // list_schedules only reads (D108); should it fail all the same, the next fire times come from
  // each task's contract (describe_task). Read again when the ledger moves: a schedule that fired
  // has a new next run and last fire time.
  const schedules = new Map();
  async function loadSchedules() {
    try {
      const listedNow = (await op("list_schedules", { count: 1 })).schedules;
      schedules.clear();
      for (const s of listedNow) schedules.set(s.task, s);
    } catch {
      const scheduled = listed.tasks.filter((t) => t.schedule !== undefined);
      const described = await Promise.all(
        scheduled.map((t) => op("describe_task", { task: t.name }).catch(() => undefined)),
      );
      for (const d of described) {
        if (d !== undefined && d.schedule !== undefined)
          schedules.set(d.name, { task: d.name, cron: d.schedule, next: d.nextRun ? [d.nextRun] : [] });
      }
    }
  }
  await loadSchedules();

  const runsBy = new Map(listed.tasks.map((t) => [t.name, h("div", { class: "runs" })]));
  const outputs = new Map(
    listed.tasks.map((t) => [t.name, h("div", { class: "run-output", "aria-live": "polite" })]),
  );

  async function loadRuns() {
    if (listed.tasks.length === 0) return;
    const { runs } = await op("task_runs", { limit: 200 });
    for (const t of listed.tasks) {
      const mine = runs.filter((r) => r.type === `task:${t.name}`).slice(0, RUNS_SHOWN);
      runsBy.get(t.name).replaceChildren(
        mine.length === 0
          ? h("p", { class: "muted" }, "No runs yet.")
          : h(
              "ul",
              { class: "run-list", "aria-label": `last runs of ${t.name}` },
              mine.map((r) =>
                h(
                  "li",
                  { "data-id": r.id, class: r.dryRun ? "dry" : undefined },
                  stateBadge(r.state),
                  " ",
                  r.dryRun ? [h("span", { class: "kind dry-run" }, "dry run"), " "] : null,
                  r.forced ? [h("span", { class: "kind forced" }, "forced"), " "] : null,
                  r.scheduled ? [h("span", { class: "kind scheduled" }, "scheduled"), " "] : null,
                  shortId(r.id),
                  " ",
                  when(r.createdAt),
                  r.finishedAt
                    ? h("span", { class: "muted" }, ` took ${duration(r.createdAt, r.finishedAt)}`)
                    : null,
                  r.error ? h("span", { class: "muted" }, ` ${r.error}`) : null,
                ),
              ),
            ),
      );
    }
  }

  /** A task's fields: its schedule, next run, last fire and switch (redrawn as schedules fire). */
  function fields(t) {
    const s = schedules.get(t.name);
    return [
      h("dt", {}, "schedule"),
      h("dd", { class: "schedule" }, s ? scheduleText(s) : "not scheduled"),
      s
        ? [
            h("dt", {}, "next run"),
            h(
              "dd",
              { class: "next-fire" },
              s.enabled === false
                ? "none while switched off"
                : s.next[0]
                  ? [
                      when(s.next[0]),
                      " ",
                      h("span", { class: "muted" }, new Date(s.next[0]).toLocaleString()),
                    ]
                  : "none",
            ),
            s.lastFiredAt
              ? [h("dt", {}, "last fired"), h("dd", { class: "last-fired" }, when(s.lastFiredAt))]
              : null,
            s.enabled === undefined
              ? null
              : [
                  h("dt", {}, "switched"),
                  h("dd", { class: "schedule-switch" }, s.enabled ? "on" : "off: does not fire"),
                ],
          ]
        : null,
      h("dt", {}, "scope"),
      h("dd", {}, t.scope),
    ];
  }
  const fieldsBy = new Map(listed.tasks.map((t) => [t.name, h("dl", { class: "fields" }, fields(t))]));

  /**
   * A task's schedule switch: the opposite of its state, none without a schedule (an empty text
   * node holds its place). Redrawn with the fields: the CLI or another page may switch it.
   */
  function switchOf(t) {
    const s = schedules.get(t.name);
    if (s === undefined || s.enabled === undefined) return document.createTextNode("");
    return h(
      "button",
      {
        type: "button",
        class: s.enabled ? "danger schedule-toggle" : "schedule-toggle",
        disabled: ui.readOnly,
        "aria-label": `${s.enabled ? "Switch schedule off" : "Switch schedule on"}: ${t.name}`,
        onclick: (e) => switchSchedule(e.currentTarget, t.name, !s.enabled),
      },
      s.enabled ? "Switch schedule off" : "Switch schedule on",
    );
  }
  const switchesBy = new Map(listed.tasks.map((t) => [t.name, switchOf(t)]));

  /** What the ledger's events change on this page: the runs, and the schedules' times. */
  async function refresh() {
    await Promise.all([loadRuns(), loadSchedules()]);
    for (const t of listed.tasks) {
      const fresh = h("dl", { class: "fields" }, fields(t));
      fieldsBy.get(t.name).replaceWith(fresh);
      fieldsBy.set(t.name, fresh);
      const button = switchOf(t);
      const shown = switchesBy.get(t.name);
      const focused = shown === document.activeElement;
      shown.replaceWith(button);
      switchesBy.set(t.name, button);
      if (focused && button instanceof HTMLElement) button.focus();
    }
  }

  /** Switch a task's schedule off or on (disable_schedule / enable_schedule), then redraw. */
  async function switchSchedule(button, task, on) {
    const label = `${on ? "Switch on" : "Switch off"} the schedule of ${task}`;
    if (!on && !confirm(`Switch off the schedule of ${task}? It will not fire until switched on.`)) return;
    button.disabled = true;
    try {
      await op(on ? "enable_schedule" : "disable_schedule", { task });
      toast(`${label}: done`, true);
      announce(`${label} done`);
    } catch (error) {
      toast(`${label}: ${errorText(error)}`);
    }
    // Through the router, which keeps the events that arrive while the page is drawn again.
    await ui.render();
  }

  async function run(button, task, dryRun) {
    const label = `${dryRun ? "Dry run" : "Run"} ${task}`;
    const output = outputs.get(task);
    button.disabled = true;
    try {
      const data = await op("run_task", { task, ...(dryRun ? { dryRun: true } : {}) });
      if (data.preview !== undefined) {
        output.replaceChildren(
          h("p", {}, "Dry run: nothing was started. It would run:"),
          h("pre", { class: "preview" }, data.preview.argv.map(shellWord).join(" ")),
          h("p", { class: "muted" }, `in ${data.preview.cwd}`),
        );
      } else {
        output.replaceChildren(
          h(
            "p",
            {},
            `${dryRun ? "Dry run" : "Run"} ${data.deduplicated ? "already queued" : "started"}: `,
            h("a", { href: `#/jobs/${data.id}`, class: "run-link" }, data.id),
          ),
        );
      }
      toast(`${label}: done`, true);
      announce(`${label} done`);
    } catch (error) {
      output.replaceChildren(h("p", { role: "alert" }, errorText(error)));
      toast(`${label}: ${error.code || "ERROR"}: ${error.message}`);
    } finally {
      button.disabled = ui.readOnly;
      loadRuns();
    }
  }

  main.replaceChildren(
    h("h1", {}, "Tasks and schedules"),
    h(
      "p",
      { class: "muted" },
      listed.files.length === 0 ? "No baton.yaml here." : `From ${listed.files.join(", ")}.`,
    ),
    listed.tasks.length === 0
      ? h("p", { class: "muted", id: "no-tasks" }, "No configured tasks. `baton task new <name>` adds one.")
      : h(
          "div",
          { class: "task-grid", id: "tasks" },
          listed.tasks.map((t) => {
            const headingId = `task-${t.name.replace(/[^A-Za-z0-9_-]/g, "_")}`;
            return h(
              "section",
              { class: "task-card", "data-task": t.name, "aria-labelledby": headingId },
              h("h2", { id: headingId }, t.name, " ", h("span", { class: "kind" }, t.kind)),
              h("p", {}, t.description || h("span", { class: "muted" }, "No description.")),
              fieldsBy.get(t.name),
              h(
                "div",
                { class: "toolbar", role: "group", "aria-label": `Run ${t.name}` },
                h(
                  "button",
                  {
                    type: "button",
                    disabled: ui.readOnly,
                    "aria-label": `Run now: ${t.name}`,
                    onclick: (e) => run(e.currentTarget, t.name, false),
                  },
                  "Run now",
                ),
                h(
                  "button",
                  {
                    type: "button",
                    disabled: ui.readOnly,
                    "aria-label": `Dry run: ${t.name}`,
                    onclick: (e) => run(e.currentTarget, t.name, true),
                  },
                  "Dry run",
                ),
                switchesBy.get(t.name),
              ),
              outputs.get(t.name),
              h("h3", {}, "Last runs"),
              runsBy.get(t.name),
            );
          }),
        ),
  );
  await loadRuns();
  ui.onLedgerEvent = debounce(refresh, 300);
}
