/**
 * The dashboard's files: plain HTML, CSS and JavaScript in `dashboard/` at the package root,
 * shipped in the package and served from memory (no CDN, no build step, nothing fetched at run
 * time). The page title and the favicon's colour are the project's, so two dashboards in two tabs
 * are told apart at a glance.
 */
import { createHash } from "node:crypto";
import type { ServerResponse } from "node:http";
import { readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { BatonError } from "../core/errors.js";
import { packageRoot } from "../store/sql-files.js";

const FILES: Record<string, { file: string; type: string }> = {
  "/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/app.js": { file: "app.js", type: "text/javascript; charset=utf-8" },
  "/app.css": { file: "app.css", type: "text/css; charset=utf-8" },
  "/lib.js": { file: "lib.js", type: "text/javascript; charset=utf-8" },
  "/lists.js": { file: "lists.js", type: "text/javascript; charset=utf-8" },
  "/job.js": { file: "job.js", type: "text/javascript; charset=utf-8" },
  "/workflows.js": { file: "workflows.js", type: "text/javascript; charset=utf-8" },
  "/tasks.js": { file: "tasks.js", type: "text/javascript; charset=utf-8" },
  "/agents.js": { file: "agents.js", type: "text/javascript; charset=utf-8" },
  "/charts.js": { file: "charts.js", type: "text/javascript; charset=utf-8" },
  "/cron.js": { file: "cron.js", type: "text/javascript; charset=utf-8" },
};

/** Scripts, styles and requests only from this origin; no frames, no inline script. */
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const cache = new Map<string, Buffer>();

function load(file: string): Buffer {
  let content = cache.get(file);
  if (content === undefined) {
    content = readFileSync(join(packageRoot(), "dashboard", file));
    cache.set(file, content);
  }
  return content;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A hue (0-359) that is stable per project. */
export function projectHue(project: string): number {
  return createHash("sha256").update(project).digest().readUInt16BE(0) % 360;
}

function favicon(project: string): Buffer {
  const hue = projectHue(project);
  return Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="hsl(${hue} 65% 45%)"/>` +
      `<path d="M9 23 L23 9" stroke="#fff" stroke-width="4" stroke-linecap="round"/></svg>`,
  );
}

export function serveStatic(
  res: ServerResponse,
  path: string,
  project: string,
  headers: Readonly<Record<string, string>>,
): void {
  let body: Buffer;
  let type: string;
  if (path === "/favicon.svg" || path === "/favicon.ico") {
    body = favicon(project);
    type = "image/svg+xml";
  } else {
    const entry = FILES[path];
    if (entry === undefined) throw new BatonError("NOT_FOUND", `no page ${path.slice(0, 100)}`);
    body = load(entry.file);
    type = entry.type;
    if (entry.file === "index.html") {
      const name = basename(project) || project;
      body = Buffer.from(
        body
          .toString("utf8")
          .replaceAll("{{PROJECT}}", escapeHtml(name))
          .replaceAll("{{HUE}}", String(projectHue(project))),
      );
    }
  }
  res.writeHead(200, {
    ...headers,
    "content-type": type,
    "content-length": body.length,
    "content-security-policy": CSP,
  });
  res.end(body);
}
