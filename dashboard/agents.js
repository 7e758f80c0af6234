// The agents page: submit an agent job (agent_submit), the configured agents (baton.yaml and
// presets), the live registry (register_agent), and agent jobs by agent.
import { agentTable } from "./lists.js";
import {
  announce,
  debounce,
  errorText,
  h,
  main,
  op,
  scroller,
  shortId,
  stateBadge,
  toast,
  ui,
  when,
} from "./lib.js";

/** `key=value` lines (or `;`-separated pairs) into an object; throws on a line without `=`. */
export function parseMeta(text) {
  const meta = {};
  for (const raw of text.split(/[\n;]/)) {
    const line = raw.trim();
    if (line === "") continue;
    const eq = line.indexOf("=");
    if (eq <= 0) throw new Error(`metadata '${line}' is not key=value`);
    meta[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return meta;
}

export async function agentsView(params) {
  const [configured, registry] = await Promise.all([
    op("list_configured_agents", {}).catch((error) => ({ agents: [], error })),
    op("list_agents", {}).catch(() => ({ agents: [] })),
  ]);
  const only = params.get("agent") || "";

  // --- the submit form ---------------------------------------------------------------------
  const status = h("div", { id: "submit-status", role: "status", "aria-live": "polite" });
  const form = h(
    "form",
    { id: "agent-submit", class: "stack", "aria-labelledby": "h-submit" },
    h(
      "div",
      { class: "field" },
      h(
        "label",
        {},
        "Agent",
        h("input", {
          name: "agent",
          id: "submit-agent",
          required: true,
          list: "agent-names",
          autocomplete: "off",
          "aria-describedby": "submit-agent-hint",
          value: only,
        }),
      ),
      h("span", { id: "submit-agent-hint", class: "hint" }, "A configured agent or a preset."),
    ),
    h(
      "datalist",
      { id: "agent-names" },
      configured.agents.map((a) => h("option", { value: a.name }, a.source)),
    ),
    h(
      "label",
      {},
      "Instructions",
      h("textarea", { name: "instructions", id: "submit-instructions", required: true, rows: 5 }),
    ),
    h(
      "div",
      { class: "field" },
      h(
        "label",
        {},
        "Metadata",
        h("textarea", {
          name: "meta",
          id: "submit-meta",
          rows: 2,
          placeholder: "pr=42",
          "aria-describedby": "submit-meta-hint",
        }),
      ),
      h("span", { id: "submit-meta-hint", class: "hint" }, "key=value, one per line; searchable later."),
    ),
    h("div", {}, h("button", { type: "submit", id: "submit-button", disabled: ui.readOnly }, "Submit")),
    status,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const button = form.querySelector("#submit-button");
    let meta;
    try {
      meta = parseMeta(form.elements.meta.value);
    } catch (error) {
      status.replaceChildren(h("p", { role: "alert" }, error.message));
      form.elements.meta.focus();
      return;
    }
    button.disabled = true;
    try {
      const data = await op("agent_submit", {
        agent: form.elements.agent.value.trim(),
        instructions: form.elements.instructions.value,
        ...(Object.keys(meta).length > 0 ? { meta } : {}),
      });
      status.replaceChildren(
        h(
          "p",
          {},
          `${data.jobs[0].deduplicated ? "Already queued" : "Submitted"}: `,
          h("a", { href: `#/jobs/${data.id}`, id: "submitted-link" }, data.id),
          " (its state is in the list below)",
        ),
      );
      form.elements.instructions.value = "";
      toast("Submit: done", true);
      announce(`agent job ${data.id} submitted`);
      loadJobs();
    } catch (error) {
      status.replaceChildren(h("p", { role: "alert" }, errorText(error)));
    } finally {
      button.disabled = ui.readOnly;
    }
  });

  // --- agent jobs by agent -------------------------------------------------------------------
  const filter = h(
    "select",
    { id: "agent-filter" },
    h("option", { value: "" }, "all agents"),
    configured.agents.map((a) => h("option", { value: a.name }, a.name)),
  );
  if (only && !configured.agents.some((a) => a.name === only))
    filter.append(h("option", { value: only }, only));
  filter.value = only;
  filter.addEventListener("change", () => {
    location.hash = filter.value ? `#/agents?agent=${encodeURIComponent(filter.value)}` : "#/agents";
  });
  const jobs = h("div", { id: "agent-jobs-wrap" });
  const registered = h("div", { id: "registry" }, agentTable(registry.agents));

  async function loadJobs() {
    let data;
    try {
      data = await op("agent_list", { all: true, limit: 100, ...(only ? { agent: only } : {}) });
    } catch (error) {
      jobs.replaceChildren(h("p", { role: "alert" }, errorText(error)));
      return;
    }
    jobs.replaceChildren(
      data.jobs.length === 0
        ? h("p", { class: "muted", id: "no-agent-jobs" }, "No agent jobs.")
        : scroller(
            "agent jobs",
            h(
              "table",
              { id: "agent-jobs" },
              h(
                "thead",
                {},
                h(
                  "tr",
                  {},
                  ["id", "agent", "state", "attempts", "created", "finished", "error"].map((c) =>
                    h("th", { scope: "col" }, c),
                  ),
                ),
              ),
              h(
                "tbody",
                {},
                data.jobs.map((j) =>
                  h(
                    "tr",
                    { "data-id": j.id },
                    h("td", { class: "id" }, shortId(j.id)),
                    h("td", {}, h("a", { href: `#/agents?agent=${encodeURIComponent(j.agent)}` }, j.agent)),
                    h("td", {}, stateBadge(j.state)),
                    h("td", {}, String(j.attempts)),
                    h("td", {}, when(j.createdAt)),
                    h("td", {}, when(j.finishedAt)),
                    h("td", {}, j.error || ""),
                  ),
                ),
              ),
            ),
          ),
    );
  }

  async function loadRegistry() {
    const data = await op("list_agents", {}).catch(() => undefined);
    if (data !== undefined) registered.replaceChildren(agentTable(data.agents));
  }

  main.replaceChildren(
    h("h1", {}, "Agents"),
    h(
      "section",
      { "aria-labelledby": "h-submit", class: "panel" },
      h("h2", { id: "h-submit" }, "Submit an agent job"),
      ui.readOnly ? h("p", { class: "muted" }, "This server is read-only.") : null,
      form,
    ),
    h("h2", { id: "h-jobs" }, "Agent jobs"),
    h("div", { class: "toolbar" }, h("label", {}, "Show jobs of", filter)),
    jobs,
    h("h2", {}, "Configured agents"),
    configured.error
      ? h("p", { role: "alert" }, `${configured.error.code || "ERROR"}: ${configured.error.message}`)
      : configuredTable(configured.agents),
    h("h2", {}, "Registered agents"),
    h("p", { class: "muted" }, "Agents working on this ledger that said they are alive (register_agent)."),
    registered,
  );
  await loadJobs();
  ui.onLedgerEvent = debounce(() => {
    loadJobs();
    loadRegistry();
  }, 300);
}

function configuredTable(agents) {
  return scroller(
    "configured agents",
    h(
      "table",
      { id: "configured-agents" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["name", "from", "command", "limits", "environment"].map((c) => h("th", { scope: "col" }, c)),
        ),
      ),
      h(
        "tbody",
        {},
        agents.map((a) =>
          h(
            "tr",
            { "data-agent": a.name },
            h(
              "th",
              { scope: "row" },
              a.name,
              a.description ? h("div", { class: "muted" }, a.description) : null,
            ),
            h("td", {}, a.source),
            h(
              "td",
              {},
              h("code", {}, a.command.join(" ")),
              a.stdin ? h("span", { class: "muted" }, " (stdin)") : null,
            ),
            h(
              "td",
              {},
              [
                a.maxConcurrent !== undefined ? `${a.maxConcurrent} at once` : "",
                a.maxPerHost !== undefined ? `${a.maxPerHost} per host` : "",
                a.timeout !== undefined ? `timeout ${a.timeout}` : "",
                a.retries !== undefined ? `${a.retries} retries` : "",
              ]
                .filter(Boolean)
                .join(" · "),
            ),
            h("td", {}, a.env.join(", ")),
          ),
        ),
      ),
    ),
  );
}
