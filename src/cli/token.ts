/**
 * `baton token show | rotate`: the tokens every network surface of this home requires
 * (src/http/tokens.ts, D42). Printed only to the caller's own terminal or pipe.
 */
import { batonHome } from "../core/paths.js";
import { loadTokens, rotateTokens, tokensPath } from "../http/tokens.js";
import { io } from "./io.js";
import { detectColor, printOk } from "./output.js";

export async function runToken(action: "show" | "rotate", readOnly: boolean, json: boolean): Promise<number> {
  const home = batonHome(io().env);
  const tokens = action === "rotate" ? rotateTokens(home) : loadTokens(home);
  const value = readOnly ? tokens.readOnly! : tokens.full;
  printOk(
    { json, color: !json && detectColor() },
    { token: value, readOnly, file: tokensPath(home), rotated: action === "rotate" },
    () =>
      action === "rotate"
        ? `${value}\nrotated: every baton server of ${home} now wants the new tokens (\`baton token show --read-only\` for the read-only one)`
        : value,
  );
  return 0;
}
