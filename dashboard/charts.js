// Charts as inline SVG built in the page: no library, no CDN, colours from the stylesheet.

const SVG = "http://www.w3.org/2000/svg";

function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children) el.append(c);
  return el;
}

const sum = (xs) => xs.reduce((a, b) => a + b, 0);

/** The stacked series, bottom up: class (colour in app.css) and the word in texts and the legend. */
const SERIES = [
  ["done", "done"],
  ["failed", "failed"],
  ["cancelled", "cancelled"],
];

/**
 * Jobs finished per hour over the last 24 hours, as stacked bars: done (succeeded, skipped),
 * failed (failed, timed out) and cancelled (nobody's failure: its own colour). `hours` are the ISO
 * starts of the buckets, oldest first; `series` is {done, failed, cancelled}: number[] each. Each
 * bar says its numbers on hover; the whole chart has one text alternative.
 */
export function throughputChart(hours, series, label, small = false) {
  const width = small ? 120 : 720;
  const height = small ? 24 : 120;
  const axis = small ? 0 : 16;
  const at = (key, i) => series[key]?.[i] ?? 0;
  const inHour = (i) => SERIES.reduce((n, [key]) => n + at(key, i), 0);
  const max = Math.max(1, ...hours.map((_, i) => inHour(i)));
  const bar = width / hours.length;
  const scale = (height - axis - 2) / max;
  const totals = Object.fromEntries(SERIES.map(([key]) => [key, sum(series[key] ?? [])]));
  const words = (n) => SERIES.map(([key, word]) => `${n(key)} ${word}`).join(", ");
  const summary = `${label}, last 24 hours: ${words((k) => totals[k])}${small ? "" : `, at most ${max} in an hour`}`;
  const bars = hours.map((start, i) => {
    const hour = new Date(start);
    const text = `${hour.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}: ${words((k) => at(k, i))}`;
    const x = i * bar + 1;
    const w = Math.max(1, bar - 2);
    let top = height - axis;
    const rects = [];
    for (const [key] of SERIES) {
      const n = at(key, i);
      if (n === 0) continue;
      top -= n * scale;
      rects.push(s("rect", { x, y: top, width: w, height: n * scale, class: key }));
    }
    return s(
      "g",
      { class: "bar" },
      s("title", {}, text),
      // A transparent full-height hit area, so hovering an empty hour shows its numbers too.
      s("rect", { x: i * bar, y: 0, width: bar, height: height - axis, class: "hit" }),
      ...rects,
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
      "data-done": totals.done,
      "data-failed": totals.failed,
      "data-cancelled": totals.cancelled,
    },
    s("title", {}, summary),
    s("line", { x1: 0, x2: width, y1: height - axis, y2: height - axis, class: "axis" }),
    ...bars,
    ...ticks,
  );
}

/** What the colours of the charts mean (beside the big chart; the sparklines use the same). */
export function chartLegend() {
  const ul = document.createElement("ul");
  ul.className = "legend";
  ul.id = "chart-legend";
  for (const [key, word] of SERIES) {
    const li = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = `swatch ${key}`;
    swatch.setAttribute("aria-hidden", "true");
    li.append(swatch, word);
    ul.append(li);
  }
  return ul;
}
