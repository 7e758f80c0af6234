/**
 * `baton config edit`: open a copy of baton.yaml (or the personal config) in $VISUAL / $EDITOR;
 * the edit replaces the file only when it validates. An invalid edit is refused: the file stays as
 * it was, the problems are printed, and the edited copy is kept so nothing typed is lost.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BatonError } from "../core/errors.js";
import { configError, configPaths, formatProblem, parseConfig } from "../tasks/config.js";
import { replaceFile } from "../core/paths.js";
import { io } from "./io.js";
import { printError, printOk } from "./output.js";

const STARTER = `# baton.yaml: configured tasks. \`baton config schema\` prints the JSON Schema.
tasks: {}
`;

export async function editConfig(personal: boolean, json: boolean): Promise<number> {
  const mode = { json, color: false };
  const env = io().env;
  const { root, projectFile, personalFile } = configPaths(io().cwd, env);
  const file = personal ? personalFile : projectFile;
  const editor = env.VISUAL ?? env.EDITOR;
  if (editor === undefined || editor.trim() === "") {
    printError(mode, new BatonError("USAGE", "set $EDITOR (or $VISUAL) to the editor to use"));
    return 2;
  }
  let before: string;
  try {
    before = readFileSync(file, "utf8");
  } catch {
    before = STARTER;
  }
  const dir = mkdtempSync(join(tmpdir(), "baton-edit-"));
  const copy = join(dir, personal ? "config.yaml" : "baton.yaml");
  writeFileSync(copy, before, { mode: 0o600 });
  // The editor command may carry arguments (`code -w`): the shell splits it; the file is "$1".
  const edited = spawnSync("/bin/sh", ["-c", `${editor} "$1"`, "baton-edit", copy], {
    stdio: "inherit",
    env,
    cwd: io().cwd,
  });
  if (edited.status !== 0) {
    printError(
      mode,
      new BatonError("USAGE", `the editor exited with ${edited.status ?? edited.signal}; nothing saved`),
    );
    rmSync(dir, { recursive: true, force: true });
    return 1;
  }
  const after = readFileSync(copy, "utf8");
  if (after === before) {
    rmSync(dir, { recursive: true, force: true });
    printOk(mode, { file, changed: false }, () => `no change to ${file}`);
    return 0;
  }
  const checked = parseConfig(after, file);
  if (!checked.ok) {
    const error = configError(checked.problems, root);
    printError(
      mode,
      new BatonError("CONFIG_INVALID", `not saved: ${error.message}; your edit is in ${copy}`, {
        details: { ...error.details, kept: copy },
      }),
    );
    if (!json) for (const p of checked.problems.slice(1)) io().err(`  ${formatProblem(p, root)}\n`);
    return 2;
  }
  replaceFile(file, after, 0o644);
  rmSync(dir, { recursive: true, force: true });
  printOk(mode, { file, changed: true }, () => `saved ${file}`);
  return 0;
}
