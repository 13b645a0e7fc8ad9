// Line charts of a sale over time, drawn as inline SVG: a bounded history of samples, the
// series derived from it, and the drawing. The history and geometry are pure (node tests).

// The newest `limit` samples, `sample` last.
export function appendBounded(history, sample, limit = 120) {
  const kept = [...history, sample];
  return kept.length > limit ? kept.slice(kept.length - limit) : kept;
}

// [{at, value}] of `key` in each sample that has it.
export function series(history, key) {
  return history
    .filter((sample) => sample[key] !== null && sample[key] !== undefined)
    .map((sample) => ({ at: sample.at, value: sample[key] }));
}

// How fast a counter `key` grew between consecutive samples, per second (never below 0:
// a counter read from a lagging replica may step back).
export function ratesPerSecond(history, key) {
  const rates = [];
  for (let index = 1; index < history.length; index += 1) {
    const before = history[index - 1];
    const after = history[index];
    const seconds = (after.at - before.at) / 1000;
    if (seconds <= 0 || before[key] == null || after[key] == null) continue;
    rates.push({ at: after.at, value: Math.max(0, (after[key] - before[key]) / seconds) });
  }
  return rates;
}

// The smallest 1, 2 or 5 times a power of ten at or above `value` (1 for nothing).
export function niceCeiling(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((step) => step * power).find((candidate) => candidate >= value - 1e-9);
}

// Where each point goes in a box: time across (oldest left, newest right), value up from 0.
export function plot(points, { width, height, padding = 4, spanMs = null }) {
  const max = niceCeiling(Math.max(0, ...points.map((point) => point.value)));
  if (!points.length) return { max, coordinates: [], path: "" };
  const last = points[points.length - 1].at;
  const span = spanMs ?? Math.max(1, last - points[0].at);
  const innerWidth = width - 2 * padding;
  const innerHeight = height - 2 * padding;
  const coordinates = points.map((point) => ({
    ...point,
    x: round(padding + innerWidth * Math.max(0, 1 - (last - point.at) / span)),
    y: round(padding + innerHeight * (1 - point.value / max)),
  }));
  const path = coordinates.map((point, index) => `${index ? "L" : "M"}${point.x} ${point.y}`).join(" ");
  return { max, coordinates, path };
}

function round(value) {
  return Math.round(value * 10) / 10;
}

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== null && value !== undefined) element.setAttribute(name, String(value));
  }
  element.append(...children.flat().filter((child) => child !== null && child !== undefined));
  return element;
}

const WIDTH = 320;
const HEIGHT = 120;

// A titled chart: `points` [{at, value}], `format` turns a value into text. Screen readers
// get the title and the latest value from its label; the points carry their values too.
export function lineChart({ id, title, points, format = String, spanMs }) {
  const { max, coordinates, path } = plot(points, { width: WIDTH, height: HEIGHT, padding: 6, spanMs });
  const latest = points.length ? format(points[points.length - 1].value) : "no data yet";
  const label = `${title}: now ${latest}, over the last ${points.length} samples (scale up to ${format(max)})`;
  const figure = document.createElement("figure");
  figure.className = "chart";
  figure.id = id;
  figure.dataset.latest = points.length ? String(points[points.length - 1].value) : "";
  const caption = document.createElement("figcaption");
  caption.append(`${title}: `, Object.assign(document.createElement("strong"), { textContent: latest }));
  figure.append(caption, svg("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-label": label, class: "chart-plot" },
    svg("title", {}, label),
    svg("line", { x1: 6, x2: WIDTH - 6, y1: HEIGHT - 6, y2: HEIGHT - 6, class: "chart-axis" }),
    svg("text", { x: 8, y: 16, class: "chart-scale" }, format(max)),
    path ? svg("path", { d: path, class: "chart-line" }) : null,
    coordinates.map((point) => svg("circle", { cx: point.x, cy: point.y, r: 2.5, class: "chart-point", "data-value": point.value }))));
  return figure;
}
