import assert from "node:assert/strict";
import { test } from "node:test";

import {
  availabilityLabel, clockText, countdownText, errorMessage, isFinal, isOpenWaitlistEntry, isoToLocalInput, keepRecent, limitText, localInputToIso,
  ratePerSecond, saleState, saleSummary, saleWindowText, shortDateTime, statusText, waitText, waitlistPlaceText,
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

test("an ISO time becomes a datetime-local value in UTC, and back", () => {
  assert.equal(isoToLocalInput("2031-06-01T21:30:00+02:00"), "2031-06-01T19:30");
  assert.equal(isoToLocalInput(null), "");
  assert.equal(localInputToIso(isoToLocalInput("2031-06-01T19:30:00Z")), "2031-06-01T19:30:00Z");
});

const NOW = Date.parse("2025-12-10T09:00:00Z");

test("a sale window in words: before, during and after", () => {
  const window = { sale_starts_at: "2025-12-12T10:00:00Z", sale_ends_at: "2025-12-14T18:30:00Z" };
  assert.equal(shortDateTime(window.sale_starts_at), "Fri 12 Dec, 10:00 UTC");
  assert.equal(saleWindowText(window, NOW), "On sale from Fri 12 Dec, 10:00 UTC");
  assert.equal(saleState(window, NOW), "upcoming");
  assert.equal(saleWindowText(window, Date.parse("2025-12-13T00:00:00Z")), "On sale until Sun 14 Dec, 18:30 UTC");
  assert.equal(saleWindowText(window, Date.parse("2025-12-14T18:30:00Z")), "Sale ended");
  assert.equal(saleState(window, Date.parse("2025-12-14T18:30:00Z")), "ended");
  assert.equal(saleWindowText({ sale_starts_at: null, sale_ends_at: null }, NOW), null);
  assert.equal(saleState({}, NOW), "open");
});

test("a countdown says days and hours far off, minutes and seconds near", () => {
  assert.equal(countdownText((2 * 86400 + 5 * 3600 + 59) * 1000), "2 days 5 hours");
  assert.equal(countdownText(86400 * 1000), "1 day");
  assert.equal(countdownText((3600 + 120) * 1000), "1 hour 2 minutes");
  assert.equal(countdownText((4 * 60 + 5) * 1000), "4 minutes 5 seconds");
  assert.equal(countdownText(8_200), "9 seconds");
  assert.equal(countdownText(1_000), "1 second");
  assert.equal(countdownText(-5), "now");
});

test("an estimated wait reads in rounded-up minutes, never to the second", () => {
  assert.equal(waitText(null), null);
  assert.equal(waitText(0), "less than a minute");
  assert.equal(waitText(59), "less than a minute");
  assert.equal(waitText(61), "about 2 minutes");
  assert.equal(waitText(60), "about 1 minute");
  assert.equal(waitText(3600), "about 1 hour");
  assert.equal(waitText(3600 * 2 + 25 * 60), "about 2 hours 25 minutes");
});

test("purchase limits in words", () => {
  assert.equal(limitText(4), "Up to 4 tickets per person");
  assert.equal(limitText(1), "Up to 1 ticket per person");
  assert.equal(limitText(2, "ticket_type"), "Up to 2 of these per person");
  assert.equal(limitText(null), null);
});

test("a booking outside the sale window says when it opens, or that it ended", () => {
  const early = errorMessage(409, { error_type: "not_on_sale", sale_starts_at: "2999-12-12T10:00:00Z", sale_ends_at: null });
  assert.match(early, /not on sale yet: the sale opens on .* 12 Dec, 10:00 UTC/);
  const late = errorMessage(409, { error_type: "not_on_sale", sale_starts_at: null, sale_ends_at: "2000-01-01T00:00:00Z" });
  assert.equal(late, "The sale of these tickets has ended.");
});

test("a booking past the limit says the limit, what the fan has and what is left", () => {
  const body = { error_type: "purchase_limit_reached", limit_scope: "event", max_tickets_per_account: 4, tickets_held_or_bought: 3 };
  assert.equal(errorMessage(409, body), "Each person may have up to 4 tickets for this event and you already have 3: you can book 1 more.");
  const none = { ...body, limit_scope: "ticket_type", max_tickets_per_account: 2, tickets_held_or_bought: 2 };
  assert.equal(errorMessage(409, none), "Each person may have up to 2 tickets of this ticket type and you already have 2: you cannot book more.");
});

test("a booking without a turn in the queue says to join the queue, not 'not allowed'", () => {
  assert.match(errorMessage(403, { error_type: "not_admitted", detail: "X-Admission-Pass" }), /Join the queue/);
  assert.match(errorMessage(409, { error_type: "waiting_room_not_open", opens_at: "2031-06-01T19:30:00Z" }), /queue for this event opens on .* 1 Jun, 19:30 UTC/);
});

test("a hold's time left reads as a clock", () => {
  assert.equal(clockText(9 * 60_000 + 41_000), "9:41");
  assert.equal(clockText(9 * 60_000 + 40_001), "9:41");
  assert.equal(clockText(3_725_000), "1:02:05");
  assert.equal(clockText(-5), "0:00");
});

test("a lower quantity refused reads with its figures", () => {
  const body = { error_type: "quantity_below_taken", quantity: 20, sold: 12, held: 3, offered: 2 };
  assert.equal(errorMessage(409, body), "12 sold, 3 held, 2 offered: the quantity cannot go below 17.");
  assert.match(errorMessage(409, { ...body, error_type: "ticket_type_in_use" }), /^12 sold, 3 held, 2 offered: a ticket type can only be removed/);
});

test("the waitlist's refusals read in words", () => {
  assert.match(errorMessage(409, { error_type: "not_sold_out" }), /not sold out/);
  assert.match(errorMessage(409, { error_type: "offer_not_valid" }), /can no longer be booked/);
  assert.match(errorMessage(409, { error_type: "sales_closed" }), /closed the sales/);
});

test("a waitlist entry says where the fan is", () => {
  assert.equal(waitlistPlaceText({ state: "waiting", position: 3 }),
    "You are number 3 on the waitlist. We will e-mail you when tickets come back.");
  assert.match(waitlistPlaceText({ state: "waiting", position: 1 }), /^You are next/);
  assert.match(waitlistPlaceText({ state: "expired", position: null }), /off the waitlist/);
  assert.ok(isOpenWaitlistEntry({ state: "offered" }));
  assert.ok(!isOpenWaitlistEntry({ state: "left" }));
});

test("an expired booking says the hold expired", () => {
  assert.equal(statusText("EXPIRED"), "Your hold expired; the tickets went back on sale.");
});
