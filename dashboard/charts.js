// Charts as inline SVG built in the page: no library, no CDN, colours from the stylesheet.

const SVG = "http://www.w3.org/2000/svg";

function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children) el.append(c);
  return el;
}

const sum = (xs) => xs.reduce((a, b) => a + b, 0);

/**
 * Jobs finished per hour over the last 24 hours, as stacked bars: done (succeeded, skipped) and
 * failed (failed, timed out, cancelled). `hours` are the ISO starts of the buckets, oldest first;
 * `series` is {done: number[], failed: number[]}. Each bar says its numbers on hover; the whole
 * chart has one text alternative.
 */
export function throughputChart(hours, series, label, small = false) {
  const width = small ? 120 : 720;
  const height = small ? 24 : 120;
  const axis = small ? 0 : 16;
  const max = Math.max(1, ...series.done.map((d, i) => d + series.failed[i]));
  const bar = width / hours.length;
  const scale = (height - axis - 2) / max;
  const done = sum(series.done);
  const failed = sum(series.failed);
  const summary = `${label}, last 24 hours: ${done} done, ${failed} failed${small ? "" : `, at most ${max} in an hour`}`;
  const bars = hours.map((start, i) => {
    const d = series.done[i];
    const f = series.failed[i];
    const hour = new Date(start);
    const text = `${hour.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}: ${d} done, ${f} failed`;
    const x = i * bar + 1;
    const w = Math.max(1, bar - 2);
    const base = height - axis;
    return s(
      "g",
      { class: "bar" },
      s("title", {}, text),
      // A transparent full-height hit area, so hovering an empty hour shows its numbers too.
      s("rect", { x: i * bar, y: 0, width: bar, height: base, class: "hit" }),
      d > 0 ? s("rect", { x, y: base - d * scale, width: w, height: d * scale, class: "done" }) : "",
      f > 0 ? s("rect", { x, y: base - (d + f) * scale, width: w, height: f * scale, class: "failed" }) : "",
    );
  });
  const ticks = small
    ? []
    : hours
        .map((start, i) => [start, i])
        .filter(([, i]) => i % 6 === 0)
        .map(([start, i]) =>
          s(
            "text",
            { x: i * bar + 2, y: height - 3, class: "tick" },
            new Date(start).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }),
          ),
        );
  return s(
    "svg",
    {
      class: small ? "chart spark" : "chart",
      viewBox: `0 0 ${width} ${height}`,
      role: "img",
      "aria-label": summary,
      "data-done": done,
      "data-failed": failed,
    },
    s("title", {}, summary),
    s("line", { x1: 0, x2: width, y1: height - axis, y2: height - axis, class: "axis" }),
    ...bars,
    ...ticks,
  );
}
