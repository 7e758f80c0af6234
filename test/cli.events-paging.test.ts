/**
 * `baton events` pages (stranger s18a F4): a full page ended without a word that more events
 * followed (a task's 1,100 output lines were cut at 1,000), and `-n` was ignored with `-f`. A full
 * page now says so (`more: true` in `job_events`; the text ends "N shown; next page: --after <id>").
 * Real CLI processes, a temp SQLite ledger.
 */
import { describe, expect, it } from "vitest";
import { cli, cliJson, newHome, stopDaemon, until } from "./helpers/supervisor.js";

describe("baton events pages", () => {
  it("a full page says where the next one starts; the last page does not", async () => {
    const home = newHome();
    try {
      const { id } = cliJson(home, ["run", "--", "true"]);
      await until("the job to finish", () => cliJson(home, ["status", id]).job.state === "succeeded");
      const all = cliJson(home, ["events", id]) as { events: { id: number; kind: string }[]; more: boolean };
      expect(all.more).toBe(false);
      expect(all.events.length).toBeGreaterThanOrEqual(4);

      const first = cli(home, ["events", id, "-n", "2"]);
      expect(first.code, first.stderr).toBe(0);
      const lines = first.stdout.trimEnd().split("\n");
      expect(lines).toHaveLength(3);
      expect(lines[2]).toBe(`2 shown; next page: --after ${all.events[1]!.id}`);
      expect(cliJson(home, ["events", id, "-n", "2"])).toMatchObject({
        more: true,
        lastEventId: all.events[1]!.id,
      });

      const negative = cli(home, ["events", id, "-n", "-1"]);
      expect(negative.code).toBe(2);
      expect(negative.stderr).toContain("--limit must be a whole number (0 or more), not '-1'");

      const rest = cli(home, ["events", id, "--after", String(all.events[1]!.id)]);
      expect(rest.stdout.trimEnd().split("\n")).toHaveLength(all.events.length - 2);
      expect(rest.stdout).not.toContain("next page");

      // With -f, -n is the size of each page: every event is printed once, in order.
      const followed = cli(home, ["events", id, "-f", "-n", "1"]);
      expect(followed.code, followed.stderr).toBe(0);
      const kinds = followed.stdout
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => l.split(/\s+/)[1]);
      expect(kinds).toEqual(all.events.map((e) => e.kind));

      // With --json: one event a line, then the envelope (as `logs -f --json`).
      const json = cli(home, ["events", id, "-f", "--json"]).stdout.trimEnd().split("\n");
      expect(json.slice(0, -1).map((l) => (JSON.parse(l) as { kind: string }).kind)).toEqual(
        all.events.map((e) => e.kind),
      );
      expect(JSON.parse(json.at(-1)!)).toEqual({
        ok: true,
        data: { id, state: "succeeded", finished: true, lastEventId: all.events.at(-1)!.id },
      });
    } finally {
      stopDaemon(home);
    }
  }, 60_000);
});
