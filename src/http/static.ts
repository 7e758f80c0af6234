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
  wantsHtml = false,
): void {
  let body: Buffer;
  let type: string;
  if (path === "/favicon.svg" || path === "/favicon.ico") {
    body = favicon(project);
    type = "image/svg+xml";
  } else {
    const entry = FILES[path];
    if (entry === undefined) {
      // A browser gets a page it can show; a program keeps the JSON error.
      if (wantsHtml) {
        notFoundPage(res, path, project, headers);
        return;
      }
      throw new BatonError("NOT_FOUND", `no page ${path.slice(0, 100)}`);
    }
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

/** Whether a request's Accept header asks for HTML (a browser opening an address). */
export function acceptsHtml(accept: string | undefined): boolean {
  return accept !== undefined && /(^|,)\s*text\/html\b/i.test(accept);
}

/**
 * A page of its own (a title, a language, a heading, the CSP), for a browser that cannot have the
 * dashboard. `project` names the project in the title; undefined for a caller not signed in, who
 * is told nothing about the ledger.
 */
function htmlPage(
  res: ServerResponse,
  status: number,
  title: string,
  body: string,
  project: string | undefined,
  headers: Readonly<Record<string, string>>,
): void {
  const name = project === undefined ? "" : ` · ${escapeHtml(basename(project) || project)}`;
  const page = Buffer.from(
    `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
      `<title>${escapeHtml(title)} · baton${name}</title></head><body><main><h1>${escapeHtml(title)}</h1>` +
      `${body}</main></body></html>\n`,
  );
  res.writeHead(status, {
    ...headers,
    "content-type": "text/html; charset=utf-8",
    "content-length": page.length,
    "content-security-policy": CSP,
  });
  res.end(page);
}

/** `404` as a page with a way back, for a browser at an unknown address. */
function notFoundPage(
  res: ServerResponse,
  path: string,
  project: string,
  headers: Readonly<Record<string, string>>,
): void {
  htmlPage(
    res,
    404,
    "Page not found",
    `<p>There is no page at <code>${escapeHtml(path.slice(0, 200))}</code>. <a href="/">Open the dashboard</a>.</p>`,
    project,
    headers,
  );
}

/**
 * Why a browser was refused (401): its session ended (the token it came from was rotated), the
 * link's token is not this server's (an old link after a rotation), or it showed nothing.
 */
export type Refusal = "session-ended" | "old-link" | "no-token";

const NEW_LINK =
  "<p>Run <code>baton dashboard</code> in the project for a new link and open it " +
  "(<code>baton dashboard --read-only</code> for a viewer's link). A restart of the daemon does not end a session: a new token does, and 12 hours without an open page.</p>";

const REFUSALS: Record<Refusal, { title: string; body: string }> = {
  "session-ended": {
    title: "Dashboard session ended",
    body: "<p>This dashboard session has ended: the token it was opened with was replaced (<code>baton token rotate</code>), or no page of it was open for 12 hours, so this server no longer accepts it.</p>",
  },
  "old-link": {
    title: "This link no longer works",
    body: "<p>The token in this link is not this server's: the tokens were replaced (<code>baton token rotate</code>) since the link was made, or the link is another server's.</p>",
  },
  "no-token": {
    title: "This dashboard wants its token",
    body: "<p>Open it with the link <code>baton dashboard</code> prints: the link carries the token once, and this browser then keeps a session.</p>",
  },
};

/**
 * `401` as a page saying why and how to get back in, for a browser navigation (`Accept:
 * text/html`); programs get the JSON error instead. It names no project: the caller is not
 * signed in.
 */
export function unauthorizedPage(
  res: ServerResponse,
  refusal: Refusal,
  headers: Readonly<Record<string, string>>,
): void {
  const { title, body } = REFUSALS[refusal];
  htmlPage(res, 401, title, `${body}${NEW_LINK}`, undefined, headers);
}
