import assert from "node:assert/strict";
import { test } from "node:test";

import { appendBounded, niceCeiling, plot, ratesPerSecond, series } from "../../src/ticketing_web/static/js/chart.js";

test("the history keeps only the newest samples", () => {
  let history = [];
  for (let at = 0; at < 5; at += 1) history = appendBounded(history, { at, waiting: at }, 3);
  assert.deepEqual(history.map((sample) => sample.at), [2, 3, 4]);
});

test("a series skips samples without the figure (no waiting room yet)", () => {
  const history = [{ at: 0, waiting: null }, { at: 1000, waiting: 4 }];
  assert.deepEqual(series(history, "waiting"), [{ at: 1000, value: 4 }]);
});

test("bookings per second come from a counter's growth between samples", () => {
  const history = [{ at: 0, bookings: 10 }, { at: 2000, bookings: 30 }, { at: 3000, bookings: 25 }, { at: 4000, bookings: 26 }];
  assert.deepEqual(ratesPerSecond(history, "bookings"), [
    { at: 2000, value: 10 }, { at: 3000, value: 0 }, { at: 4000, value: 1 },
  ]);
  assert.deepEqual(ratesPerSecond(history.slice(0, 1), "bookings"), []);
});

test("the scale's top is a round number at or above the highest value", () => {
  assert.equal(niceCeiling(0), 1);
  assert.equal(niceCeiling(7), 10);
  assert.equal(niceCeiling(10), 10);
  assert.equal(niceCeiling(12), 20);
  assert.equal(niceCeiling(0.3), 0.5);
  assert.equal(niceCeiling(4500), 5000);
});

test("points go oldest left to newest right, higher values higher up", () => {
  const { max, coordinates, path } = plot(
    [{ at: 0, value: 0 }, { at: 500, value: 5 }, { at: 1000, value: 10 }],
    { width: 110, height: 60, padding: 5 });
  assert.equal(max, 10);
  assert.deepEqual(coordinates.map(({ x, y }) => [x, y]), [[5, 55], [55, 30], [105, 5]]);
  assert.equal(path, "M5 55 L55 30 L105 5");
  assert.deepEqual(plot([], { width: 10, height: 10 }).coordinates, []);
});
