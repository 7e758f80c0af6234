/**
 * Hostile payloads for R-27: text that would run a command if any layer handed it to a shell —
 * `$(…)`, backticks, quotes, `;`, `&&`, `|`, redirections, newlines, NUL-free control and
 * binary-ish characters, leading dashes, very long strings. Deterministic (seeded), and each
 * payload's commands would create its own canary file, so one that ever runs is found by name.
 */
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { seededRandom } from "./random.js";

/** Shell constructs; `C` becomes the payload's canary path. */
const ATTACKS = [
  "$(touch C)",
  "`touch C`",
  "'; touch C; '",
  '"; touch C; "',
  "; touch C",
  "&& touch C",
  "|| touch C",
  "| tee C",
  "\ntouch C\n",
  "\r\ntouch C #",
  "${IFS}touch${IFS}C",
  "$((0)); touch C",
  "> C",
  ">> C",
  "& touch C &",
  "--output=C",
  "-exec touch C ;",
  "<(touch C)",
  "$'\\x74ouch' C",
  "\\`touch C\\`",
  "{{summary}} {{host}} $(touch C)",
  "%s%n%x $BATON_SUMMARY ${BATON_RESULT_JSON}",
  "*; ?; [a-z]; ~; !!; #",
  "\\$(touch C)\\",
];

const WORDS = [
  "backup",
  "done",
  "ok",
  "disk full",
  "rclone:",
  "-rf",
  "--force",
  "=",
  "\\",
  "ünïcødé",
  "日本",
];

/** NUL-free control and binary-ish characters (as code points; astral ones only in short payloads). */
function binaryish(random: () => number, length: number, astral: boolean): string {
  let out = "";
  for (let i = 0; i < length; i++) {
    const r = random();
    if (r < 0.3) out += String.fromCharCode(1 + Math.floor(random() * 31));
    else if (r < 0.35) out += "\x7f";
    else if (r < 0.7) out += String.fromCharCode(0x80 + Math.floor(random() * 0x80));
    else if (r < 0.8) out += ["\u2028", "\u2029", "\ufeff", "\u202e", "\u00a0"][Math.floor(random() * 5)];
    else if (r < 0.9 && astral) out += ["😀", "𝔘", "🏳️‍🌈"][Math.floor(random() * 3)];
    else out += String.fromCharCode(0x20 + Math.floor(random() * 95));
  }
  return out;
}

/**
 * `count` payloads whose attacks target `canaryDir/c<i>`; at most `maxLength` characters
 * (long ones are built from repeated attacks, without astral characters so truncation never
 * splits a surrogate pair).
 */
export function hostilePayloads(count: number, canaryDir: string, maxLength = 60_000, seed = 27): string[] {
  const random = seededRandom(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const canary = join(canaryDir, `c${i}`);
    const attack = () => pick(ATTACKS).replaceAll("C", canary);
    let text: string;
    switch (i % 8) {
      case 0: // very long (capped)
        text = Array.from({ length: 2000 }, () => `${attack()} ${pick(WORDS)}`).join("");
        text = text.slice(0, Math.min(maxLength, 1_000 + Math.floor(random() * maxLength)));
        break;
      case 1: // leading dash, then an attack
        text = `${pick(["-", "--", "-rf ", "--help ", "-e"])}${attack()}`;
        break;
      case 2: // binary-ish only
        text = binaryish(random, 1 + Math.floor(random() * 200), true);
        break;
      case 3: // binary-ish around an attack
        text = `${binaryish(random, 20, true)}${attack()}${binaryish(random, 20, true)}`;
        break;
      default: // 1–4 attacks between words
        text = Array.from({ length: 1 + Math.floor(random() * 4) }, () => `${pick(WORDS)}${attack()}`).join(
          pick([" ", "", "\n", "\t"]),
        );
    }
    out.push(text.slice(0, maxLength));
  }
  return out;
}

/**
 * A fake `notify-send` first on PATH: it records its message argument (the last one) verbatim in
 * `<out>/<first word of the message>` using shell builtins only (the message starts with the run id).
 */
export function fakeNotifySend(dir: string): { bin: string; out: string } {
  const bin = join(dir, "bin");
  const out = join(dir, "notified");
  mkdirSync(bin, { recursive: true });
  mkdirSync(out, { recursive: true });
  writeFileSync(
    join(bin, "notify-send"),
    [
      "#!/bin/sh",
      "for last; do :; done",
      "name=${last%% *}",
      'printf "%s" "$last" > "$NOTIFY_OUT/$name"',
      "",
    ].join("\n"),
  );
  chmodSync(join(bin, "notify-send"), 0o755);
  return { bin, out };
}
