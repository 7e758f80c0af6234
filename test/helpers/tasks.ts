import { mkdtempSync, realpathSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A temporary project folder holding `baton.yaml` with `yaml` (for the configured-task tests). */
export function project(yaml: string): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), "btp-")));
  writeFileSync(join(dir, "baton.yaml"), yaml);
  return dir;
}
