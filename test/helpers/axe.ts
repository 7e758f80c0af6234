/**
 * axe-core in a Playwright page, for the dashboard's browser tests: every page (and every page a
 * browser can be shown, such as the 401 one) must have 0 violations in both themes.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { Page } from "playwright-core";

const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

interface AxeViolation {
  id: string;
  impact: string;
  help: string;
  nodes: { target: string[]; failureSummary: string }[];
}

/** axe-core's violations on the page as it is now (its source is evaluated, not a <script>: the CSP allows none). */
export async function axe(page: Page): Promise<string[]> {
  const loaded = await page.evaluate(() => "axe" in globalThis);
  if (!loaded) await page.evaluate(AXE);
  const violations = (await page.evaluate(() =>
    (globalThis as unknown as { axe: { run(): Promise<{ violations: unknown[] }> } }).axe
      .run()
      .then((r) => r.violations),
  )) as AxeViolation[];
  return violations.map(
    (v) =>
      `${v.id} (${v.impact}): ${v.help} at ${v.nodes
        .slice(0, 3)
        .map((n) => `${n.target.join(" ")} [${n.failureSummary.replace(/\s+/g, " ").slice(0, 160)}]`)
        .join("; ")}`,
  );
}
