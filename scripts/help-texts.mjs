#!/usr/bin/env node
/**
 * Write dist/cli-help.json: the text `baton <command…> --help` prints, for every visible command
 * and alias, taken from the built CLI (dist/cli.mjs) by running it. bin/baton.js answers those
 * calls from this file without loading the CLI bundle (issue 19: help loaded the operation
 * catalogue, zod and yaml). Run by scripts/build.mjs after the bundle, in a process whose stdout
 * is a pipe: commander then wraps at 80 columns, as it does for any output that is not a terminal.
 *
 * The file is {"<words>": "<help text>"} with "" for `baton --help` and "task run" for
 * `baton task run --help`; test/cli.startup.test.ts checks it equals the live help.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const scratch = mkdtempSync(join(tmpdir(), "baton-help-"));
// Help does not read the ledger or the project, but nothing here may touch a real one.
process.env.BATON_HOME = join(scratch, "home");
delete process.env.BATON_DATABASE_URL;
process.chdir(scratch);

const { buildProgram, main } = await import(pathToFileURL(join(root, "dist", "cli.mjs")).href);

/** Every visible command path, by name and by each alias: [["list"], ["ls"], ["task", "run"]…]. */
function paths(command, prefix = []) {
  return command.commands
    .filter((c) => !c._hidden)
    .flatMap((c) =>
      [c.name(), ...c.aliases()].flatMap((word) => [[...prefix, word], ...paths(c, [...prefix, word])]),
    );
}

/** What `baton <words…> --help` prints on stdout, or undefined when it is not plain help. */
async function help(words) {
  let out = "";
  let err = "";
  const write = process.stdout.write;
  const writeErr = process.stderr.write;
  process.stdout.write = (chunk) => ((out += String(chunk)), true);
  process.stderr.write = (chunk) => ((err += String(chunk)), true);
  let code;
  try {
    code = await main([...words, "--help"]);
  } finally {
    process.stdout.write = write;
    process.stderr.write = writeErr;
  }
  return code === 0 && err === "" && out.startsWith("Usage: baton") ? out : undefined;
}

const texts = {};
for (const words of [[], ...paths(buildProgram(() => undefined))]) {
  const text = await help(words);
  if (text !== undefined) texts[words.join(" ")] = text;
}
writeFileSync(join(root, "dist", "cli-help.json"), `${JSON.stringify(texts)}\n`);
rmSync(scratch, { recursive: true, force: true });
