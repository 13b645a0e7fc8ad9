import assert from "node:assert/strict";
import { test } from "node:test";

import {
  availabilityLabel, errorMessage, isFinal, keepRecent, localInputToIso, ratePerSecond, saleSummary, statusText,
} from "../../src/ticketing_web/static/js/format.js";

test("a rate limit reads as a wait, with the seconds from Retry-After", () => {
  assert.equal(errorMessage(429, { error_type: "rate_limited" }, "7"),
    "Lots of people are trying right now. Please wait 7 seconds and try again.");
  assert.match(errorMessage(429, {}, null), /wait a moment/);
});

test("sold out reads as sold out, not as a conflict", () => {
  assert.equal(errorMessage(409, { error_type: "sold_out", detail: "x" }), "Sorry, these tickets are sold out.");
});

test("validation problems name the field", () => {
  const body = { error_type: "validation_error", errors: [{ field: "body.quantity", message: "must be at most 10" }] };
  assert.equal(errorMessage(422, body), "quantity: must be at most 10");
});

test("an outage asks to try again later", () => {
  assert.match(errorMessage(503, {}, "2"), /try again in 2 seconds/);
});

test("availability labels", () => {
  assert.equal(availabilityLabel({ available: 0, sold_out: true }), "Sold out");
  assert.equal(availabilityLabel({ available: 3, sold_out: false }), "Only 3 left");
  assert.equal(availabilityLabel({ available: 40, sold_out: false }), "40 available");
});

test("final statuses and their explanations", () => {
  assert.ok(isFinal("CONFIRMED"));
  assert.ok(!isFinal("PENDING"));
  assert.match(statusText("REJECTED", "payment_declined"), /declined/);
  assert.match(statusText("CONFIRMED"), /^Confirmed/);
});

test("confirmed bookings per second over the recent window", () => {
  let samples = [];
  samples = keepRecent(samples, { at: 0, confirmed: 0 });
  assert.equal(ratePerSecond(samples), null);
  samples = keepRecent(samples, { at: 1000, confirmed: 5 });
  samples = keepRecent(samples, { at: 2000, confirmed: 20 });
  assert.equal(ratePerSecond(samples), 10);
  samples = keepRecent(samples, { at: 20000, confirmed: 20 });
  assert.deepEqual(samples.map((sample) => sample.at), [20000]);
});

test("sale summary adds up ticket types and knows when all are sold out", () => {
  const summary = saleSummary({ ticket_types: [
    { quantity: 5, sold: 5, reserved: 0, available: 0, sold_out: true },
    { quantity: 3, sold: 1, reserved: 1, available: 1, sold_out: false },
  ] });
  assert.deepEqual(summary, { quantity: 8, sold: 6, reserved: 1, soldOut: false });
});

test("a datetime-local value becomes an ISO time in UTC", () => {
  assert.equal(localInputToIso("2031-06-01T19:30"), "2031-06-01T19:30:00Z");
});
