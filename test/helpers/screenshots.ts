/**
 * Where the dashboard tests put their screenshots: the README's (docs/images) only when asked
 * (`npm run screenshots`, BATON_UPDATE_SCREENSHOTS=1); else a temp folder, so that a test run does
 * not rewrite tracked files (every run changed the 12 PNGs a little).
 */
import { join } from "node:path";
import { ROOT } from "./cli.js";
import { tempDir } from "./tmp.js";

export const SCREENSHOTS =
  process.env.BATON_UPDATE_SCREENSHOTS === "1" ? join(ROOT, "docs", "images") : tempDir("baton-screenshots-");
