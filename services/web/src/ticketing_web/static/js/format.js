// Pure presentation rules, shared by the shop and the console (unit-tested with node --test).

export const FINAL_STATUSES = new Set(["CONFIRMED", "REJECTED", "CANCELLED", "EXPIRED"]);

export const PAYMENT_TEST_CARDS = [
  { value: "tok_visa", label: "Test Visa card: payment succeeds (tok_visa)" },
  { value: "tok_chargeDeclined", label: "Test card that is declined (tok_chargeDeclined)" },
];

export function isFinal(status) {
  return FINAL_STATUSES.has(status);
}

export function money(amount, currency) {
  const value = Number(amount);
  if (!Number.isFinite(value)) return `${amount} ${currency ?? ""}`.trim();
  try {
    return new Intl.NumberFormat("en-GB", { style: "currency", currency: currency || "EUR" }).format(value);
  } catch {
    return `${value.toFixed(2)} ${currency}`;
  }
}

export function dateTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return date.toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" }) + " UTC";
}

export function availabilityLabel(ticketType) {
  if (!ticketType) return "";
  if (ticketType.sold_out || ticketType.available <= 0) return "Sold out";
  if (ticketType.available < 10) return `Only ${ticketType.available} left`;
  return `${ticketType.available} available`;
}

const STATUS_TEXT = {
  PENDING: "Pending: we are reserving your tickets…",
  CONFIRMED: "Confirmed: your tickets are booked.",
  REJECTED: "Rejected: the booking did not go through.",
  CANCELLED: "Cancelled: your payment is refunded in full and the tickets went back on sale.",
  EXPIRED: "Your hold expired; the tickets went back on sale.",
};

const REASON_TEXT = {
  sold_out: "Those tickets sold out before your booking was reserved.",
  not_enough_tickets: "Not enough tickets were left for that quantity.",
  event_not_on_sale: "That event is not on sale.",
  payment_declined: "Your card was declined. No money was taken.",
  event_cancelled: "The event was cancelled; nothing stays charged.",
  hold_expired: "", // the EXPIRED text says it
};

export function statusText(status, reason) {
  const text = STATUS_TEXT[status] ?? status;
  const why = reason ? REASON_TEXT[reason] ?? `Reason: ${reason.replaceAll("_", " ")}.` : "";
  return why ? `${text} ${why}` : text;
}

function seconds(retryAfter) {
  const value = Number.parseInt(retryAfter ?? "", 10);
  return Number.isFinite(value) && value > 0 ? value : null;
}

// What a person should read for a failed request: never a raw status code alone.
export function errorMessage(status, body, retryAfter) {
  const type = body?.error_type;
  const detail = typeof body?.detail === "string" ? body.detail : null;
  if (status === 429) {
    const wait = seconds(retryAfter);
    return wait
      ? `Lots of people are trying right now. Please wait ${wait} second${wait === 1 ? "" : "s"} and try again.`
      : "Lots of people are trying right now. Please wait a moment and try again.";
  }
  if (type === "sold_out" || (status === 409 && /sold out/i.test(detail ?? ""))) {
    return "Sorry, these tickets are sold out.";
  }
  if (type === "not_on_sale") return notOnSaleText(body);
  const ticketTypeChange = ticketTypeChangeText(type, body);
  if (ticketTypeChange) return ticketTypeChange;
  if (type === "purchase_limit_reached") return purchaseLimitText(body);
  if (type === "not_admitted") {
    return "Bookings for this event go through its queue, and your turn has not come or has ended. "
      + "Join the queue to get your turn.";
  }
  if (type === "waiting_room_not_open" && body.opens_at) {
    return `The queue for this event opens on ${shortDateTime(body.opens_at)}.`;
  }
  if (status === 401) return "Please log in to continue.";
  if (status === 403 && type === "csrf_failed") return "Your session is out of date: reload the page and try again.";
  if (status === 403) return "You are not allowed to do that.";
  if (status === 404) return "We could not find that. It may have been removed.";
  if (status === 503 || status === 502) {
    const wait = seconds(retryAfter);
    return `The ticket service is busy or restarting. Please try again${wait ? ` in ${wait} seconds` : " shortly"}.`;
  }
  if (status === 422 || status === 400 || status === 409) {
    if (Array.isArray(body?.errors) && body.errors.length) {
      return body.errors
        .map((error) => `${String(error.field ?? "").split(".").pop() || "input"}: ${error.message ?? error.msg}`)
        .join("; ");
    }
    if (Array.isArray(body?.detail)) {
      return body.detail.map((error) => `${(error.loc ?? []).slice(-1)[0] ?? "input"}: ${error.msg}`).join(" ");
    }
    if (Array.isArray(body?.reasons) && body.reasons.length) return body.reasons.join(" ");
    return detail ?? "Please check what you entered.";
  }
  return detail ?? `Something went wrong (${status}). Please try again.`;
}

// Confirmed bookings per second between the first and last of recent samples
// ({at: milliseconds, confirmed: count}); null until two samples span some time.
export function ratePerSecond(samples, windowMs = 5000) {
  if (samples.length < 2) return null;
  const last = samples[samples.length - 1];
  const first = samples.find((sample) => last.at - sample.at <= windowMs) ?? samples[0];
  const elapsed = (last.at - first.at) / 1000;
  if (elapsed <= 0) return null;
  return Math.max(0, (last.confirmed - first.confirmed) / elapsed);
}

export function keepRecent(samples, sample, windowMs = 10000) {
  return [...samples, sample].filter((kept) => sample.at - kept.at <= windowMs);
}

export function saleSummary(sale) {
  const types = sale?.ticket_types ?? [];
  const quantity = types.reduce((sum, type) => sum + type.quantity, 0);
  const sold = types.reduce((sum, type) => sum + type.sold, 0);
  const reserved = types.reduce((sum, type) => sum + type.reserved, 0);
  return { quantity, sold, reserved, soldOut: types.length > 0 && types.every((type) => type.sold_out || type.available <= 0) };
}

// A datetime-local value (no zone; read as UTC in the console) as an ISO string with offset.
export function localInputToIso(value) {
  if (!value) return "";
  const withSeconds = value.length === 16 ? `${value}:00` : value;
  return `${withSeconds}Z`;
}

// A datetime-local value for an ISO time, in UTC (the console's inputs are UTC).
export function isoToLocalInput(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : date.toISOString().slice(0, 16);
}

// "Fri 12 Dec, 10:00 UTC": the day a sale opens, short enough for a ticket type's line.
export function shortDateTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return `${date.toLocaleString("en-GB", {
    weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: "UTC",
  })} UTC`;
}

const at = (iso) => (iso ? new Date(iso).getTime() : null);

// Where `now` (ms) is against a sale window ({sale_starts_at, sale_ends_at}, null: no bound).
export function saleState(window, now = Date.now()) {
  const starts = at(window?.sale_starts_at);
  const ends = at(window?.sale_ends_at);
  if (starts !== null && now < starts) return "upcoming";
  if (ends !== null && now >= ends) return "ended";
  return "open";
}

// A sale window in words; null when there is nothing to say (on sale, no end).
export function saleWindowText(window, now = Date.now()) {
  const state = saleState(window, now);
  if (state === "upcoming") return `On sale from ${shortDateTime(window.sale_starts_at)}`;
  if (state === "ended") return "Sale ended";
  return window?.sale_ends_at ? `On sale until ${shortDateTime(window.sale_ends_at)}` : null;
}

function plural(count, word) {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

// Time left before a moment, in words, to the second when it is near: "2 days 5 hours",
// "1 hour 2 minutes", "4 minutes 5 seconds", "9 seconds".
export function countdownText(milliseconds) {
  const total = Math.ceil(Math.max(0, milliseconds) / 1000);
  if (total === 0) return "now";
  const days = Math.floor(total / 86400);
  const hours = Math.floor((total % 86400) / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  if (days) return hours ? `${plural(days, "day")} ${plural(hours, "hour")}` : plural(days, "day");
  if (hours) return minutes ? `${plural(hours, "hour")} ${plural(minutes, "minute")}` : plural(hours, "hour");
  if (minutes) return seconds ? `${plural(minutes, "minute")} ${plural(seconds, "second")}` : plural(minutes, "minute");
  return plural(seconds, "second");
}

// An estimated wait in words, rounded up to the minute (an estimate: never to the second).
export function waitText(seconds) {
  if (seconds === null || seconds === undefined) return null;
  if (seconds < 60) return "less than a minute";
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 60) return `about ${plural(minutes, "minute")}`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return `about ${plural(hours, "hour")}${rest ? ` ${plural(rest, "minute")}` : ""}`;
}

// A purchase limit in words; null when there is none.
export function limitText(limit, scope = "event") {
  if (!limit) return null;
  return scope === "ticket_type"
    ? `Up to ${limit} of these per person`
    : `Up to ${plural(limit, "ticket")} per person`;
}

function notOnSaleText(body, now = Date.now()) {
  const state = saleState(body, now);
  if (state === "upcoming") return `These tickets are not on sale yet: the sale opens on ${shortDateTime(body.sale_starts_at)}.`;
  if (body?.sale_ends_at && state === "ended") return "The sale of these tickets has ended.";
  return "These tickets are not on sale right now.";
}

function purchaseLimitText(body) {
  const limit = body?.max_tickets_per_account;
  const held = body?.tickets_held_or_bought;
  if (!limit) return "You have reached the most tickets one person may buy.";
  const what = body.limit_scope === "ticket_type" ? "of this ticket type" : "for this event";
  const left = held === null || held === undefined ? null : Math.max(0, limit - held);
  const already = left === null ? "" : ` and you already have ${held}`;
  const more = left === null ? "" : left ? `: you can book ${left} more` : ": you cannot book more";
  return `Each person may have up to ${plural(limit, "ticket")} ${what}${already}${more}.`;
}

// A hold's or an offer's time left as a clock: "9:41", "1:02:05", "0:00" once it is over.
export function clockText(milliseconds) {
  const total = Math.ceil(Math.max(0, milliseconds) / 1000);
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = String(total % 60).padStart(2, "0");
  return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${seconds}` : `${minutes}:${seconds}`;
}

// A fan's waitlist entry in words (its state, and its place while it waits).
export function waitlistPlaceText(entry) {
  switch (entry.state) {
    case "waiting":
      return entry.position === 1
        ? "You are next on the waitlist. We will e-mail you when tickets come back."
        : `You are number ${entry.position} on the waitlist. We will e-mail you when tickets come back.`;
    case "offered": return "Tickets are held for you: book them before the offer runs out.";
    case "accepted": return "You booked the tickets offered to you.";
    case "declined": return "You declined the tickets offered to you.";
    case "expired": return "The offer ran out before it was booked; you are off the waitlist.";
    case "left": return "You left the waitlist.";
    case "cancelled": return "This waitlist ended: the event or its ticket type is gone.";
    default: return entry.state;
  }
}

export const isOpenWaitlistEntry = (entry) => entry.state === "waiting" || entry.state === "offered";

// The refusals of the waitlist and of a ticket type's changes, in words (null: not one of them).
function ticketTypeChangeText(type, body) {
  const taken = (figures) => `${figures.sold} sold, ${figures.held} held, ${figures.offered} offered`;
  switch (type) {
    case "quantity_below_taken":
      return `${taken(body)}: the quantity cannot go below ${body.sold + body.held + body.offered}.`;
    case "ticket_type_in_use":
      return `${taken(body)}: a ticket type can only be removed while nothing of it was ever sold and none is held or offered. Close its sales instead.`;
    case "last_ticket_type":
      return "An event keeps at least one ticket type: add another before removing this one.";
    case "sales_closed":
      return "The organiser has closed the sales of these tickets.";
    case "offer_not_valid":
      return "This offer can no longer be booked: it ran out, was declined, or is for other tickets.";
    case "not_sold_out":
      return "These tickets are not sold out: book them directly instead of joining the waitlist.";
    case "no_open_offer":
      return "There is no open offer to decline: it ran out or was booked.";
    default:
      return null;
  }
}
