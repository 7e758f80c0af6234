// The job page: details, attempts, the event timeline, actions, and the live log tail.
import { FINISHED, act, announce, api, debounce, h, json, main, op, stateBadge, toast, ui, when } from "./lib.js";

/** The live log panel of the job on screen: { jobId, panel }. */
let logCache;

export async function jobView(id) {
  const [detail] = await Promise.all([api(`/api/jobs/${encodeURIComponent(id)}`)]);
  const job = detail.job;
  const refresh = () => ui.render();
  const button = (label, name, input, enabled, danger) =>
    h(
      "button",
      {
        type: "button",
        class: danger ? "danger" : undefined,
        disabled: ui.readOnly || !enabled,
        onclick: (e) => act(e.currentTarget, label, name, input, refresh),
      },
      label,
    );
  const finished = FINISHED.has(job.state);
  const failedLike = ["failed", "timed_out", "cancelled"].includes(job.state);
  const fields = [
    ["id", job.id],
    ["type", job.type],
    ["name", job.name],
    ["workflow", job.workflow],
    ["project", job.project],
    ["priority", job.priority],
    ["attempts", `${job.attempts} of ${job.maxAttempts}`],
    ["tags", (job.tags || []).join(", ")],
    ["created", job.createdAt],
    ["run at", job.runAt],
    ["started", job.startedAt],
    ["finished", job.finishedAt],
    ["lease owner", job.leaseOwner],
    ["depends on", (job.dependsOn || []).join(", ")],
  ].filter(([, v]) => v !== undefined && v !== "" && v !== null);

  if (logCache === undefined || logCache.jobId !== job.id) logCache = { jobId: job.id, panel: logPanel(job) };
  const log = logCache.panel;
  log.update(job, detail.attempts);
  main.replaceChildren(
    h("p", {}, h("a", { href: "#/jobs" }, "← Jobs")),
    h("h1", {}, `Job ${job.name || job.id} `, stateBadge(job.state)),
    h(
      "div",
      { class: "toolbar", role: "group", "aria-label": "Actions" },
      button("Retry", "retry_job", { id: job.id }, finished),
      button("Redrive", "redrive_task", { id: job.id }, failedLike),
      button(job.state === "running" ? "Stop" : "Cancel", "stop_job", { id: job.id }, !finished, true),
      button("Skip", "skip_task", { id: job.id }, !finished),
      button("Archive", "archive", { id: job.id }, true, true),
    ),
    h(
      "div",
      { class: "grid2" },
      h(
        "section",
        { "aria-labelledby": "h-fields" },
        h("h2", { id: "h-fields" }, "Details"),
        h(
          "dl",
          { class: "fields" },
          fields.map(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))]),
        ),
      ),
      h(
        "section",
        { "aria-labelledby": "h-payload" },
        h("h2", { id: "h-payload" }, "Payload"),
        h("pre", { id: "payload" }, json(job.payload)),
        job.result !== undefined ? [h("h2", {}, "Result"), h("pre", {}, json(job.result))] : null,
        job.evidence !== undefined ? [h("h2", {}, "Evidence"), h("pre", {}, json(job.evidence))] : null,
        job.error !== undefined ? [h("h2", {}, "Error"), h("pre", { id: "error" }, job.error)] : null,
      ),
    ),
    rerun(job),
    h("h2", {}, "Attempts"),
    detail.attempts.length === 0
      ? h("p", { class: "muted" }, "Not started yet.")
      : h(
          "table",
          { id: "attempts" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ["#", "owner", "started", "ended", "outcome", "exit", "error"].map((c) =>
                h("th", { scope: "col" }, c),
              ),
            ),
          ),
          h(
            "tbody",
            {},
            detail.attempts.map((a) =>
              h(
                "tr",
                {},
                h("td", {}, String(a.n)),
                h("td", {}, a.owner),
                h("td", {}, when(a.startedAt)),
                h("td", {}, when(a.endedAt)),
                h("td", {}, a.outcome || ""),
                h("td", {}, a.exitCode === undefined ? "" : String(a.exitCode)),
                h("td", {}, a.error || ""),
              ),
            ),
          ),
        ),
    log.element,
    h("h2", {}, "Events"),
    h(
      "ol",
      { class: "timeline", id: "timeline" },
      detail.events.map((e) =>
        h(
          "li",
          {},
          when(e.at),
          h("strong", {}, e.kind),
          " ",
          e.from || e.to ? `${e.from || "∅"} → ${e.to || ""} ` : "",
          h("span", { class: "muted" }, `by ${e.actor}`),
          e.details ? h("span", { class: "muted" }, ` ${JSON.stringify(e.details)}`) : null,
        ),
      ),
    ),
  );
  const again = debounce(refresh, 300);
  ui.onLedgerEvent = (event) => {
    if (event.jobId === job.id) again();
  };
  // The log panel outlives re-renders of the same job, so a state change does not lose the tail
  // (or un-pause it); it is stopped when the page shows something else.
  ui.leaveView = (next) => {
    if (next === `/jobs/${job.id}` || next === `/jobs/${id}`) return;
    log.stop();
    logCache = undefined;
  };
}

/** The log of the latest attempt with a live tail: polls from the last offset until paused or finished. */
function logPanel(job) {
  let offset;
  let attempt = 0;
  let ticking = false;
  let paused = false;
  let stopped = false;
  let text = "";
  let timer;
  const pre = h("pre", {
    class: "log",
    id: "log",
    tabindex: "0",
    "aria-label": "log output",
    "aria-live": "off",
  });
  const status = h("span", { class: "muted", id: "log-status" });
  const stream = h(
    "select",
    { id: "log-stream", "aria-label": "stream" },
    ["output", "stdout", "stderr"].map((s) => h("option", { value: s }, s)),
  );
  const search = h("input", {
    type: "search",
    id: "log-search",
    placeholder: "filter lines",
    "aria-label": "filter log lines",
  });
  const pause = h("button", { type: "button", id: "log-pause", "aria-pressed": "false" }, "Pause");
  const download = h("button", { type: "button" }, "Download");

  function show() {
    const needle = search.value;
    const lines = needle
      ? text
          .split("\n")
          .filter((l) => l.includes(needle))
          .join("\n")
      : text;
    const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.textContent = lines;
    if (atBottom && !paused) pre.scrollTop = pre.scrollHeight;
  }
  async function tick() {
    if (stopped || paused || ticking) return;
    ticking = true;
    let again = true;
    try {
      const q = new URLSearchParams({ stream: stream.value });
      if (offset !== undefined) q.set("offset", String(offset));
      const chunk = await api(`/api/jobs/${job.id}/log?${q}`);
      if (stopped) return;
      if (chunk.attempt !== attempt) {
        // A new attempt (after a retry): start its log from the top of what it has.
        attempt = chunk.attempt;
        text = "";
      }
      offset = chunk.offset;
      if (chunk.text) {
        text += chunk.text;
        if (text.length > 2_000_000) text = text.slice(-1_000_000);
      }
      show();
      status.textContent =
        chunk.attempt === 0
          ? "no output yet"
          : chunk.finished
            ? `attempt ${chunk.attempt}, finished`
            : `attempt ${chunk.attempt}, following…`;
      if (chunk.finished && chunk.attempt > 0) again = false;
    } catch (error) {
      status.textContent = `${error.code}: ${error.message}`;
    } finally {
      ticking = false;
    }
    if (again && !stopped) timer = setTimeout(tick, 1000);
  }
  pause.addEventListener("click", () => {
    paused = !paused;
    pause.textContent = paused ? "Resume" : "Pause";
    pause.setAttribute("aria-pressed", String(paused));
    status.textContent = paused ? "paused" : "following…";
    if (!paused) tick();
  });
  stream.addEventListener("change", () => {
    offset = undefined;
    text = "";
    show();
    clearTimeout(timer);
    tick();
  });
  search.addEventListener("input", show);
  download.addEventListener("click", () => {
    const url = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
    h("a", { href: url, download: `${job.id}-${stream.value}.log` }).click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  });
  const element = h(
    "section",
    { "aria-labelledby": "h-log" },
    h("h2", { id: "h-log" }, "Log"),
    h("div", { class: "toolbar" }, stream, search, pause, download, status),
    pre,
  );
  return {
    element,
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
    /** Called on each render of the job: follow again when a new attempt started. */
    update: (current, attempts) => {
      const latest = attempts.length === 0 ? 0 : attempts[attempts.length - 1].n;
      if (latest !== attempt && latest > 0) offset = undefined;
      if (latest === 0 && current.type !== "command") status.textContent = "no attempts yet";
      else {
        clearTimeout(timer);
        tick();
      }
    },
  };
}

/** Types whose jobs run a process (commands, configured tasks, agents): they re-run with Retry. */
const runsProcess = (type) => type === "command" || type.startsWith("task:") || type.startsWith("agent:");

/** "Run again with an edited payload": `rerun_task` enqueues a new job like this one. */
let rerunCache;

/** The form survives live re-renders of the same job (an open form keeps what was typed). */
function rerun(job) {
  if (rerunCache === undefined || rerunCache.jobId !== job.id)
    rerunCache = { jobId: job.id, element: rerunForm(job) };
  return rerunCache.element;
}

function rerunForm(job) {
  if (runsProcess(job.type)) return null;
  const area = h("textarea", { id: "rerun-payload", name: "payload", rows: "6", spellcheck: "false" });
  area.value = json(job.payload ?? {});
  const submit = h("button", { type: "submit", disabled: ui.readOnly }, "Run again");
  const form = h(
    "form",
    {
      id: "rerun",
      onsubmit: async (e) => {
        e.preventDefault();
        let payload;
        try {
          payload = JSON.parse(area.value);
        } catch (error) {
          toast(`Run again: the payload is not JSON (${error.message})`);
          return;
        }
        submit.disabled = true;
        try {
          const created = await op("rerun_task", { id: job.id, payload });
          toast(`Run again: enqueued ${created.id}`, true);
          announce("Run again done");
          location.hash = `#/jobs/${encodeURIComponent(created.id)}`;
        } catch (error) {
          toast(`Run again: ${error.code || "ERROR"}: ${error.message}`);
        } finally {
          submit.disabled = ui.readOnly;
        }
      },
    },
    h("label", { for: "rerun-payload" }, "Payload (JSON)"),
    area,
    submit,
  );
  return h("details", { class: "rerun" }, h("summary", {}, "Run again with an edited payload"), form);
}
