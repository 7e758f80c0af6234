// The job page: details, why it waits, attempts with their logs, the event timeline, actions.
import {
  DURATION_HELP,
  FINISHED,
  act,
  announce,
  api,
  copyButton,
  debounce,
  duration,
  errorText,
  h,
  isQueuePause,
  jobName,
  json,
  main,
  op,
  ranTime,
  scroller,
  stateBadge,
  toast,
  totalTime,
  ui,
  when,
} from "./lib.js";

const WAITING = new Set(["queued", "waiting", "retrying"]);

/** How long one attempt ran (to its end, or so far). */
function attemptTime(a) {
  return `${duration(a.startedAt, a.endedAt)}${a.endedAt ? "" : " so far"}`;
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** The live log panel of the job on screen: { jobId, panel }. */
let logCache;

export async function jobView(id) {
  const detail = await api(`/api/jobs/${encodeURIComponent(id)}`);
  const job = detail.job;
  const isAgent = job.type.startsWith("agent:");
  // Why it waits (the explanation `baton explain` prints) and, for an agent job, its instructions
  // and answer: read beside the job; a failure of either leaves the rest of the page.
  const [explained, agent] = await Promise.all([
    WAITING.has(job.state) ? op("explain_task", { id: job.id }).catch(() => undefined) : undefined,
    isAgent ? op("agent_show", { id: job.id, lines: 0 }).catch(() => undefined) : undefined,
  ]);
  const refresh = () => ui.render();
  const first = detail.attempts[0];
  const running = detail.attempts.some((a) => !a.endedAt);
  const total = totalTime(job, true);
  const button = (label, name, input, enabled, confirmText) =>
    h(
      "button",
      {
        type: "button",
        class: confirmText ? "danger" : undefined,
        disabled: ui.readOnly || !enabled,
        onclick: (e) => act(e.currentTarget, label, name, input, refresh, confirmText),
      },
      label,
    );
  const finished = FINISHED.has(job.state);
  const failedLike = ["failed", "timed_out", "cancelled"].includes(job.state);
  const named = jobName(job);
  const fields = [
    ["id", [h("code", {}, job.id), " ", copyButton(job.id, "Copy the job id")]],
    ["type", job.type],
    ["name", job.name],
    ["workflow", job.workflow ? h("a", { href: workflowLink(job) }, job.workflow) : undefined],
    ["project", job.project],
    ["priority", job.priority],
    [
      "attempts",
      job.attempts > job.maxAttempts
        ? `${job.attempts} (${job.maxAttempts} allowed; retried by hand)`
        : `${job.attempts} of ${job.maxAttempts}`,
    ],
    ["tags", (job.tags || []).join(", ")],
    ["created", when(job.createdAt)],
    ["run at", job.runAt && job.runAt !== job.createdAt ? when(job.runAt) : undefined],
    ["started", when(job.startedAt)],
    ["finished", when(job.finishedAt)],
    // The durations, as DURATION_HELP defines them (the jobs list's "total" is the same number).
    ["total", total ? h("span", { title: DURATION_HELP.total }, total, ", enqueued to finished") : undefined],
    ["waited", first ? `${duration(job.createdAt, first.startedAt)} before attempt 1 started` : undefined],
    [
      "ran",
      first
        ? h(
            "span",
            { title: DURATION_HELP.ran },
            ranTime(detail.attempts),
            ` in ${plural(detail.attempts.length, "attempt")}`,
            detail.attempts.length > 1 ? ` (the last: ${attemptTime(detail.attempts.at(-1))})` : "",
            running ? " so far" : "",
          )
        : undefined,
    ],
    ["lease owner", job.leaseOwner],
    [
      "depends on",
      (job.dependsOn || []).length > 0
        ? job.dependsOn.map((d) => [h("a", { href: `#/jobs/${d}` }, d), " "])
        : undefined,
    ],
  ].filter(([, v]) => v !== undefined && v !== "" && v !== null);

  if (logCache === undefined || logCache.jobId !== job.id) logCache = { jobId: job.id, panel: logPanel(job) };
  const log = logCache.panel;
  log.update(job, detail.attempts);
  const stopLabel = job.state === "running" ? "Stop" : "Cancel";
  // replaceChildren would write a null as the text "null": leave the missing parts out.
  const parts = [
    h("p", {}, h("a", { href: "#/jobs" }, "← Jobs")),
    h(
      "h1",
      { "data-title": `${named} (${job.id.slice(-ui.shortIdLength)})` },
      `${named} `,
      stateBadge(job.state),
      // Archived: out of the lists, still here (Unarchive brings it back).
      job.archived
        ? [" ", h("span", { class: "badge archived-mark", id: "archived-mark" }, "archived")]
        : null,
    ),
    explained ? whyWaiting(explained) : null,
    h(
      "div",
      { class: "toolbar", role: "group", "aria-label": "Actions" },
      button("Retry", "retry_job", { id: job.id }, finished),
      // Redrive re-queues a checkpoint with a fresh budget; a command, task run or agent job is run
      // again with Retry (redrive_task refuses those: RESERVED_TYPE), so it is not offered there.
      runsProcess(job.type) ? null : button("Redrive", "redrive_task", { id: job.id }, failedLike),
      button(stopLabel, "stop_job", { id: job.id }, !finished, `${stopLabel} ${named}?`),
      button("Skip", "skip_task", { id: job.id }, !finished),
      job.archived
        ? button("Unarchive", "unarchive", { id: job.id }, true)
        : button(
            "Archive",
            "archive",
            { id: job.id },
            true,
            finished
              ? `Archive ${named}? It leaves the lists.`
              : `Archive ${named}? It is ${job.state}: it is cancelled first (a running process is stopped), then leaves the lists.`,
          ),
    ),
    agent ? agentPanel(agent) : null,
    h(
      "div",
      { class: "grid2" },
      h(
        "section",
        { "aria-labelledby": "h-fields" },
        h("h2", { id: "h-fields" }, "Details"),
        h(
          "dl",
          { class: "fields", id: "fields" },
          fields.map(([k, v]) => [h("dt", {}, k), h("dd", {}, typeof v === "object" ? v : String(v))]),
        ),
      ),
      h(
        "section",
        { "aria-labelledby": "h-payload" },
        h("h2", { id: "h-payload" }, "Payload"),
        h("pre", { id: "payload", tabindex: "0" }, json(job.payload)),
        job.result !== undefined
          ? [h("h2", {}, "Result"), h("pre", { tabindex: "0" }, json(job.result))]
          : null,
        job.evidence !== undefined
          ? [h("h2", {}, "Evidence"), h("pre", { tabindex: "0" }, json(job.evidence))]
          : null,
        job.error !== undefined
          ? [h("h2", {}, "Error"), h("pre", { id: "error", tabindex: "0" }, job.error)]
          : null,
      ),
    ),
    rerun(job),
    h("h2", {}, "Attempts"),
    detail.attempts.length === 0
      ? h("p", { class: "muted" }, "Not started yet.")
      : scroller(
          "attempts",
          h(
            "table",
            { id: "attempts" },
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                ["#", "owner", "started", "ran", "outcome", "exit", "error", "log"].map((c) =>
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
                  { "data-attempt": a.n },
                  h("td", {}, String(a.n)),
                  h("td", {}, a.owner),
                  h("td", {}, when(a.startedAt)),
                  h("td", {}, attemptTime(a)),
                  h("td", {}, a.outcome || ""),
                  h("td", {}, a.exitCode === undefined ? "" : String(a.exitCode)),
                  h("td", { class: "error-cell" }, a.error || ""),
                  h(
                    "td",
                    {},
                    h(
                      "button",
                      {
                        type: "button",
                        "aria-label": `Show the log of attempt ${a.n}`,
                        onclick: () => log.showAttempt(a.n),
                      },
                      "Log",
                    ),
                  ),
                ),
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
  ];
  main.replaceChildren(...parts.filter((p) => p !== null && p !== undefined));
  const again = debounce(refresh, 300);
  ui.onLedgerEvent = (event) => {
    // A pause or resume of the queue changes why a waiting job waits ("Why is it waiting?").
    if (event.jobId === job.id || (WAITING.has(job.state) && isQueuePause(event))) again();
  };
  // The log panel outlives re-renders of the same job, so a state change does not lose the tail
  // (or un-pause it); it is stopped when the page shows something else.
  ui.leaveView = (next) => {
    if (next === `/jobs/${job.id}` || next === `/jobs/${id}`) return;
    log.stop();
    logCache = undefined;
  };
}

function workflowLink(job) {
  const q = new URLSearchParams({ name: job.workflow });
  if (job.project) q.set("project", job.project);
  return `#/workflow?${q}`;
}

/** "Why is it waiting": the reasons `explain_task` (baton explain) gives, as a note above the job. */
function whyWaiting(explained) {
  return h(
    "section",
    { class: "note", id: "why-waiting", "aria-labelledby": "h-why" },
    h("h2", { id: "h-why" }, "Why is it waiting?"),
    explained.reasons.length === 0
      ? h("p", {}, "Nothing holds it back: the next free worker takes it.")
      : h(
          "ul",
          {},
          explained.reasons.map((r) => h("li", {}, r)),
        ),
  );
}

/** An agent job: its instructions, metadata and answer (agent_show). */
function agentPanel(agent) {
  const meta = Object.entries(agent.meta || {});
  return h(
    "section",
    { class: "panel", id: "agent-panel", "aria-labelledby": "h-agent" },
    h("h2", { id: "h-agent" }, `Agent ${agent.agent}`),
    h("h3", {}, "Instructions"),
    h("pre", { id: "agent-instructions", tabindex: "0" }, agent.instructions),
    meta.length > 0
      ? [
          h("h3", {}, "Metadata"),
          h(
            "dl",
            { class: "fields", id: "agent-meta" },
            meta.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]),
          ),
        ]
      : null,
    h("h3", {}, "Answer"),
    agent.summary !== undefined
      ? h("pre", { id: "agent-answer", tabindex: "0" }, agent.summary)
      : agent.error !== undefined
        ? h("pre", { id: "agent-answer", class: "bad", tabindex: "0" }, agent.error)
        : h(
            "p",
            { class: "muted", id: "agent-answer" },
            agent.waiting ? `No answer yet: ${agent.waiting}` : "No answer yet.",
          ),
  );
}

/**
 * The log of an attempt (the latest unless one is chosen) with a live tail: polls from the last
 * offset until paused or finished.
 */
function logPanel(job) {
  let offset;
  /** The log's first byte on screen: the bytes before it are not shown (the note says how many). */
  let start = 0;
  let attempt = 0;
  /** The attempt picked in the list (undefined: follow the latest). */
  let chosen;
  let ticking = false;
  let paused = false;
  let stopped = false;
  let text = "";
  let timer;
  const pre = h("pre", {
    class: "log",
    id: "log",
    role: "region",
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
  const attemptSelect = h(
    "select",
    { id: "log-attempt", "aria-label": "attempt" },
    h("option", { value: "" }, "latest attempt"),
  );
  const pause = h("button", { type: "button", id: "log-pause", "aria-pressed": "false" }, "Pause");
  // The whole log from the server (streamed), not the part on screen.
  const download = h("a", { class: "button", id: "log-download" }, "Download");
  const earlier = h("button", { type: "button", id: "log-earlier" }, "Load earlier");
  const hiddenText = h("span", {});
  const hidden = h("p", { class: "muted", id: "log-hidden", hidden: true }, hiddenText, " ", earlier);
  const encoder = new TextEncoder();

  function showHidden() {
    hidden.hidden = start === 0;
    hiddenText.textContent = `${start.toLocaleString("en-US")} earlier bytes not shown.`;
  }
  function setDownload() {
    const q = new URLSearchParams({ stream: stream.value });
    if (chosen !== undefined) q.set("attempt", String(chosen));
    download.href = `/api/jobs/${encodeURIComponent(job.id)}/log/download?${q}`;
    download.download = `${job.id}-${stream.value}.log`;
  }
  /** Keep at most ~1M characters on screen; what is dropped from the top counts as not shown. */
  function cap() {
    if (text.length <= 2_000_000) return;
    const dropped = text.length - 1_000_000;
    start += encoder.encode(text.slice(0, dropped)).length;
    text = text.slice(dropped);
  }

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
      if (chosen !== undefined) q.set("attempt", String(chosen));
      if (offset !== undefined) q.set("offset", String(offset));
      const chunk = await api(`/api/jobs/${job.id}/log?${q}`);
      if (stopped) return;
      if (chunk.attempt !== attempt) {
        // A new attempt (after a retry): start its log from the top of what it has.
        attempt = chunk.attempt;
        text = "";
      }
      if (text === "") start = chunk.start ?? 0;
      offset = chunk.offset;
      if (chunk.text) {
        text += chunk.text;
        cap();
      }
      showHidden();
      show();
      status.textContent =
        chunk.attempt === 0
          ? "no output yet"
          : chunk.finished
            ? `attempt ${chunk.attempt}, finished`
            : `attempt ${chunk.attempt}, following…`;
      if (chunk.finished && chunk.attempt > 0) again = false;
    } catch (error) {
      status.textContent = errorText(error);
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
  earlier.addEventListener("click", async () => {
    if (start === 0) return;
    earlier.disabled = true;
    try {
      const from = Math.max(0, start - 256 * 1024);
      const q = new URLSearchParams({
        stream: stream.value,
        offset: String(from),
        max: String(start - from),
      });
      q.set("attempt", String(attempt));
      const chunk = await api(`/api/jobs/${job.id}/log?${q}`);
      if (chunk.attempt === attempt && chunk.offset <= start) {
        text = chunk.text + text;
        start = chunk.start;
        show();
      }
      showHidden();
    } catch (error) {
      status.textContent = errorText(error);
    } finally {
      earlier.disabled = false;
    }
  });
  function restart() {
    offset = undefined;
    start = 0;
    text = "";
    setDownload();
    pre.classList.toggle("stderr", stream.value === "stderr");
    show();
    clearTimeout(timer);
    tick();
  }
  stream.addEventListener("change", restart);
  attemptSelect.addEventListener("change", () => {
    chosen = attemptSelect.value === "" ? undefined : Number(attemptSelect.value);
    restart();
  });
  search.addEventListener("input", show);
  setDownload();
  const element = h(
    "section",
    { "aria-labelledby": "h-log" },
    h("h2", { id: "h-log" }, "Log"),
    h("div", { class: "toolbar" }, attemptSelect, stream, search, pause, download, status),
    hidden,
    pre,
  );
  return {
    element,
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
    /** Show one attempt's log (from the attempts table). */
    showAttempt: (n) => {
      attemptSelect.value = String(n);
      chosen = n;
      restart();
      pre.focus();
    },
    /** Called on each render of the job: follow again when a new attempt started. */
    update: (current, attempts) => {
      const shown = attemptSelect.value;
      attemptSelect.replaceChildren(
        h("option", { value: "" }, "latest attempt"),
        attempts.map((a) => h("option", { value: String(a.n) }, `attempt ${a.n}`)),
      );
      attemptSelect.value = attempts.some((a) => String(a.n) === shown) ? shown : "";
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
