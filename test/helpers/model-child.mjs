/**
 * One "process" of the R-38 model-based test: reads JSON commands on stdin, one per line, runs
 * each through the operation catalogue (`baton.call`, what every front-end uses) on the built
 * library, and answers one JSON line per command: `{ seq, ok, value }` or `{ seq, ok: false, code }`.
 * `{ open: OpenOptions }` opens a ledger (closing the previous one), `{ close: true }` closes it.
 */
import { createInterface } from "node:readline";

const { openBaton } = await import(new URL("../../dist/index.js", import.meta.url).href);
let baton;
for await (const line of createInterface({ input: process.stdin })) {
  const msg = JSON.parse(line);
  let reply;
  try {
    if (msg.open !== undefined) {
      if (baton !== undefined) await baton.close();
      baton = await openBaton(msg.open);
      reply = { ok: true, value: null };
    } else if (msg.close === true) {
      if (baton !== undefined) await baton.close();
      baton = undefined;
      reply = { ok: true, value: null };
    } else {
      reply = { ok: true, value: await baton.call(msg.op, msg.input, { cwd: msg.cwd, actor: msg.actor }) };
    }
  } catch (error) {
    reply = { ok: false, code: error?.code ?? "UNTYPED", message: String(error?.message ?? error) };
  }
  process.stdout.write(`${JSON.stringify({ seq: msg.seq, ...reply })}\n`);
}
